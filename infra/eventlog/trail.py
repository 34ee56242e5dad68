"""Reading the audit trail: filtered pages, personal values opened on request, redaction."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Select, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.access import ReadFilter
from domain.audit import JsonValue
from domain.clock import Clock
from domain.pagination import Page, PageRequest
from domain.trail import TrailEvent, TrailField, TrailQuery, TrailValue, ValueState
from infra.crypto.envelope import DecryptionError
from infra.db.data_keys import FieldCipher, key_ids
from infra.db.keyset import keyset_page
from infra.db.tables import AuditChainRow, AuditEventRow, InstallationRow, SealedValueRow
from infra.db.visibility import visible_rows
from infra.eventlog.logs import Log
from infra.eventlog.sealing import REASON_FIELD, TABLE, redaction_ref, reveal

_EVENTS = AuditEventRow.__table__  # type: ignore[attr-defined]
_CHAIN = AuditChainRow.__table__  # type: ignore[attr-defined]
_INSTALLATION = InstallationRow.__table__  # type: ignore[attr-defined]
_SEALED = SealedValueRow.__table__  # type: ignore[attr-defined]
_WITHHELD = TrailValue(ValueState.WITHHELD)


class SqlAuditTrail:
    def __init__(self, session: AsyncSession, cipher: FieldCipher, clock: Clock) -> None:
        self._session = session
        self._cipher = cipher
        self._clock = clock

    async def page(
        self, query: TrailQuery, visible: ReadFilter, request: PageRequest
    ) -> Page[TrailEvent]:
        statement = _filtered(query).where(
            visible_rows(
                visible,
                study=_EVENTS.c.study_id,
                site=_EVENTS.c.site_id,
                participant=_EVENTS.c.participant_id,
            )
        )
        # Ordered as written: an event's position in its log is known only once it is
        # sequenced, and positions of different logs do not compare.
        found = await keyset_page(
            self._session,
            statement,
            [_EVENTS.c.ingest],
            [int],
            request,
            descending=query.newest_first,
        )
        return found.with_items([_event(r._mapping) for r in found.items])

    async def reveal(
        self, events: Sequence[TrailEvent], allowed: Callable[[TrailEvent, uuid.UUID], bool]
    ) -> Sequence[TrailEvent]:
        by_id = {e.id: e for e in events}
        rows = (
            await self._session.execute(select(_SEALED).where(_SEALED.c.event_id.in_(list(by_id))))
        ).all()
        await self._cipher.keys.load(key_ids(r.sealed for r in rows))
        opened: dict[uuid.UUID, dict[tuple[str, str], TrailValue]] = {}
        for row in rows:
            event = by_id[row.event_id]
            if allowed(event, row.owner_id):
                opened.setdefault(row.event_id, {})[(row.field, row.side)] = await self._open(row)
        return [_with_values(e, opened.get(e.id, {})) for e in events]

    async def _open(self, row: Any) -> TrailValue:
        if row.sealed is None:
            return TrailValue(ValueState.REDACTED)
        column = f"{row.field}:{row.side}"
        try:
            text = await self._cipher.open(row.owner_id, TABLE, column, row.event_id, row.sealed)
        except DecryptionError:
            return TrailValue(ValueState.WITHHELD)
        if text is None:
            return TrailValue(ValueState.ERASED)
        return TrailValue(ValueState.REVEALED, reveal(text)[1])

    async def redact(
        self, entity_type: str, entity_id: uuid.UUID, field: str, value: JsonValue
    ) -> Sequence[str]:
        rows = (
            await self._session.execute(
                select(_SEALED)
                .join(_EVENTS, _EVENTS.c.id == _SEALED.c.event_id)
                .where(
                    _EVENTS.c.entity_type == entity_type,
                    _EVENTS.c.entity_id == entity_id,
                    _SEALED.c.field == field,
                    _SEALED.c.sealed.is_not(None),
                )
                .order_by(_EVENTS.c.ingest)
            )
        ).all()
        await self._cipher.keys.load(key_ids(r.sealed for r in rows))
        removed = []
        for row in rows:
            opened = await self._open(row)
            if opened.state != ValueState.REVEALED or opened.value != value:
                continue
            await self._session.execute(
                update(_SEALED)
                .where(
                    _SEALED.c.event_id == row.event_id,
                    _SEALED.c.field == row.field,
                    _SEALED.c.side == row.side,
                )
                .values(sealed=None, redacted_at=self._clock.now())
            )
            removed.append(redaction_ref(row.event_id, row.field, row.side))
        return removed


def _filtered(query: TrailQuery) -> Select[Any]:
    statement = (
        select(_EVENTS, _CHAIN.c.seq, _CHAIN.c.hash, _INSTALLATION.c.id.label("installation"))
        .select_from(_EVENTS.outerjoin(_CHAIN, _CHAIN.c.ingest == _EVENTS.c.ingest))
        .join(_INSTALLATION, text("true"))
    )
    equal = {
        "participant_id": query.participant_id,
        "study_id": query.study_id,
        "site_id": query.site_id,
        "entity_type": query.entity_type,
        "entity_id": query.entity_id,
        "actor_id": query.actor_id,
    }
    for column, value in equal.items():
        if value is not None:
            statement = statement.where(_EVENTS.c[column] == value)
    if query.field is not None:
        statement = statement.where(_EVENTS.c.fields.contains([{"field": query.field}]))
    if query.since is not None:
        statement = statement.where(_EVENTS.c.recorded_at >= query.since)
    if query.until is not None:
        statement = statement.where(_EVENTS.c.recorded_at < query.until)
    return statement


def _value(entry: dict[str, Any], side: str) -> TrailValue:
    if entry.get("personal") and entry.get(side) is not None:
        return _WITHHELD
    return TrailValue(ValueState.PLAIN, entry.get(side))


def _event(row: Any) -> TrailEvent:
    reason = row["reason"]
    return TrailEvent(
        position=row["seq"],
        id=row["id"],
        recorded_at=row["recorded_at"],
        actor_kind=row["actor_kind"],
        actor_id=row["actor_id"],
        actor_role=row["actor_role"],
        study_id=row["study_id"],
        site_id=row["site_id"],
        participant_id=row["participant_id"],
        entity_type=row["entity_type"],
        entity_id=row["entity_id"],
        action=row["action"],
        fields=tuple(
            TrailField(f["field"], bool(f.get("personal")), _value(f, "old"), _value(f, "new"))
            for f in row["fields"]
        ),
        reason=None
        if reason is None or not ({"text", "sealed"} & set(reason))
        else (TrailValue(ValueState.PLAIN, reason["text"]) if "text" in reason else _WITHHELD),
        reason_code=(reason or {}).get("code"),
        origin=row["origin"],
        hash=row["hash"].hex() if row["hash"] is not None else None,
        log=Log(row["installation"], row["log_id"]).origin,
        order=row["ingest"],
    )


def _with_values(event: TrailEvent, opened: dict[tuple[str, str], TrailValue]) -> TrailEvent:
    if not opened:
        return event
    fields = tuple(
        dataclasses.replace(
            f, old=opened.get((f.field, "old"), f.old), new=opened.get((f.field, "new"), f.new)
        )
        for f in event.fields
    )
    reason = opened.get((REASON_FIELD, "new"), event.reason)
    return dataclasses.replace(event, fields=fields, reason=reason)
