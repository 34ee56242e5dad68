"""Rules for a study's own objects: the study, its sites, design, exports and webhook endpoints."""

from __future__ import annotations

from api.policy.rules import Rule, each, guarded, plain
from domain.access import Permission

STUDY_RULES: dict[str, dict[str, Rule]] = {
    "Study": plain(
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
    "Site": plain("id", "code", "name", "country", "timezone", "createdAt", "contact")
    | {
        "alerts": guarded(Permission.PARTICIPANT_READ),
        "study": guarded(Permission.STUDY_READ),
        "participants": guarded(Permission.PARTICIPANT_READ),
        "devices": guarded(Permission.SITE_READ),
        "compliance": guarded(Permission.PARTICIPANT_READ),
        "notificationReceipts": guarded(Permission.PARTICIPANT_READ),
    },
    "Arm": plain("id", "code", "name", "createdAt"),
    "VisitDefinition": plain("id", "code", "name", "day", "windowBefore", "windowAfter", "modes"),
    "ExportJob": plain(
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
    # An endpoint is seen only with WEBHOOK_MANAGE on its study; its fields follow it.
    "WebhookEndpoint": plain(
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
    ),
}
