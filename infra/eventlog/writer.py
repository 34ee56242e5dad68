"""Appending audit events: numbered, chained, personal values sealed, in the caller's
transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from domain.audit import Change, FieldChange
from domain.clock import Clock
from domain.ids import new_id
from infra.db.data_keys import FieldCipher
from infra.db.tables import AuditEventRow, SealedValueRow
from infra.eventlog.chain import GENESIS, link, record_of
from infra.eventlog.sealing import REASON_FIELD, TABLE, SealedValue, commit_to

# Why a lock: each event's hash includes its predecessor's, so appends must be serialised.
# A transaction-scoped advisory lock, taken only at commit time (the unit of work buffers
# events until then), keeps the critical section to "read head, insert, commit". Positions
# are assigned under the same lock, so the log has no gaps and log order is commit order.
# COMMIT or ROLLBACK releases the lock; it cannot leak.
LOG_LOCK_KEY = 0x4845_4152_5448  # "HEARTH"

_EVENTS = AuditEventRow.__table__  # type: ignore[attr-defined]
_SEALED = SealedValueRow.__table__  # type: ignore[attr-defined]


class EventLogWriter:
    async def append(
        self, session: AsyncSession, changes: Sequence[Change], clock: Clock, cipher: FieldCipher
    ) -> list[int]:
        """Append the changes as events; returns their positions in the log."""
        pending: list[SealedValue] = []
        bodies = [self._body(change, pending) for change in changes]
        sealed_rows = [await self._seal(cipher, value) for value in pending]

        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOG_LOCK_KEY})
        head = (
            await session.execute(
                select(_EVENTS.c.seq, _EVENTS.c.hash).order_by(_EVENTS.c.seq.desc()).limit(1)
            )
        ).first()
        seq, prev = (head[0], head[1]) if head else (0, GENESIS)
        now = clock.now()  # read under the lock, so log time never runs backwards
        rows: list[dict[str, Any]] = []
        for body in bodies:
            seq += 1
            values = {**body, "seq": seq, "recorded_at": now}
            digest = link(prev, record_of(values))
            rows.append({**values, "prev_hash": prev, "hash": digest})
            prev = digest
        await session.execute(insert(_EVENTS), rows)
        if sealed_rows:
            await session.execute(insert(_SEALED), sealed_rows)
        return [r["seq"] for r in rows]

    def _body(self, change: Change, pending: list[SealedValue]) -> dict[str, Any]:
        draft = _Draft(event_id=new_id(), owner=change.subject.key_owner, pending=pending)
        origin = change.origin
        return {
            "id": draft.event_id,
            "actor_kind": change.actor.kind.value,
            "actor_id": change.actor.id,
            "actor_role": change.role.value,
            "study_id": change.subject.study_id,
            "site_id": change.subject.site_id,
            "participant_id": change.subject.participant_id,
            "entity_type": change.entity_type,
            "entity_id": change.entity_id,
            "action": change.action,
            "fields": [draft.field(f) for f in change.fields],
            "reason": draft.reason(change.reason, public=change.public_reason),
            "origin": {
                "requestId": origin.request_id,
                "appVersion": origin.app_version,
                "deviceId": origin.device_id,
                "deviceTime": origin.device_time.isoformat() if origin.device_time else None,
                "clientAddress": None if change.subject.participant_id else origin.client_address,
            },
        }

    async def _seal(self, cipher: FieldCipher, value: SealedValue) -> dict[str, Any]:
        blob = await cipher.seal(
            value.owner_id, TABLE, value.column, value.event_id, value.plaintext
        )
        return {
            "event_id": value.event_id,
            "field": value.field,
            "side": value.side,
            "owner_id": value.owner_id,
            "sealed": blob,
        }


@dataclass
class _Draft:
    """One event being written: personal values become commitments plus sealed values."""

    event_id: uuid.UUID
    owner: uuid.UUID | None
    pending: list[SealedValue]

    def field(self, change: FieldChange) -> dict[str, Any]:
        if not change.personal:
            return {"field": change.field, "old": change.old, "new": change.new}
        entry: dict[str, Any] = {"field": change.field, "personal": True}
        for side, value in (("old", change.old), ("new", change.new)):
            entry[side] = self._commit(change.field, side, value)
        return entry

    def reason(self, reason: str | None, *, public: bool) -> dict[str, Any] | None:
        # Reasons are free text; when they concern a data subject they are sealed like answers.
        if reason is None:
            return None
        if self.owner is None or public:
            return {"text": reason}
        return {"sealed": self._commit(REASON_FIELD, "new", reason)}

    def _commit(self, field: str, side: str, value: Any) -> str | None:
        if value is None:
            return None
        if self.owner is None:
            raise ValueError(f"personal field {field!r} logged without a data subject")
        commitment, plaintext = commit_to(value)
        self.pending.append(SealedValue(self.event_id, field, side, self.owner, plaintext))
        return commitment
