"""Rules for who acts and what is recorded of it: staff users, the viewer, audit and live events."""

from __future__ import annotations

from api.policy.rules import Rule, guarded, plain
from domain.access import Permission

PEOPLE_RULES: dict[str, dict[str, Rule]] = {
    "StaffUser": plain(
        "id", "email", "name", "status", "createdAt", "lockedUntil", "version", "grants"
    ),
    "Viewer": plain("kind", "id", "grants") | {"participant": guarded(Permission.PARTICIPANT_READ)},
    "AuditEvent": plain(
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
    "LiveEvent": plain("kind", "action", "recordId", "siteId", "participantId", "record"),
}
