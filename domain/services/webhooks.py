"""Use cases for webhook endpoints: administrators (any study) and data managers (their
study) register, change, disable, enable, delete, rotate secrets and replay; all audited."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from domain import access, audit
from domain.access import Permission, Scope
from domain.actors import Grant, RequestContext
from domain.errors import DomainError, ErrorCode, NotFound
from domain.ids import StudyId
from domain.outbox import Work
from domain.ports import UnitOfWork
from domain.ports.webhooks import WebhookRepository
from domain.services.studies import require_open
from domain.webhook_endpoints import (
    DEFAULT_OVERLAP,
    REPLAY_LIMIT,
    AttemptRecord,
    Delivery,
    DeliveryStatus,
    DisabledBecause,
    Secrets,
    WebhookEndpoint,
    check_position,
    new_secret,
)
from domain.webhooks import LoggedEvent, event_type_of, message_id

DELIVER = "webhooks.deliver"  # the worker's task: one try at one delivery


class WebhookUnitOfWork(UnitOfWork, Protocol):
    @property
    def webhooks(self) -> WebhookRepository: ...


class WebhookUnitOfWorkFactory(Protocol):
    def __call__(self) -> WebhookUnitOfWork: ...


@dataclass(frozen=True, repr=False)
class WithSecret:
    """An endpoint and its new secret: the only time the secret is ever shown."""

    endpoint: WebhookEndpoint
    secret: str


@dataclass(frozen=True)
class Replay:
    endpoint: WebhookEndpoint
    queued: int
    last_position: int | None  # the last position re-sent; None: nothing to re-send


def endpoint_scope(endpoint: WebhookEndpoint) -> Scope:
    return Scope(study_id=endpoint.study_id)


def _subject(endpoint: WebhookEndpoint) -> audit.Subject:
    return audit.Subject(study_id=endpoint.study_id)


async def register(
    *,
    uow: WebhookUnitOfWork,
    ctx: RequestContext,
    study_id: StudyId,
    url: str,
    event_types: Sequence[str],
) -> WithSecret:
    """A new endpoint receives the study's events from now on (not its history: replay)."""
    grant = access.require(ctx.actor, Permission.WEBHOOK_MANAGE, Scope(study_id=study_id))
    async with uow:
        await require_open(uow, study_id)
        endpoint = WebhookEndpoint.new(
            study_id=study_id,
            url=url,
            event_types=event_types,
            cursor=await uow.webhooks.log_size(study_id),
            now=uow.clock.now(),
        )
        secret = new_secret()
        await uow.webhooks.add(endpoint, Secrets(current=secret))
        uow.record(audit.created(ctx, grant, endpoint, _subject(endpoint)))
        await uow.commit()
    return WithSecret(endpoint, secret)


async def _held(
    uow: WebhookUnitOfWork, ctx: RequestContext, endpoint_id: uuid.UUID
) -> tuple[WebhookEndpoint, Grant]:
    found = await uow.webhooks.hold(endpoint_id)
    endpoint = access.visible(
        ctx.actor, Permission.WEBHOOK_MANAGE, found, endpoint_scope, "WebhookEndpoint"
    )
    return endpoint, access.require(ctx.actor, Permission.WEBHOOK_MANAGE, endpoint_scope(endpoint))


async def _save(
    uow: WebhookUnitOfWork,
    ctx: RequestContext,
    grant: Grant,
    before: WebhookEndpoint,
    after: WebhookEndpoint,
    *,
    action: str = "updated",
    extra: tuple[audit.FieldChange, ...] = (),
) -> None:
    change = audit.updated(ctx, grant, before, after, _subject(after), action=action)
    if change is not None:
        await uow.webhooks.update(after)
        uow.record(dataclasses.replace(change, fields=change.fields + extra))


async def change(
    *,
    uow: WebhookUnitOfWork,
    ctx: RequestContext,
    endpoint_id: uuid.UUID,
    url: str | None = None,
    event_types: Sequence[str] | None = None,
) -> WebhookEndpoint:
    async with uow:
        before, grant = await _held(uow, ctx, endpoint_id)
        after = before.changed(url=url, event_types=event_types)
        await _save(uow, ctx, grant, before, after)
        await uow.commit()
    return after


async def set_enabled(
    *, uow: WebhookUnitOfWork, ctx: RequestContext, endpoint_id: uuid.UUID, enabled: bool
) -> WebhookEndpoint:
    """Disabled endpoints get nothing; events meanwhile are skipped (replay sends them)."""
    async with uow:
        before, grant = await _held(uow, ctx, endpoint_id)
        now = uow.clock.now()
        after = before.enable() if enabled else before.disable(DisabledBecause.ASKED, now)
        if enabled and not before.enabled:
            # Back from a pause: from the log's present, not through what it missed.
            after = dataclasses.replace(after, cursor=await uow.webhooks.log_size(after.study_id))
        await _save(uow, ctx, grant, before, after, action="enabled" if enabled else "disabled")
        await uow.commit()
    return after


async def delete(*, uow: WebhookUnitOfWork, ctx: RequestContext, endpoint_id: uuid.UUID) -> None:
    async with uow:
        endpoint, grant = await _held(uow, ctx, endpoint_id)
        await uow.webhooks.delete(endpoint)
        uow.record(
            audit.Change(
                entity_type=endpoint.ENTITY,
                entity_id=endpoint.id,
                action="deleted",
                fields=(),
                actor=ctx.actor,
                role=grant.role,
                origin=ctx.origin,
                subject=_subject(endpoint),
            )
        )
        await uow.commit()


async def rotate_secret(
    *,
    uow: WebhookUnitOfWork,
    ctx: RequestContext,
    endpoint_id: uuid.UUID,
    overlap: timedelta = DEFAULT_OVERLAP,
) -> WithSecret:
    """A new secret signs from now on; the old one signs too until the overlap ends."""
    async with uow:
        before, grant = await _held(uow, ctx, endpoint_id)
        after = before.rotated(uow.clock.now(), overlap)
        secret = new_secret()
        await uow.webhooks.set_secrets(after, (await uow.webhooks.secrets(before)).rotated(secret))
        await _save(uow, ctx, grant, before, after, action="secret_rotated")
        await uow.commit()
    return WithSecret(after, secret)


async def replay(
    *, uow: WebhookUnitOfWork, ctx: RequestContext, endpoint_id: uuid.UUID, from_position: int
) -> Replay:
    """Send again what the endpoint was sent (or would have been) from a log position, with
    the same `webhook-id`s; at most `REPLAY_LIMIT` events per call."""
    check_position(from_position)
    async with uow:
        before, grant = await _held(uow, ctx, endpoint_id)
        if not before.enabled:
            raise DomainError(
                ErrorCode.INVALID_TRANSITION, "Enable the endpoint before replaying to it."
            )
        after = before.replayed()
        events = await uow.webhooks.events(
            before.study_id,
            before.event_types,
            after=from_position - 1,
            until=before.cursor,
            limit=REPLAY_LIMIT,
        )
        deliveries = [_delivery(after, e, after.replays, uow.clock.now()) for e in events]
        await uow.webhooks.add_deliveries(deliveries)
        for delivery in deliveries:
            uow.enqueue(deliver_work(delivery))
        # The log says from where, and how many: the replay itself changes only a counter.
        extra = (
            audit.FieldChange("from_position", None, from_position),
            audit.FieldChange("queued", None, len(deliveries)),
        )
        await _save(uow, ctx, grant, before, after, action="replayed", extra=extra)
        await uow.commit()
    return Replay(after, len(deliveries), events[-1].position if events else None)


async def of_study(
    *, uow: WebhookUnitOfWork, ctx: RequestContext, study_id: StudyId
) -> Sequence[WebhookEndpoint]:
    access.require(ctx.actor, Permission.WEBHOOK_MANAGE, Scope(study_id=study_id))
    async with uow:
        return await uow.webhooks.of_study(study_id)


async def get(
    *, uow: WebhookUnitOfWork, ctx: RequestContext, endpoint_id: uuid.UUID
) -> WebhookEndpoint:
    async with uow:
        found = await uow.webhooks.get(endpoint_id)
    return access.visible(
        ctx.actor, Permission.WEBHOOK_MANAGE, found, endpoint_scope, "WebhookEndpoint"
    )


async def deliveries(
    *, uow: WebhookUnitOfWork, ctx: RequestContext, endpoint: WebhookEndpoint, limit: int
) -> tuple[Sequence[Delivery], Mapping[uuid.UUID, Sequence[AttemptRecord]]]:
    """The newest deliveries of an endpoint the caller may see, and each one's tries."""
    access.require(ctx.actor, Permission.WEBHOOK_MANAGE, endpoint_scope(endpoint))
    async with uow:
        found = await uow.webhooks.deliveries(endpoint.id, limit=limit)
        return found, await uow.webhooks.attempts([d.id for d in found])


def _delivery(
    endpoint: WebhookEndpoint, event: LoggedEvent, round_: int, now: datetime
) -> Delivery:
    type_ = event_type_of(event.entity_type)
    if type_ is None:  # the repository only returns subscribed types
        raise NotFound("Event type")
    return Delivery(
        id=uuid.uuid4(),
        endpoint_id=endpoint.id,
        event_id=event.id,
        log_position=event.position,
        event_type=type_,
        message_id=message_id(endpoint.id, event.id),
        round=round_,
        status=DeliveryStatus.PENDING,
        attempts=0,
        created_at=now,
    )


def new_delivery(endpoint: WebhookEndpoint, event: LoggedEvent, now: datetime) -> Delivery:
    return _delivery(endpoint, event, 0, now)


def deliver_work(delivery: Delivery) -> Work:
    return Work(DELIVER, {"delivery_id": str(delivery.id)})
