"""The worker's webhook use cases: new log events become deliveries for the endpoints that
subscribed to them, and each delivery is tried, logged, retried or given up on."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

from domain import access, audit
from domain.access import Permission
from domain.actors import RequestContext
from domain.outbox import RetryLater
from domain.services.webhooks import (
    WebhookUnitOfWork,
    WebhookUnitOfWorkFactory,
    deliver_work,
    endpoint_scope,
    new_delivery,
)
from domain.webhook_endpoints import (
    AttemptRecord,
    Delivery,
    DeliveryStatus,
    DisabledBecause,
    WebhookEndpoint,
)
from domain.webhooks import Attempt, Outcome, judge, payload, should_disable

DISPATCH_BATCH = 500  # events per endpoint per round; the rest come in the next round
ENDPOINTS_PER_ROUND = 100


class WebhookSender(Protocol):
    async def send(
        self,
        *,
        url: str,
        secrets: Sequence[str],
        msg_id: str,
        at: datetime,
        message: dict[str, object],
    ) -> Attempt: ...


# Told every try's outcome and latency (metrics); never an id or a URL.
DeliveryObserver = Callable[[Outcome, float], None]


async def dispatch(*, uows: WebhookUnitOfWorkFactory) -> int:
    """One round: every enabled endpoint's new events become deliveries and queued tries,
    in the same transaction as the endpoint's cursor moving on. Returns how many."""
    async with uows() as uow:
        queued = 0
        for endpoint in await uow.webhooks.to_dispatch(ENDPOINTS_PER_ROUND):
            queued += await _dispatch_one(uow, endpoint)
        await uow.commit()
    return queued


async def _dispatch_one(uow: WebhookUnitOfWork, endpoint: WebhookEndpoint) -> int:
    size = await uow.webhooks.log_size(endpoint.study_id)
    if size <= endpoint.cursor:
        return 0
    events = await uow.webhooks.events(
        endpoint.study_id,
        endpoint.event_types,
        after=endpoint.cursor,
        until=size,
        limit=DISPATCH_BATCH,
    )
    cursor = events[-1].position if len(events) == DISPATCH_BATCH else size
    deliveries = [new_delivery(endpoint, e, uow.clock.now()) for e in events]
    await uow.webhooks.add_deliveries(deliveries)
    for delivery in deliveries:
        uow.enqueue(deliver_work(delivery))
    # The cursor is the worker's bookkeeping, not an administrator's change: not audited.
    await uow.webhooks.update(dataclasses.replace(endpoint, cursor=cursor))
    return len(deliveries)


@dataclasses.dataclass(frozen=True)
class _Prepared:
    delivery: Delivery
    endpoint: WebhookEndpoint
    secrets: list[str]
    message: dict[str, object]
    at: datetime


async def deliver(
    *,
    uows: WebhookUnitOfWorkFactory,
    sender: WebhookSender,
    ctx: RequestContext,
    delivery_id: uuid.UUID,
    observe: DeliveryObserver | None = None,
) -> Outcome | None:
    """One try. Raises `RetryLater` when it failed and another try is due; None when there
    was nothing to send (delivered already, or the endpoint disabled or deleted)."""
    prepared = await _prepare(uows, delivery_id)
    if prepared is None:
        return None
    tried = await sender.send(
        url=prepared.endpoint.url,
        secrets=prepared.secrets,
        msg_id=prepared.delivery.message_id,
        at=prepared.at,
        message=prepared.message,
    )
    outcome, next_try = await _record(uows, ctx, prepared, tried)
    if observe is not None:
        observe(outcome, tried.latency_ms / 1000)
    if outcome is Outcome.RETRYING and next_try is not None:
        raise RetryLater(next_try)
    return outcome


async def _prepare(uows: WebhookUnitOfWorkFactory, delivery_id: uuid.UUID) -> _Prepared | None:
    async with uows() as uow:
        delivery = await uow.webhooks.hold_delivery(delivery_id)
        if delivery is None or delivery.status.final:
            return None
        endpoint = await uow.webhooks.get(delivery.endpoint_id)
        event = await uow.webhooks.event(endpoint.study_id, delivery.event_id) if endpoint else None
        if endpoint is None or event is None or not endpoint.enabled:
            await uow.webhooks.update_delivery(
                dataclasses.replace(
                    delivery, status=DeliveryStatus.SKIPPED, finished_at=uow.clock.now()
                )
            )
            await uow.commit()
            return None
        now = uow.clock.now()
        secrets = (await uow.webhooks.secrets(endpoint)).signing(endpoint, now)
        return _Prepared(delivery, endpoint, secrets, payload(event, delivery.event_type), now)


async def _record(
    uows: WebhookUnitOfWorkFactory, ctx: RequestContext, prepared: _Prepared, tried: Attempt
) -> tuple[Outcome, datetime | None]:
    async with uows() as uow:
        delivery = await uow.webhooks.hold_delivery(prepared.delivery.id)
        if delivery is None:  # deleted with its endpoint meanwhile
            return Outcome.GAVE_UP, None
        number = delivery.attempts + 1
        now = uow.clock.now()
        outcome, next_try = judge(tried, number, now)
        await uow.webhooks.add_attempt(
            AttemptRecord(
                delivery_id=delivery.id,
                number=number,
                at=prepared.at,
                status_code=tried.status_code,
                latency_ms=tried.latency_ms,
                error=tried.error,
                outcome=outcome,
                next_try_at=next_try,
            )
        )
        await uow.webhooks.update_delivery(_after(delivery, outcome, number, next_try, now))
        if outcome is not Outcome.RETRYING:
            await _judge_endpoint(uow, ctx, delivery.endpoint_id, outcome)
        await uow.commit()
    return outcome, next_try


def _after(
    delivery: Delivery, outcome: Outcome, number: int, next_try: datetime | None, now: datetime
) -> Delivery:
    status = {
        Outcome.DELIVERED: DeliveryStatus.DELIVERED,
        Outcome.RETRYING: DeliveryStatus.RETRYING,
        Outcome.GAVE_UP: DeliveryStatus.GAVE_UP,
    }[outcome]
    finished = None if outcome is Outcome.RETRYING else now
    return dataclasses.replace(
        delivery, status=status, attempts=number, next_try_at=next_try, finished_at=finished
    )


async def _judge_endpoint(
    uow: WebhookUnitOfWork, ctx: RequestContext, endpoint_id: uuid.UUID, outcome: Outcome
) -> None:
    """A delivery resets the failure count; too many messages given up on disables the
    endpoint, with an audit event by the worker."""
    before = await uow.webhooks.hold(endpoint_id)
    if before is None:
        return
    after = before.judged(outcome)
    if not (after.enabled and should_disable(after.failed_in_a_row)):
        await uow.webhooks.update(after)
        return
    disabled = after.disable(DisabledBecause.FAILING, uow.clock.now())
    grant = access.require(ctx.actor, Permission.WEBHOOK_MANAGE, endpoint_scope(before))
    change = audit.updated(
        ctx, grant, before, disabled, audit.Subject(study_id=before.study_id), action="disabled"
    )
    await uow.webhooks.update(disabled)
    if change is not None:
        uow.record(change)
