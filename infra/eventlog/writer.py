"""Appending audit events: written in the caller's transaction, sequenced later.

The request path inserts each event (its canonical body; the columns are generated from it)
and queues it for the integrator, which gives it a position and a chain hash in its log.
No lock is shared between requests: studies, and requests within a study, write side by
side, and both the change and its events still commit or roll back together.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncSession

from domain.audit import Change, FieldChange
from domain.clock import Clock
from domain.ids import new_id
from infra.db.data_keys import FieldCipher
from infra.db.tables import SealedValueRow
from infra.eventlog.chain import event_body
from infra.eventlog.logs import log_of
from infra.eventlog.sealing import REASON_FIELD, TABLE, SealedValue, commit_to

_SEALED = SealedValueRow.__table__  # type: ignore[attr-defined]
WAKE_CHANNEL = "hearth_audit"
# One wake-up per process at most this often. NOTIFY takes a database-wide lock while its
# transaction commits, so notifying on every write would serialise writers again; the
# integrator also polls, so a wake-up is only ever a shortcut.
WAKE_EVERY_SECONDS = 0.05

_APPEND = text(
    "WITH written AS (INSERT INTO audit_events (body) "
    "SELECT body FROM unnest(CAST(:bodies AS text[])) WITH ORDINALITY AS b(body, n) ORDER BY n "
    "RETURNING ingest) "
    "INSERT INTO audit_pending (ingest) SELECT ingest FROM written"
)


class EventLogWriter:
    def __init__(self) -> None:
        self._woken_at = float("-inf")

    async def append(
        self, session: AsyncSession, changes: Sequence[Change], clock: Clock, cipher: FieldCipher
    ) -> list[uuid.UUID]:
        """Write the changes as events of their logs; returns the event ids."""
        pending: list[SealedValue] = []
        now = clock.now()
        bodies = [self._body(change, pending) | {"recorded_at": now} for change in changes]
        sealed_rows = [await self._seal(cipher, value) for value in pending]
        await session.execute(_APPEND, {"bodies": [event_body(b) for b in bodies]})
        if sealed_rows:
            await session.execute(insert(_SEALED), sealed_rows)
        await self._wake(session)
        return [b["id"] for b in bodies]

    async def _wake(self, session: AsyncSession) -> None:
        # Delivered only if this transaction commits, when its events are there to read.
        moment = time.monotonic()
        if moment - self._woken_at >= WAKE_EVERY_SECONDS:
            self._woken_at = moment
            await session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": WAKE_CHANNEL})

    def _body(self, change: Change, pending: list[SealedValue]) -> dict[str, Any]:
        draft = _Draft(event_id=new_id(), owner=change.subject.key_owner, pending=pending)
        origin = change.origin
        return {
            "log": log_of(change.subject.study_id),
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
            "reason": draft.reason(
                change.reason, public=change.public_reason, code=change.reason_code
            ),
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

    def reason(
        self, reason: str | None, *, public: bool, code: str | None = None
    ) -> dict[str, Any] | None:
        # Reasons are free text; when they concern a data subject they are sealed like answers.
        # The reason code beside it is not personal: it stays readable.
        coded = {"code": code} if code is not None else {}
        if reason is None:
            return coded or None
        if self.owner is None or public:
            return {"text": reason, **coded}
        return {"sealed": self._commit(REASON_FIELD, "new", reason), **coded}

    def _commit(self, field: str, side: str, value: Any) -> str | None:
        if value is None:
            return None
        if self.owner is None:
            raise ValueError(f"personal field {field!r} logged without a data subject")
        commitment, plaintext = commit_to(value)
        self.pending.append(SealedValue(self.event_id, field, side, self.owner, plaintext))
        return commitment
