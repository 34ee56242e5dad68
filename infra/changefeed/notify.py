"""The emitting side of the change feed: one compact NOTIFY per changed record, at commit.

The unit of work calls `emit` inside its transaction, after the events are appended.
PostgreSQL delivers a NOTIFY sent inside a transaction only when that transaction commits,
so a rolled-back change emits nothing. Payloads carry ids only (kind, study, site,
participant, record, action), never personal data: they are visible to anyone who may
LISTEN on the database.

Besides the kinds of KINDS, a change to a staff account or a participant's account (grants,
status, password, sign-out, session reuse) emits an `access` notice (the account's id, no
site): live subscribers of that account check who they are again at once. It is no event
anyone is shown.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from domain.audit import Change

CHANNEL = "hearth_changes"

# Which audited entities the feed speaks of, and under which kind.
KINDS: dict[str, str] = {
    "DiaryEntry": "diary_entry",
    "Reading": "reading",
    "ReadingBatch": "reading_batch",
    "Visit": "visit",
    "DataQuery": "data_query",
    "ExportJob": "export",
    "Consent": "compliance",
    "Withdrawal": "compliance",
    "Alert": "alert",
}

# Changes after which a live subscriber of that account must be checked again.
ACCESS = "access"
ACCESS_ENTITIES = frozenset({"StaffUser", "Participant"})
_NOT_ACCESS = frozenset({"login_failed", "login_succeeded", "locked"})


@dataclass(frozen=True)
class ChangeNotice:
    """One change as the feed carries it: ids and the action only."""

    kind: str
    record_id: uuid.UUID
    action: str
    study_id: uuid.UUID | None = None
    site_id: uuid.UUID | None = None
    participant_id: uuid.UUID | None = None

    def to_payload(self) -> str:
        return json.dumps(
            {
                "kind": self.kind,
                "record": str(self.record_id),
                "action": self.action,
                "study": None if self.study_id is None else str(self.study_id),
                "site": None if self.site_id is None else str(self.site_id),
                "participant": _text(self.participant_id),
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_payload(cls, payload: str) -> ChangeNotice:
        data = json.loads(payload)
        return cls(
            kind=str(data["kind"]),
            record_id=uuid.UUID(data["record"]),
            action=str(data["action"]),
            study_id=None if data.get("study") is None else uuid.UUID(data["study"]),
            site_id=None if data.get("site") is None else uuid.UUID(data["site"]),
            participant_id=_uuid(data.get("participant")),
        )


def _text(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)


def _uuid(value: object) -> uuid.UUID | None:
    return None if value is None else uuid.UUID(str(value))


def notices(changes: Iterable[Change]) -> list[ChangeNotice]:
    """The feed's notices for a unit of work's changes: one per record, in order."""
    seen: dict[tuple[str, uuid.UUID], ChangeNotice] = {}
    for change in changes:
        kind = KINDS.get(change.entity_type)
        if kind is not None:
            seen.setdefault(
                (kind, change.entity_id),
                ChangeNotice(
                    kind=kind,
                    record_id=change.entity_id,
                    action=change.action,
                    study_id=change.subject.study_id,
                    site_id=change.subject.site_id,
                    participant_id=change.subject.participant_id,
                ),
            )
        if change.entity_type in ACCESS_ENTITIES and change.action not in _NOT_ACCESS:
            seen.setdefault(
                (ACCESS, change.entity_id),
                ChangeNotice(kind=ACCESS, record_id=change.entity_id, action=change.action),
            )
    return list(seen.values())


async def emit(session: AsyncSession, changes: Iterable[Change]) -> int:
    """NOTIFY the feed of `changes` in the session's transaction; returns how many notices."""
    found = notices(changes)
    for notice in found:
        await session.execute(
            text("SELECT pg_notify(:channel, :payload)"),
            {"channel": CHANNEL, "payload": notice.to_payload()},
        )
    return len(found)
