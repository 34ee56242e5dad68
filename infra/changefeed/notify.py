"""The emitting side of the change feed: one compact NOTIFY per changed record, at commit.

The unit of work calls `emit` inside its transaction, after the events are appended.
PostgreSQL delivers a NOTIFY sent inside a transaction only when that transaction commits,
so a rolled-back change emits nothing. Payloads carry ids only (kind, study, site, record,
action), never personal data: they are visible to anyone who may LISTEN on the database.
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


@dataclass(frozen=True)
class ChangeNotice:
    """One change as the feed carries it: ids and the action only."""

    kind: str
    record_id: uuid.UUID
    action: str
    study_id: uuid.UUID | None = None
    site_id: uuid.UUID | None = None

    def to_payload(self) -> str:
        return json.dumps(
            {
                "kind": self.kind,
                "record": str(self.record_id),
                "action": self.action,
                "study": None if self.study_id is None else str(self.study_id),
                "site": None if self.site_id is None else str(self.site_id),
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
        )


def notices(changes: Iterable[Change]) -> list[ChangeNotice]:
    """The feed's notices for a unit of work's changes: one per record, in order."""
    seen: dict[tuple[str, uuid.UUID], ChangeNotice] = {}
    for change in changes:
        kind = KINDS.get(change.entity_type)
        if kind is None:
            continue
        seen.setdefault(
            (kind, change.entity_id),
            ChangeNotice(
                kind=kind,
                record_id=change.entity_id,
                action=change.action,
                study_id=change.subject.study_id,
                site_id=change.subject.site_id,
            ),
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
