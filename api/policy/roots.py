"""Rules for the root fields: queries, mutations and the one subscription."""

from __future__ import annotations

from api.policy.rules import PUBLIC, SIGNED_IN, Rule, each, either, guarded
from domain.access import Permission

ROOT_RULES: dict[str, dict[str, Rule]] = {
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
    # A stream, never refused per event: each event is left out unless the subscriber holds its
    # kind's read permission on its scope (domain/live.py), checked again for every event. Its
    # cases are the socket's (tests/e2e/test_subscriptions.py), not the HTTP matrix's.
    "Subscription": {"changes": each(Permission.PARTICIPANT_READ)},
}
