"""Which rule guards every GraphQL field: the declaration the authorization matrix checks.

Decisions are made in one place, `domain/access.py`, by the use cases each resolver calls.
This table says, for every field of the schema, which of those decisions applies, so a test
can run every role against every field and compare what the API does with what the policy
says. A field missing from this table fails that test: new fields need a rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from domain import access
from domain.access import Permission


class Kind(StrEnum):
    PUBLIC = "PUBLIC"  # anyone, signed in or not (signing in, enrolment, refresh, viewer)
    SIGNED_IN = "SIGNED_IN"  # any signed-in caller, about themselves (logout, own password)
    GUARDED = "GUARDED"  # the permission on the object's scope (study, site, participant)
    PARENT = "PARENT"  # a plain field: visible exactly when the object holding it is


@dataclass(frozen=True)
class Rule:
    kind: Kind
    permissions: tuple[Permission, ...] = ()  # all of them, on the object's scope
    any_of: bool = False  # one of them is enough (e.g. the participant, or staff for them)
    # A list whose items are left out unless the permission holds on each: never refused.
    # Every other guarded field of an object is refused on its own (null plus an error for
    # that field), so it must be nullable whenever a role that sees the object may lack it.
    per_item: bool = False


PUBLIC = Rule(Kind.PUBLIC)
SIGNED_IN = Rule(Kind.SIGNED_IN)
PARENT = Rule(Kind.PARENT)


def guarded(*permissions: Permission) -> Rule:
    return Rule(Kind.GUARDED, permissions)


def either(*permissions: Permission) -> Rule:
    return Rule(Kind.GUARDED, permissions, any_of=True)


def each(*permissions: Permission) -> Rule:
    """A list showing only the items the permissions allow."""
    return Rule(Kind.GUARDED, permissions, per_item=True)


def _plain(*names: str) -> dict[str, Rule]:
    return dict.fromkeys(names, PARENT)


def identifier(entity_type: str, field: str) -> Rule:
    """A field that identifies a person: the rule `domain/access.py` keeps for it."""
    permission = access.field_permission(entity_type, field)
    if permission is None:
        raise ValueError(f"{entity_type}.{field} is not an identifier in domain/access.py")
    return guarded(permission)


FIELD_RULES: dict[str, dict[str, Rule]] = {
    "Query": {
        "studies": guarded(Permission.STUDY_READ),
        "study": guarded(Permission.STUDY_READ),
        "findParticipantsByContact": guarded(Permission.IDENTIFIERS_READ),
        "auditTrail": guarded(Permission.AUDIT_READ),
        "staffUsers": guarded(Permission.USER_MANAGE),
        "visits": guarded(Permission.PARTICIPANT_READ),
        "dataQueries": guarded(Permission.QUERY_READ),
        "viewer": PUBLIC,
        "exportSigningKey": PUBLIC,  # a public key: verifying needs no account
        "node": guarded(Permission.PARTICIPANT_READ),  # per type: the type's read permission
        "quarantinedReadings": guarded(Permission.PARTICIPANT_READ),  # on the site
        "adverseEvents": guarded(Permission.PARTICIPANT_READ),
        "concomitantMedications": guarded(Permission.PARTICIPANT_READ),
        "protocolDeviations": guarded(Permission.PARTICIPANT_READ),
        # On the event's scope: the participant's own receipts, staff's visible sites.
        "inclusionProof": guarded(Permission.PARTICIPANT_READ),
        "receiptLogKey": PUBLIC,  # a public key: checking a receipt needs no account
        "pushApplicationServerKey": PUBLIC,  # the VAPID public key apps subscribe with
        "alerts": guarded(Permission.PARTICIPANT_READ),  # on the site
    },
    "Mutation": {
        "createStudy": guarded(Permission.STUDY_CREATE),
        "createSite": guarded(Permission.SITE_CREATE),
        "registerParticipant": guarded(Permission.PARTICIPANT_REGISTER),
        "changeParticipantStatus": guarded(Permission.PARTICIPANT_UPDATE),
        "setParticipantContact": guarded(
            Permission.PARTICIPANT_UPDATE, Permission.IDENTIFIERS_READ
        ),
        "redactParticipantContact": guarded(
            Permission.PARTICIPANT_UPDATE, Permission.IDENTIFIERS_READ
        ),
        "eraseParticipant": guarded(Permission.PARTICIPANT_ERASE),
        "issueEnrolmentCode": guarded(Permission.PARTICIPANT_UPDATE),
        "enrolParticipant": PUBLIC,
        "createStaffUser": guarded(Permission.USER_MANAGE),
        "setStaffGrants": guarded(Permission.USER_MANAGE),
        "setStaffUserStatus": guarded(Permission.USER_MANAGE),
        "login": PUBLIC,
        "refreshSession": PUBLIC,
        "logout": SIGNED_IN,
        "changePassword": SIGNED_IN,
        "createArm": guarded(Permission.STUDY_DESIGN),
        "createVisitDefinition": guarded(Permission.STUDY_DESIGN),
        "publishConsentVersion": guarded(Permission.STUDY_DESIGN),
        "signConsent": guarded(Permission.CONSENT_SIGN),
        "countersignConsent": guarded(Permission.RECORD_SIGN),
        "enrolInStudy": guarded(Permission.PARTICIPANT_UPDATE),
        "reportTimezone": guarded(Permission.DATA_SUBMIT),
        "scheduleVisit": guarded(Permission.VISIT_MANAGE),
        "rescheduleVisit": guarded(Permission.VISIT_MANAGE),
        "cancelVisit": guarded(Permission.VISIT_MANAGE),
        "completeVisit": guarded(Permission.VISIT_MANAGE),
        "raiseQuery": guarded(Permission.QUERY_RAISE),
        "answerQuery": guarded(Permission.QUERY_ANSWER),
        "closeQuery": guarded(Permission.QUERY_RAISE),
        "reopenQuery": guarded(Permission.QUERY_RAISE),
        "signRecord": guarded(Permission.RECORD_SIGN),
        "publishQuestionnaire": guarded(Permission.STUDY_DESIGN),
        "createDiarySchedule": guarded(Permission.STUDY_DESIGN),
        # the participant's app, or site staff entering data for them with a reason
        "submitDiaryEntries": either(Permission.DATA_SUBMIT, Permission.DATA_PROXY),
        "correctDiaryEntry": guarded(Permission.DATA_CORRECT),
        "registerDevice": guarded(Permission.DEVICE_MANAGE),
        "assignDevice": guarded(Permission.DEVICE_MANAGE),
        "unassignDevice": guarded(Permission.DEVICE_MANAGE),
        "submitReadings": guarded(Permission.DATA_SUBMIT),
        "deleteReading": guarded(Permission.DATA_CORRECT),
        "startExport": guarded(Permission.EXPORT),
        "acceptQuarantinedReading": guarded(Permission.DATA_CORRECT),
        "rejectQuarantinedReading": guarded(Permission.DATA_CORRECT),
        "cancelExport": guarded(Permission.EXPORT),
        "setStudyRetention": guarded(Permission.STUDY_RETENTION),
        "closeStudy": guarded(Permission.STUDY_RETENTION),
        "purgeStudy": guarded(Permission.STUDY_PURGE),
        "reportAdverseEvent": guarded(Permission.DATA_SUBMIT),
        "recordAdverseEvent": guarded(Permission.DATA_PROXY),
        "confirmAdverseEvent": guarded(Permission.DATA_CORRECT),
        "correctAdverseEvent": guarded(Permission.DATA_CORRECT),
        "reportAdverseEventToSponsor": guarded(Permission.DATA_CORRECT),
        "createWebhookEndpoint": guarded(Permission.WEBHOOK_MANAGE),
        "updateWebhookEndpoint": guarded(Permission.WEBHOOK_MANAGE),
        "setWebhookEndpointEnabled": guarded(Permission.WEBHOOK_MANAGE),
        "deleteWebhookEndpoint": guarded(Permission.WEBHOOK_MANAGE),
        "rotateWebhookSecret": guarded(Permission.WEBHOOK_MANAGE),
        "replayWebhooks": guarded(Permission.WEBHOOK_MANAGE),
        "reportMedication": guarded(Permission.DATA_SUBMIT),
        "recordMedication": guarded(Permission.DATA_PROXY),
        "confirmMedication": guarded(Permission.DATA_CORRECT),
        "correctMedication": guarded(Permission.DATA_CORRECT),
        "recordDeviation": guarded(Permission.DATA_PROXY),
        "resolveDeviation": guarded(Permission.DATA_CORRECT),
        "reclassifyDeviation": guarded(Permission.DATA_CORRECT),
        # The participant's app, about itself only.
        "registerPushSubscription": guarded(Permission.DATA_SUBMIT),
        "removePushSubscription": guarded(Permission.DATA_SUBMIT),
        "acknowledgeNotification": guarded(Permission.DATA_SUBMIT),
        "setAlertRule": guarded(Permission.STUDY_DESIGN),
        "acknowledgeAlert": guarded(Permission.PARTICIPANT_UPDATE),
        "setSiteContact": guarded(Permission.STUDY_DESIGN),
        "setStudyReasonCodes": guarded(Permission.STUDY_DESIGN),
        # the participant's app, or their site's staff for them
        "downloadMyData": either(Permission.DATA_SUBMIT, Permission.DATA_PROXY),
    },
    "Study": _plain(
        "id",
        "code",
        "title",
        "createdAt",
        "status",
        "closedAt",
        "purgedAt",
        "retention",
        "reasonCodes",
    )
    | {
        "sites": each(Permission.SITE_READ),
        "arms": guarded(Permission.STUDY_READ),
        "visitDefinitions": guarded(Permission.STUDY_READ),
        "consentVersions": guarded(Permission.STUDY_READ),
        "questionnaires": guarded(Permission.STUDY_READ),
        "diarySchedules": guarded(Permission.STUDY_READ),
        "exports": guarded(Permission.EXPORT),
        "webhookEndpoints": guarded(Permission.WEBHOOK_MANAGE),
        "alertRules": guarded(Permission.STUDY_READ),
    },
    "Site": _plain("id", "code", "name", "country", "timezone", "createdAt", "contact")
    | {
        "alerts": guarded(Permission.PARTICIPANT_READ),
        "study": guarded(Permission.STUDY_READ),
        "participants": guarded(Permission.PARTICIPANT_READ),
        "devices": guarded(Permission.SITE_READ),
        "compliance": guarded(Permission.PARTICIPANT_READ),
        "notificationReceipts": guarded(Permission.PARTICIPANT_READ),
    },
    "Participant": _plain(
        "id",
        "subjectId",
        "status",
        "timezone",
        "registeredAt",
        "statusChangedAt",
        "erasedAt",
        "version",
        "armId",
        "enrolledOn",
        "studyTitle",
        "siteName",
        "siteContact",
    )
    | {
        "screeningNumber": identifier("Participant", "screening_number"),
        "contact": guarded(Permission.IDENTIFIERS_READ),
        "site": guarded(Permission.SITE_READ),
        "consent": guarded(Permission.PARTICIPANT_READ),
        "visits": guarded(Permission.PARTICIPANT_READ),
        "diaryDue": guarded(Permission.PARTICIPANT_READ),
        "diaryEntries": guarded(Permission.PARTICIPANT_READ),
        "compliance": guarded(Permission.PARTICIPANT_READ),
        "readings": guarded(Permission.PARTICIPANT_READ),
        "readingSummaries": guarded(Permission.PARTICIPANT_READ),
        "notificationReceipts": guarded(Permission.PARTICIPANT_READ),
        "notificationPlan": guarded(Permission.PARTICIPANT_READ),
    },
    "Arm": _plain("id", "code", "name", "createdAt"),
    "VisitDefinition": _plain("id", "code", "name", "day", "windowBefore", "windowAfter", "modes"),
    "Visit": _plain(
        "id",
        "mode",
        "localStart",
        "timezone",
        "startsAt",
        "endsAt",
        "durationMinutes",
        "status",
        "outOfWindow",
        "outcome",
        "completedAt",
        "version",
        "assigneeId",
        "definitionId",
        "signatures",
    )
    | {
        "participant": guarded(Permission.PARTICIPANT_READ),
        "notes": guarded(Permission.IDENTIFIERS_READ),
    },
    "DataQuery": _plain(
        "id",
        "question",
        "status",
        "raisedAt",
        "answer",
        "answeredAt",
        "closedAt",
        "version",
        "recordId",
        "recordType",
        "field",
        "participantId",
    ),
    "DiaryEntry": _plain(
        "id",
        "occurrenceKey",
        "dueAt",
        "questionnaireCode",
        "questionnaireVersion",
        "contentHash",
        "answers",
        "completedAt",
        "receivedAt",
        "timeliness",
        "status",
        "quarantineCode",
        "clockSkewed",
        "version",
        "signatures",
        "consentSuperseded",
        "receipt",
    )
    | {
        "freeText": guarded(Permission.IDENTIFIERS_READ),
        "changeRequests": guarded(Permission.PARTICIPANT_READ),  # reasons: IDENTIFIERS_READ
    },
    "Device": _plain(
        "id", "kinds", "model", "registeredAt", "participantId", "assignedAt", "version"
    )
    | {"serial": identifier("Device", "serial")},
    "Reading": _plain(
        "id",
        "kind",
        "sourceId",
        "deviceId",
        "effectiveStart",
        "effectiveEnd",
        "receivedAt",
        "clockSkewed",
        "deletedAt",
        "components",
        "deviceTime",
        "status",
        "quarantineCode",
        "consentSuperseded",
        "reviewedAt",
    ),
    "ExportJob": _plain(
        "id",
        "format",
        "status",
        "requestedAt",
        "finishedAt",
        "progress",
        "rowsDone",
        "rowsTotal",
        "logPosition",
        "chainHead",
        "manifestSha256",
        "manifestUrl",
        "signatureUrl",
        "error",
        "files",
        "attempts",
        "startedAt",
        "retryAt",
        "filesDeletedAt",
    ),
    "ContactDetails": _plain("fullName", "email", "phone", "dateOfBirth", "address", "version"),
    "StaffUser": _plain(
        "id", "email", "name", "status", "createdAt", "lockedUntil", "version", "grants"
    ),
    "Viewer": _plain("kind", "id", "grants")
    | {"participant": guarded(Permission.PARTICIPANT_READ)},
    "AuditEvent": _plain(
        "position",
        "id",
        "recordedAt",
        "actor",
        "studyId",
        "siteId",
        "participantId",
        "entityType",
        "entityId",
        "action",
        "changes",
        "reason",
        "reasonCode",
        "origin",
        "hash",
        "log",
    ),
}

# An endpoint is seen only with WEBHOOK_MANAGE on its study; its fields follow it.
FIELD_RULES["WebhookEndpoint"] = _plain(
    "id",
    "url",
    "eventTypes",
    "enabled",
    "disabledAt",
    "disabledBecause",
    "failedInARow",
    "createdAt",
    "secretRotatedAt",
    "previousSecretUntil",
    "logPosition",
    "deliveries",
)

FIELD_RULES["AdverseEvent"] = _plain(
    "id",
    "status",
    "reportedBy",
    "reportedAt",
    "recordedAt",
    "reportDueAt",
    "reportedToSponsorAt",
    "reasonCode",
    "version",
    "term",
    "onset",
    "end",
    "ongoing",
    "severity",
    "seriousness",
    "serious",
    "relationship",
    "actionTaken",
    "outcome",
    "lltCode",
    "lltName",
    "ptCode",
    "ptName",
    "overdue",
    "participantId",
    "signatures",
) | {"description": guarded(Permission.IDENTIFIERS_READ)}

FIELD_RULES["ProtocolDeviation"] = _plain(
    "id",
    "category",
    "severity",
    "term",
    "occurredOn",
    "source",
    "triggerType",
    "triggerId",
    "status",
    "resolution",
    "detectedAt",
    "resolvedAt",
    "reasonCode",
    "version",
    "participantId",
)

FIELD_RULES["ConcomitantMedication"] = _plain(
    "id",
    "status",
    "reportedByParticipant",
    "reportedAt",
    "recordedAt",
    "reasonCode",
    "version",
    "name",
    "drugCode",
    "codedName",
    "dose",
    "doseUnit",
    "route",
    "frequency",
    "start",
    "end",
    "ongoing",
    "indication",
    "participantId",
    "signatures",
)
# A stream, never refused per event: each event is left out unless the subscriber holds its
# kind's read permission on its scope (domain/live.py), checked again for every event. Its
# cases are the socket's (tests/e2e/test_subscriptions.py), not the HTTP matrix's.
FIELD_RULES["Subscription"] = {"changes": each(Permission.PARTICIPANT_READ)}
FIELD_RULES["LiveEvent"] = _plain("kind", "action", "recordId", "siteId", "participantId", "record")
SOCKET_FIELDS = frozenset({"Subscription.changes"})

# Types that only carry what a guarded field returned: results, pages, values, tokens.
CARRIERS = frozenset(
    {
        "Alert",
        "AlertRule",
        "AlertSuccess",
        "AlertRuleSuccess",
        "SiteSuccess",
        "DownloadMyDataSuccess",
        "AuditActor",
        "AuditEventConnection",
        "AuditEventEdge",
        "AuditFieldChange",
        "AuditOrigin",
        "AuditValue",
        "Anchor",
        "AnswerProblem",
        "Choice",
        "Compliance",
        "CorrectDiaryEntrySuccess",
        "CreateDiaryScheduleSuccess",
        "DataChangeRequest",
        "DailySummary",
        "DeleteReadingSuccess",
        "DeviceSuccess",
        "DiaryEntryConnection",
        "DiaryEntryEdge",
        "DiaryEntryResult",
        "DiarySchedule",
        "ReminderPolicy",
        "ReminderRule",
        "DueDiary",
        "ExportFile",
        "StartExportSuccess",
        "CancelExportSuccess",
        "LocalizedText",
        "PublishQuestionnaireSuccess",
        "Questionnaire",
        "QuestionnaireItem",
        "ReadingComponent",
        "ReadingConnection",
        "ReadingEdge",
        "ReadingResult",
        "ReviewReadingSuccess",
        "SubmitDiaryEntriesSuccess",
        "SubmitReadingsSuccess",
        "ConsentStatus",
        "ConsentWithdrawal",
        "ConsentText",
        "ConsentVersion",
        "CountersignConsentSuccess",
        "CreateArmSuccess",
        "CreateVisitDefinitionSuccess",
        "DataQueryConnection",
        "DataQueryEdge",
        "DataQuerySuccess",
        "ParticipantSuccess",
        "PublishConsentVersionSuccess",
        "SignConsentSuccess",
        "SignRecordSuccess",
        "Signature",
        "SignedConsent",
        "VisitConnection",
        "VisitEdge",
        "VisitSuccess",
        "ChangeParticipantStatusSuccess",
        "ContactSuccess",
        "CreateSiteSuccess",
        "CreateStudySuccess",
        "Done",
        "EnrolParticipantSuccess",
        "EnrolmentCode",
        "EraseParticipantSuccess",
        "GrantType",
        "IssueEnrolmentCodeSuccess",
        "LoginSuccess",
        "MutationError",
        "PageInfo",
        "ParticipantConnection",
        "ParticipantEdge",
        "RefreshSessionSuccess",
        "RegisterParticipantSuccess",
        "StaffUserConnection",
        "StaffUserEdge",
        "StaffUserSuccess",
        "StudyRetention",
        "StudySuccess",
        "PurgeStudySuccess",
        "AdverseEventSuccess",
        "WebhookAttempt",
        "WebhookDelivery",
        "WebhookSecretSuccess",
        "WebhookEndpointSuccess",
        "DeleteWebhookEndpointSuccess",
        "ReplayWebhooksSuccess",
        "MedicationSuccess",
        "DeviationSuccess",
        "Receipt",
        "InclusionProof",
        "NotificationReceipt",
        "NotificationReceipts",
        "NotificationPlan",
        "PlannedReminder",
        "PushSubscriptionSuccess",
        "RemovePushSubscriptionSuccess",
        "AcknowledgeNotificationSuccess",
    }
)
