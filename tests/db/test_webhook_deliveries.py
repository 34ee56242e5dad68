"""Webhooks end to end on a real database and a real local receiver: the study's log becomes
signed deliveries (verified with `standardwebhooks`), retried with backoff, replayed with the
same ids, signed by both secrets during a rotation, and an endpoint that keeps failing is
disabled with an audit event. Payloads carry no personal data."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any, cast

import pytest
from sqlalchemy import text
from standardwebhooks.webhooks import WebhookVerificationError

from api.app import build_worker
from domain.actors import Origin, RequestContext, system_actor
from domain.outbox import RetryLater
from domain.services import participants, webhooks
from domain.services import webhook_deliveries as deliveries
from domain.services.webhooks import WebhookUnitOfWorkFactory, WithSecret
from domain.webhook_endpoints import Delivery, DeliveryStatus, WebhookEndpoint
from domain.webhooks import DELIVERY_RETRIES, DISABLE_AFTER, Outcome
from infra.webhooks.sender import Sender
from tests.clock import CLOCK, PinnedClock
from tests.conftest import Scratch
from tests.factories import admin, caller
from tests.webhook_receiver import Receiver, receiving, verify
from tests.world import (
    CORRECTION_REASON,
    DELETE_REASON,
    DIARY_TEXT,
    PEOPLE,
    PROXY_REASON,
    REASON,
    World,
    add_diary,
    build_world,
)

WORKER = RequestContext(actor=system_actor("worker"), origin=Origin(request_id="job-test"))
BOSS = caller(admin())
ALL_TYPES = [
    "participant.changed",
    "visit.changed",
    "diary_entry.changed",
    "readings.received",
    "data_query.changed",
    "export.changed",
]


def _uows(scratch: Scratch) -> WebhookUnitOfWorkFactory:
    return cast(WebhookUnitOfWorkFactory, scratch.runtime.services.uow)


async def _register(
    scratch: Scratch, world: World, url: str, types: Sequence[str] = ALL_TYPES
) -> WithSecret:
    return await webhooks.register(
        uow=_uows(scratch)(), ctx=BOSS, study_id=world.study.id, url=url, event_types=types
    )


async def _sequenced(scratch: Scratch) -> None:
    """What the worker's integrator does: give every written event its log position."""
    await scratch.runtime.seal_checkpoints()


async def _deliveries(scratch: Scratch, endpoint: WebhookEndpoint) -> list[Delivery]:
    found, _ = await webhooks.deliveries(
        uow=_uows(scratch)(), ctx=BOSS, endpoint=endpoint, limit=100
    )
    return sorted(found, key=lambda d: (d.round, d.log_position))


async def _try(scratch: Scratch, sender: Sender, delivery: Delivery) -> Outcome | RetryLater | None:
    try:
        return await deliveries.deliver(
            uows=_uows(scratch), sender=sender, ctx=WORKER, delivery_id=delivery.id
        )
    except RetryLater as later:
        return later


async def _deliver_all(scratch: Scratch, endpoint: WebhookEndpoint) -> list[Any]:
    async with Sender(allow_private=True) as sender:
        return [await _try(scratch, sender, d) for d in await _deliveries(scratch, endpoint)]


async def _endpoint(scratch: Scratch, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    return await webhooks.get(uow=_uows(scratch)(), ctx=BOSS, endpoint_id=endpoint.id)


@asynccontextmanager
async def _trial(scratch: Scratch) -> AsyncIterator[tuple[World, Receiver, WithSecret]]:
    async with receiving() as receiver:
        world = await build_world(scratch.runtime.services.uow)
        await _sequenced(scratch)
        made = await _register(scratch, world, receiver.url, ["participant.changed"])
        yield world, receiver, made


async def test_the_worker_delivers_the_study_log_signed_and_pseudonymous(
    scratch: Scratch, clock: PinnedClock
) -> None:
    uows = scratch.runtime.services.uow
    async with receiving() as receiver:
        world = await build_world(uows)
        made = await _register(scratch, world, receiver.url)
        await add_diary(uows, world)
        settings = scratch.settings.model_copy(
            update={
                "worker_metrics_port": 0,
                "worker_poll_seconds": 0.2,
                "webhook_allow_private": True,  # the receiver listens on 127.0.0.1
            }
        )
        worker = build_worker(settings, clock=CLOCK)
        stop = asyncio.Event()
        running = asyncio.create_task(worker.run(stop))
        try:
            expected = await _matching_events(scratch, world)
            for _ in range(600):  # the worker sequences, dispatches and sends on its own
                if len(receiver.received) >= expected:
                    break
                await asyncio.sleep(0.05)
        finally:
            stop.set()
            await running
    assert expected > 5
    bodies = [verify(made.secret, clock, r) for r in receiver.received]
    assert len(bodies) == expected
    assert {b["type"] for b in bodies} >= {
        "participant.changed",
        "diary_entry.changed",
        "readings.received",
    }
    ids = [r.headers["webhook-id"] for r in receiver.received]
    assert len(set(ids)) == len(ids)
    # Tries run concurrently, so order is not promised: each message says its position.
    positions = [b["data"]["logPosition"] for b in bodies]
    assert len(set(positions)) == len(positions)
    _no_personal_data(world, receiver)
    subjects = {p.subject_id for p in world.people}
    for body in bodies:
        if body["type"] == "participant.changed":
            assert body["data"]["entityId"] in subjects
    scraped = worker.metrics.exposition().decode()
    assert f'hearth_webhook_deliveries_total{{outcome="delivered"}} {float(expected)}' in scraped


async def _matching_events(scratch: Scratch, world: World) -> int:
    """Events of the study that some webhook event type covers, once all are sequenced."""
    for _ in range(600):
        async with scratch.runtime.engine.connect() as connection:
            pending = await connection.scalar(text("SELECT count(*) FROM audit_pending"))
            if pending == 0:
                count = await connection.scalar(
                    text(
                        "SELECT count(*) FROM audit_events WHERE study_id = :s AND entity_type "
                        "IN ('Participant','Visit','DiaryEntry','ReadingBatch','DataQuery',"
                        "'ExportJob')"
                    ),
                    {"s": world.study.id},
                )
                return int(count or 0)
        await asyncio.sleep(0.05)
    raise AssertionError("the worker never sequenced the log")


def _no_personal_data(world: World, receiver: Receiver) -> None:
    everything = json.dumps([r.body for r in receiver.received])
    forbidden = [
        *(v for person in PEOPLE for v in (person["full_name"], person["email"], person["phone"])),
        *(person["address"] for person in PEOPLE),
        REASON,
        DIARY_TEXT,
        PROXY_REASON,
        CORRECTION_REASON,
        DELETE_REASON,
        "SCR-000",
        "SCR-001",
        "Henrietta",
        *(str(p.id) for p in world.people),  # internal ids: exports never print them either
    ]
    leaked = [value for value in forbidden if value in everything]
    assert not leaked, leaked


async def test_a_receiver_down_for_a_while_gets_the_message_once_it_recovers(
    scratch: Scratch, clock: PinnedClock
) -> None:
    async with _trial(scratch) as (world, receiver, made):
        await participants.register_participant(
            uow=scratch.runtime.services.uow(),
            ctx=caller(world.coordinator),
            site_id=world.site.id,
            screening_number="SCR-900",
        )
        await _sequenced(scratch)
        assert await deliveries.dispatch(uows=_uows(scratch)) == 1
        (delivery,) = await _deliveries(scratch, made.endpoint)
        receiver.answers[:] = [503, 500, 503]
        waits = []
        async with Sender(allow_private=True) as sender:
            for _ in range(4):
                outcome = await _try(scratch, sender, delivery)
                if isinstance(outcome, RetryLater):
                    waits.append(outcome.at - clock.now())
                    clock.pin(outcome.at)  # the worker would wait until then
        assert outcome is Outcome.DELIVERED
        assert waits == [timedelta(seconds=10), timedelta(seconds=20), timedelta(seconds=40)]
        assert len({r.headers["webhook-id"] for r in receiver.received}) == 1
        assert all(verify(made.secret, clock, r) for r in receiver.received[-1:])
        # Delivered once: a further run of the same job sends nothing.
        async with Sender(allow_private=True) as sender:
            assert await _try(scratch, sender, delivery) is None
        assert len(receiver.received) == 4
        _, tries = await webhooks.deliveries(
            uow=_uows(scratch)(), ctx=BOSS, endpoint=made.endpoint, limit=10
        )
        logged = tries[delivery.id]
        assert [t.status_code for t in logged] == [503, 500, 503, 204]
        assert [t.outcome for t in logged] == [Outcome.RETRYING] * 3 + [Outcome.DELIVERED]
        assert logged[0].next_try_at == logged[1].at
        assert logged[-1].next_try_at is None
        assert all(t.latency_ms > 0 for t in logged)
        (done,) = await _deliveries(scratch, made.endpoint)
        assert done.status is DeliveryStatus.DELIVERED
        assert done.attempts == 4


async def test_replay_from_a_position_sends_the_same_messages_again(
    scratch: Scratch, clock: PinnedClock
) -> None:
    async with receiving() as receiver:
        world = await build_world(scratch.runtime.services.uow)
        made = await _register(scratch, world, receiver.url, ["participant.changed"])
        await _sequenced(scratch)
        sent = await deliveries.dispatch(uows=_uows(scratch))
        assert sent >= 3  # two registered, one withdrawn
        await _deliver_all(scratch, made.endpoint)
        first = {r.headers["webhook-id"]: verify(made.secret, clock, r) for r in receiver.received}
        positions = sorted(b["data"]["logPosition"] for b in first.values())
        replay = await webhooks.replay(
            uow=_uows(scratch)(), ctx=BOSS, endpoint_id=made.endpoint.id, from_position=positions[1]
        )
        assert replay.queued == len(positions) - 1
        assert replay.last_position == positions[-1]
        before = len(receiver.received)
        await _deliver_all(scratch, made.endpoint)
    again = receiver.received[before:]
    assert len(again) == len(positions) - 1
    async with scratch.runtime.engine.connect() as connection:
        logged = (
            await connection.execute(
                text(
                    "SELECT fields FROM audit_events WHERE entity_type = 'WebhookEndpoint' "
                    "AND action = 'replayed' AND entity_id = :e"
                ),
                {"e": made.endpoint.id},
            )
        ).scalar_one()
    values = {f["field"]: f["new"] for f in logged}
    assert values == {"replays": 1, "from_position": positions[1], "queued": replay.queued}
    for got in again:
        body = verify(made.secret, clock, got)
        assert first[got.headers["webhook-id"]] == body  # same id, same message
        assert body["data"]["logPosition"] >= positions[1]


async def test_during_a_rotation_old_and_new_secrets_both_verify_until_the_overlap_ends(
    scratch: Scratch, clock: PinnedClock
) -> None:
    async with _trial(scratch) as (_world, receiver, made):
        rotated = await webhooks.rotate_secret(
            uow=_uows(scratch)(),
            ctx=BOSS,
            endpoint_id=made.endpoint.id,
            overlap=timedelta(hours=1),
        )
        assert rotated.secret != made.secret
        await webhooks.replay(
            uow=_uows(scratch)(), ctx=BOSS, endpoint_id=made.endpoint.id, from_position=1
        )
        await _deliver_all(scratch, made.endpoint)
        during = receiver.received[-1]
        assert len(during.headers["webhook-signature"].split(" ")) == 2
        assert verify(made.secret, clock, during) == verify(rotated.secret, clock, during)
        clock.advance(hours=1)
        await webhooks.replay(
            uow=_uows(scratch)(), ctx=BOSS, endpoint_id=made.endpoint.id, from_position=1
        )
        await _deliver_all(scratch, made.endpoint)
        after = receiver.received[-1]
        assert verify(rotated.secret, clock, after)
        with pytest.raises(WebhookVerificationError):
            verify(made.secret, clock, after)


async def test_an_endpoint_that_keeps_failing_is_disabled_with_an_audit_event(
    scratch: Scratch, clock: PinnedClock
) -> None:
    async with receiving() as receiver:
        world = await build_world(scratch.runtime.services.uow)
        made = await _register(scratch, world, receiver.url, ["participant.changed"])
        await _sequenced(scratch)
        await deliveries.dispatch(uows=_uows(scratch))
        pending = await _deliveries(scratch, made.endpoint)
        assert len(pending) >= DISABLE_AFTER
        receiver.answers[:] = [500] * (DELIVERY_RETRIES.attempts * len(pending))
        async with Sender(allow_private=True) as sender:
            outcomes = []
            for delivery in pending:
                while isinstance(outcome := await _try(scratch, sender, delivery), RetryLater):
                    clock.pin(outcome.at)
                outcomes.append(outcome)
    assert outcomes[:DISABLE_AFTER] == [Outcome.GAVE_UP] * DISABLE_AFTER
    assert all(o is None for o in outcomes[DISABLE_AFTER:])  # skipped once disabled
    endpoint = await _endpoint(scratch, made.endpoint)
    assert not endpoint.enabled
    assert endpoint.disabled_because is not None
    assert endpoint.disabled_because.value == "failing"
    assert len(receiver.received) == DELIVERY_RETRIES.attempts * DISABLE_AFTER
    async with scratch.runtime.engine.connect() as connection:
        rows = (
            await connection.execute(
                text(
                    "SELECT action, actor_kind FROM audit_events "
                    "WHERE entity_type = 'WebhookEndpoint' AND entity_id = :e ORDER BY ingest"
                ),
                {"e": made.endpoint.id},
            )
        ).all()
    assert [(r.action, r.actor_kind) for r in rows] == [
        ("created", "STAFF"),
        ("disabled", "SYSTEM"),
    ]
    # Nothing more is handed out to a disabled endpoint.
    assert await deliveries.dispatch(uows=_uows(scratch)) == 0


async def test_the_secret_is_sealed_at_rest(scratch: Scratch) -> None:
    async with _trial(scratch) as (_, _receiver, made):
        async with scratch.runtime.engine.connect() as connection:
            stored = (
                await connection.execute(
                    text("SELECT secret_sealed FROM webhook_endpoints WHERE id = :e"),
                    {"e": made.endpoint.id},
                )
            ).scalar_one()
        assert made.secret.encode() not in bytes(stored)
        assert made.secret.removeprefix("whsec_").encode() not in bytes(stored)
        await webhooks.delete(uow=_uows(scratch)(), ctx=BOSS, endpoint_id=made.endpoint.id)
        with pytest.raises(Exception, match="not found"):
            await _endpoint(scratch, made.endpoint)
