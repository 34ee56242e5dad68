"""Repository for webhook endpoints and deliveries; the study's log read as webhook events.

Secrets are sealed with the endpoint's own data key, bound to its row and column. Events
are read from the sequenced log (positions) and pseudonymised: a participant appears only
by the random subject id that exports print.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from domain.ids import StudyId
from domain.webhook_endpoints import (
    AttemptRecord,
    Delivery,
    DeliveryStatus,
    DisabledBecause,
    Secrets,
    WebhookEndpoint,
)
from domain.webhooks import EventType, LoggedEvent, Outcome, entity_types_of
from infra.db.data_keys import FieldCipher
from infra.db.tables import (
    AuditChainRow,
    WebhookAttemptRow,
    WebhookDeliveryRow,
    WebhookEndpointRow,
)

_ENDPOINTS = WebhookEndpointRow.__table__  # type: ignore[attr-defined]
_DELIVERIES = WebhookDeliveryRow.__table__  # type: ignore[attr-defined]
_ATTEMPTS = WebhookAttemptRow.__table__  # type: ignore[attr-defined]
_CHAIN = AuditChainRow.__table__  # type: ignore[attr-defined]
_TABLE = "webhook_endpoints"
OWNER_KIND = "webhook"

_EVENTS_SQL = """
    SELECT c.seq AS position, e.id, e.study_id, e.entity_type, e.entity_id, e.action,
           e.recorded_at, p.subject_id
    FROM audit_chain c
    JOIN audit_events e ON e.ingest = c.ingest
    LEFT JOIN participants p ON p.id = e.participant_id
    WHERE c.log_id = :log AND {where}
    ORDER BY c.seq
    LIMIT :limit
"""
_RANGE = text(
    _EVENTS_SQL.format(
        where="c.seq > :after AND c.seq <= :until AND e.entity_type = ANY(CAST(:types AS text[]))"
    )
)
_ONE = text(_EVENTS_SQL.format(where="e.id = :event"))


class SqlWebhookRepository:
    def __init__(self, session: AsyncSession, cipher: FieldCipher) -> None:
        self._session = session
        self._cipher = cipher

    async def _seal(self, endpoint_id: uuid.UUID, column: str, value: str) -> bytes:
        return await self._cipher.seal(endpoint_id, _TABLE, column, endpoint_id, value)

    async def add(self, endpoint: WebhookEndpoint, secrets: Secrets) -> None:
        await self._cipher.keys.create(endpoint.id, OWNER_KIND)
        values = _values(endpoint) | {
            "secret_sealed": await self._seal(endpoint.id, "secret", secrets.current)
        }
        await self._session.execute(insert(_ENDPOINTS).values(values))

    async def get(self, endpoint_id: uuid.UUID) -> WebhookEndpoint | None:
        return await self._one(select(_ENDPOINTS).where(_ENDPOINTS.c.id == endpoint_id))

    async def hold(self, endpoint_id: uuid.UUID) -> WebhookEndpoint | None:
        query = select(_ENDPOINTS).where(_ENDPOINTS.c.id == endpoint_id).with_for_update()
        return await self._one(query)

    async def _one(self, query: Any) -> WebhookEndpoint | None:
        row = (await self._session.execute(query)).first()
        return _endpoint(row) if row else None

    async def update(self, endpoint: WebhookEndpoint) -> None:
        await self._session.execute(
            update(_ENDPOINTS).where(_ENDPOINTS.c.id == endpoint.id).values(_values(endpoint))
        )

    async def secrets(self, endpoint: WebhookEndpoint) -> Secrets:
        row = (
            await self._session.execute(
                select(_ENDPOINTS.c.secret_sealed, _ENDPOINTS.c.previous_secret_sealed).where(
                    _ENDPOINTS.c.id == endpoint.id
                )
            )
        ).one()
        current = await self._open(endpoint.id, "secret", row.secret_sealed)
        previous = row.previous_secret_sealed
        return Secrets(
            current=current or "",
            previous=await self._open(endpoint.id, "previous_secret", previous)
            if previous
            else None,
        )

    async def _open(self, endpoint_id: uuid.UUID, column: str, blob: bytes) -> str | None:
        return await self._cipher.open(endpoint_id, _TABLE, column, endpoint_id, blob)

    async def set_secrets(self, endpoint: WebhookEndpoint, secrets: Secrets) -> None:
        previous = secrets.previous
        await self._session.execute(
            update(_ENDPOINTS)
            .where(_ENDPOINTS.c.id == endpoint.id)
            .values(
                secret_sealed=await self._seal(endpoint.id, "secret", secrets.current),
                previous_secret_sealed=await self._seal(endpoint.id, "previous_secret", previous)
                if previous
                else None,
            )
        )

    async def delete(self, endpoint: WebhookEndpoint) -> None:
        await self._session.execute(delete(_ENDPOINTS).where(_ENDPOINTS.c.id == endpoint.id))
        await self._cipher.keys.destroy(endpoint.id)

    async def of_study(self, study_id: StudyId) -> Sequence[WebhookEndpoint]:
        query = (
            select(_ENDPOINTS)
            .where(_ENDPOINTS.c.study_id == study_id)
            .order_by(_ENDPOINTS.c.created_at, _ENDPOINTS.c.id)
        )
        return [_endpoint(r) for r in await self._session.execute(query)]

    async def to_dispatch(self, limit: int) -> Sequence[WebhookEndpoint]:
        query = (
            select(_ENDPOINTS)
            .where(_ENDPOINTS.c.enabled)
            .order_by(_ENDPOINTS.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [_endpoint(r) for r in await self._session.execute(query)]

    async def log_size(self, study_id: StudyId) -> int:
        query = select(func.coalesce(func.max(_CHAIN.c.seq), 0)).where(_CHAIN.c.log_id == study_id)
        return int((await self._session.execute(query)).scalar_one())

    async def events(
        self,
        study_id: StudyId,
        types: Sequence[EventType],
        *,
        after: int,
        until: int,
        limit: int,
    ) -> Sequence[LoggedEvent]:
        entities = entity_types_of(types)
        rows = await self._session.execute(
            _RANGE,
            {"log": study_id, "after": after, "until": until, "types": entities, "limit": limit},
        )
        return [_event(r) for r in rows]

    async def event(self, study_id: StudyId, event_id: uuid.UUID) -> LoggedEvent | None:
        row = (
            await self._session.execute(_ONE, {"log": study_id, "event": event_id, "limit": 1})
        ).first()
        return _event(row) if row else None

    async def add_deliveries(self, deliveries: Sequence[Delivery]) -> None:
        if deliveries:
            statement = pg_insert(_DELIVERIES).on_conflict_do_nothing()
            await self._session.execute(statement, [_delivery_values(d) for d in deliveries])

    async def delivery(self, delivery_id: uuid.UUID) -> Delivery | None:
        query = select(_DELIVERIES).where(_DELIVERIES.c.id == delivery_id)
        row = (await self._session.execute(query)).first()
        return _delivery(row) if row else None

    async def hold_delivery(self, delivery_id: uuid.UUID) -> Delivery | None:
        query = select(_DELIVERIES).where(_DELIVERIES.c.id == delivery_id).with_for_update()
        row = (await self._session.execute(query)).first()
        return _delivery(row) if row else None

    async def update_delivery(self, delivery: Delivery) -> None:
        await self._session.execute(
            update(_DELIVERIES)
            .where(_DELIVERIES.c.id == delivery.id)
            .values(
                status=delivery.status.value,
                attempts=delivery.attempts,
                next_try_at=delivery.next_try_at,
                finished_at=delivery.finished_at,
            )
        )

    async def add_attempt(self, attempt: AttemptRecord) -> None:
        await self._session.execute(
            insert(_ATTEMPTS).values(
                delivery_id=attempt.delivery_id,
                number=attempt.number,
                at=attempt.at,
                status_code=attempt.status_code,
                latency_ms=attempt.latency_ms,
                error=(attempt.error or "")[:200] or None,
                outcome=attempt.outcome.value,
                next_try_at=attempt.next_try_at,
            )
        )

    async def deliveries(self, endpoint_id: uuid.UUID, *, limit: int) -> Sequence[Delivery]:
        query = (
            select(_DELIVERIES)
            .where(_DELIVERIES.c.endpoint_id == endpoint_id)
            .order_by(
                _DELIVERIES.c.created_at.desc(),
                _DELIVERIES.c.log_position.desc(),
                _DELIVERIES.c.round.desc(),
            )
            .limit(limit)
        )
        return [_delivery(r) for r in await self._session.execute(query)]

    async def attempts(
        self, delivery_ids: Sequence[uuid.UUID]
    ) -> Mapping[uuid.UUID, Sequence[AttemptRecord]]:
        found: dict[uuid.UUID, list[AttemptRecord]] = {d: [] for d in delivery_ids}
        if delivery_ids:
            query = (
                select(_ATTEMPTS)
                .where(_ATTEMPTS.c.delivery_id.in_(delivery_ids))
                .order_by(_ATTEMPTS.c.delivery_id, _ATTEMPTS.c.number)
            )
            for r in await self._session.execute(query):
                found[r.delivery_id].append(_attempt(r))
        return found


def _values(e: WebhookEndpoint) -> dict[str, Any]:
    return {
        "id": e.id,
        "study_id": e.study_id,
        "url": e.url,
        "event_types": [t.value for t in e.event_types],
        "enabled": e.enabled,
        "previous_secret_until": e.previous_secret_until,
        "secret_rotated_at": e.secret_rotated_at,
        "created_at": e.created_at,
        "disabled_at": e.disabled_at,
        "disabled_because": e.disabled_because.value if e.disabled_because else None,
        "failed_in_a_row": e.failed_in_a_row,
        "cursor": e.cursor,
        "replays": e.replays,
        "version": e.version,
    }


def _endpoint(r: Any) -> WebhookEndpoint:
    return WebhookEndpoint(
        id=r.id,
        study_id=StudyId(r.study_id),
        url=r.url,
        event_types=tuple(EventType(t) for t in r.event_types),
        enabled=r.enabled,
        created_at=r.created_at,
        secret_rotated_at=r.secret_rotated_at,
        previous_secret_until=r.previous_secret_until,
        disabled_at=r.disabled_at,
        disabled_because=DisabledBecause(r.disabled_because) if r.disabled_because else None,
        failed_in_a_row=r.failed_in_a_row,
        cursor=r.cursor,
        replays=r.replays,
        version=r.version,
    )


def _event(r: Any) -> LoggedEvent:
    return LoggedEvent(
        id=r.id,
        study_id=r.study_id,
        position=int(r.position),
        entity_type=r.entity_type,
        entity_id=str(r.entity_id),
        action=r.action,
        recorded_at=r.recorded_at,
        subject_id=r.subject_id,
    )


def _delivery_values(d: Delivery) -> dict[str, Any]:
    return {
        "id": d.id,
        "endpoint_id": d.endpoint_id,
        "event_id": d.event_id,
        "log_position": d.log_position,
        "event_type": d.event_type.value,
        "message_id": d.message_id,
        "round": d.round,
        "status": d.status.value,
        "attempts": d.attempts,
        "created_at": d.created_at,
        "next_try_at": d.next_try_at,
        "finished_at": d.finished_at,
    }


def _delivery(r: Any) -> Delivery:
    return Delivery(
        id=r.id,
        endpoint_id=r.endpoint_id,
        event_id=r.event_id,
        log_position=r.log_position,
        event_type=EventType(r.event_type),
        message_id=r.message_id,
        round=r.round,
        status=DeliveryStatus(r.status),
        attempts=r.attempts,
        created_at=r.created_at,
        next_try_at=r.next_try_at,
        finished_at=r.finished_at,
    )


def _attempt(r: Any) -> AttemptRecord:
    return AttemptRecord(
        delivery_id=r.delivery_id,
        number=r.number,
        at=r.at,
        status_code=r.status_code,
        latency_ms=r.latency_ms,
        error=r.error,
        outcome=Outcome(r.outcome),
        next_try_at=r.next_try_at,
    )
