"""Reminders sent by the worker's task on real PostgreSQL, through a real Web Push service
and a real SMTP server: exactly once per (occurrence, rule) with two workers racing and
ticks repeated, retries with a reason, expired subscriptions removed, consent language."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import cast

import pytest
from sqlalchemy import text

from api.app import Runtime, build_runtime
from domain.actors import Actor, ActorKind, Grant, RequestContext, Role
from domain.consent import ConsentText
from domain.design import ContactMode
from domain.diaries import LatePolicy
from domain.ids import new_id
from domain.notifications import Channel, Notification, State
from domain.participants import Participant
from domain.questionnaires import Item, ItemType, QuestionnaireDraft
from domain.reminders import Policy, QuietHours, ReminderRule, When
from domain.schedules import Recurrence
from domain.services import (
    consent,
    contacts,
    design,
    diaries,
    participants,
    questionnaires,
    reminders,
    visits,
)
from domain.services import notifications as receipts
from domain.services.reminders import NotifyingUnitOfWork, SendReport
from infra.notifications.email import EmailChannel, SmtpSettings
from infra.notifications.webpush import WebPushChannel
from infra.worker.registry import SEND_REMINDERS, job_type
from infra.worker.services import WorkerServices
from tests.clock import CLOCK
from tests.conftest import Scratch
from tests.factories import admin, caller
from tests.notification_receivers import Device, PushService, push_service, smtp_server, vapid
from tests.world import World, build_world

# 07:00 in Berlin: enrolled today, the diary is due at 09:00 local (07:00 UTC) for two hours.
MORNING = datetime(2026, 6, 10, 5, 0, tzinfo=UTC)


@dataclass
class Setup:
    world: World
    person: Participant
    me: RequestContext
    schedule_id: str


async def _enrolled(scratch: Scratch, language: str = "en", at: datetime = MORNING) -> Setup:
    uow = scratch.runtime.services.uow
    CLOCK.pin(at)
    world = await build_world(uow)
    person = world.people[0]
    me = caller(
        Actor(
            ActorKind.PARTICIPANT,
            person.id,
            (Grant(Role.PARTICIPANT, world.study.id, world.site.id),),
        )
    )
    boss = caller(admin())
    arm = await design.create_arm(uow=uow(), ctx=boss, study_id=world.study.id, code="A", name="A")
    version = await consent.publish_version(
        uow=uow(),
        ctx=boss,
        study_id=world.study.id,
        texts=(ConsentText("en", "C", "Body"), ConsentText("de", "E", "Text")),
    )
    await consent.sign(
        uow=uow(), ctx=me, consent_version_id=version.id, language=language, name="A Q"
    )
    await participants.enrol_in_arm(
        uow=uow(), ctx=caller(world.coordinator), participant_id=person.id, arm_id=arm.id
    )
    draft = QuestionnaireDraft(
        code="PAIN",
        title={"en": "Pain"},
        languages=("en",),
        items=(Item("SCORE", ItemType.INTEGER, {"en": "How bad?"}, minimum=0, maximum=10),),
    )
    await questionnaires.publish_version(uow=uow(), ctx=boss, study_id=world.study.id, draft=draft)
    schedule = await diaries.create_schedule(
        uow=uow(),
        ctx=boss,
        study_id=world.study.id,
        questionnaire_code="PAIN",
        arm_id=None,
        recurrence=Recurrence(times=(time(9, 0),), window=timedelta(hours=2)),
        late_policy=LatePolicy.REJECT,
        late_grace=timedelta(0),
    )
    return Setup(world, person, me, str(schedule.id))


def _uows(runtime: Runtime) -> reminders.NotifyingUnitOfWorkFactory:
    return lambda: cast(NotifyingUnitOfWork, runtime.services.uow())


async def _tick(runtime: Runtime, channels: Mapping[str, Channel]) -> SendReport:
    return await reminders.send_due(uows=_uows(runtime), channels=channels)


async def _rows(scratch: Scratch) -> list[Notification]:
    uow = cast(NotifyingUnitOfWork, scratch.runtime.services.uow())
    async with uow:
        ids = await uow.notifications.remindable()
        return list(await uow.notifications.of_participants(ids, 100))


@pytest.fixture
async def push() -> AsyncIterator[PushService]:
    async with push_service() as service:
        yield service


@pytest.fixture
async def second(scratch: Scratch) -> AsyncIterator[Runtime]:
    """Another worker process's runtime: its own pool, the same database and clock."""
    runtime = build_runtime(scratch.settings, clock=CLOCK)
    await runtime.bind_keys()
    try:
        yield runtime
    finally:
        await runtime.close()


async def _subscribe(
    scratch: Scratch, setup: Setup, push: PushService, token: str = "abc"
) -> Device:
    device = push.device(token)
    await receipts.register_push_subscription(
        uow=cast(NotifyingUnitOfWork, scratch.runtime.services.uow()),
        ctx=setup.me,
        endpoint=device.endpoint,
        p256dh=device.p256dh,
        auth=device.auth_b64,
    )
    return device


async def test_two_workers_racing_send_each_reminder_exactly_once(
    scratch: Scratch, push: PushService, second: Runtime
) -> None:
    setup = await _enrolled(scratch)
    device = await _subscribe(scratch, setup, push)
    channels = {"webpush": WebPushChannel(vapid())}
    CLOCK.pin(datetime(2026, 6, 10, 7, 5, tzinfo=UTC))  # 09:05 local: the diary is due
    first, other = await asyncio.gather(_tick(scratch.runtime, channels), _tick(second, channels))
    assert first.claimed + other.claimed == 1
    assert first.sent + other.sent == 1
    # The ticks again (a retried job, the next minute): nothing is sent twice.
    await asyncio.gather(_tick(scratch.runtime, channels), _tick(second, channels))
    CLOCK.advance(minutes=1)
    await _tick(second, channels)
    [row] = await _rows(scratch)
    assert (row.state, row.channel, row.attempts) == (State.SENT, "webpush", 1)
    assert row.send_key == f"{setup.schedule_id}/2026-06-10T09:00/due"
    assert row.sent_at == datetime(2026, 6, 10, 7, 5, tzinfo=UTC)
    assert push.opened(device) == [
        {"id": str(row.id), "title": "Hearth", "body": "Your diary is ready."}
    ]
    # 10:35 local: 30 minutes before closing, the second rule; once, again.
    CLOCK.pin(datetime(2026, 6, 10, 8, 35, tzinfo=UTC))
    await asyncio.gather(*(_tick(r, channels) for r in (scratch.runtime, second, second)))
    bodies = [p["body"] for p in push.opened(device)]
    assert bodies == ["Your diary is ready.", "Your diary closes soon."]
    assert sorted(r.send_key.rsplit("/", 1)[1] for r in await _rows(scratch)) == [
        "closing",
        "due",
    ]


async def test_two_concurrent_claims_of_one_key_leave_one_winner(
    scratch: Scratch, second: Runtime
) -> None:
    setup = await _enrolled(scratch)
    person = setup.person
    at = CLOCK.now()

    def notification() -> Notification:
        return Notification(
            new_id(),
            person.id,
            person.study_id,
            person.site_id,
            "s/2026-06-10T09:00/due",
            "diary_due",
            1,
            "en",
            at,
            at,
            next_attempt_at=at,
        )

    a = cast(NotifyingUnitOfWork, scratch.runtime.services.uow())
    b = cast(NotifyingUnitOfWork, second.services.uow())
    async with a, b:
        assert await a.notifications.claim(notification())
        # b's insert waits for a's transaction; once a commits, b's claim finds the key taken.
        waiting = asyncio.create_task(b.notifications.claim(notification()))
        await _until_blocked(scratch)
        await a.commit()
        assert not await waiting
        await b.commit()
    assert len(await _rows(scratch)) == 1


async def _until_blocked(scratch: Scratch) -> None:
    """Until some session of this database waits for a lock (the second claim)."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    async with scratch.runtime.engine.connect() as connection:
        for _ in range(400):
            if (await connection.execute(query)).scalar_one():
                return
            await asyncio.sleep(0.01)
    raise AssertionError("the second claim never waited for the first")


async def test_a_failing_push_service_is_retried_then_the_receipt_says_why(
    scratch: Scratch, push: PushService
) -> None:
    setup = await _enrolled(scratch)
    await _subscribe(scratch, setup, push)
    channels = {"webpush": WebPushChannel(vapid())}
    push.status = 500
    CLOCK.pin(datetime(2026, 6, 10, 7, 5, tzinfo=UTC))
    report = await _tick(scratch.runtime, channels)
    assert (report.claimed, report.sent, report.retried) == (1, 0, 1)
    [row] = await _rows(scratch)
    assert (row.state, row.attempts, row.reason) == (State.QUEUED, 1, "webpush: WebPushException")
    assert row.next_attempt_at == CLOCK.now() + reminders.RETRY_DELAY
    await _tick(scratch.runtime, channels)  # not due again yet
    assert len(push.received) == 1
    CLOCK.advance(reminders.RETRY_DELAY)
    await _tick(scratch.runtime, channels)
    CLOCK.advance(reminders.RETRY_DELAY)
    report = await _tick(scratch.runtime, channels)
    assert report.failed == 1
    [row] = await _rows(scratch)
    assert (row.state, row.attempts, row.reason) == (State.FAILED, 3, "webpush: WebPushException")
    push.status = 201
    CLOCK.advance(reminders.RETRY_DELAY)
    await _tick(scratch.runtime, channels)
    assert len(push.received) == reminders.MAX_ATTEMPTS


@pytest.mark.parametrize("status", [404, 410])
async def test_an_expired_subscription_is_removed(
    scratch: Scratch, push: PushService, status: int
) -> None:
    setup = await _enrolled(scratch)
    await _subscribe(scratch, setup, push)
    push.status = status
    CLOCK.pin(datetime(2026, 6, 10, 7, 5, tzinfo=UTC))
    await _tick(scratch.runtime, {"webpush": WebPushChannel(vapid())})
    [row] = await _rows(scratch)
    assert (row.state, row.reason) == (State.FAILED, "subscription expired")
    uow = cast(NotifyingUnitOfWork, scratch.runtime.services.uow())
    async with uow:
        assert await uow.notifications.subscriptions(setup.person.id) == []


async def test_erasure_removes_the_participants_push_subscriptions(
    scratch: Scratch, push: PushService
) -> None:
    """The endpoint's blind index would otherwise tell anyone with the index key that this
    address belonged to the erased participant."""
    setup = await _enrolled(scratch)
    await _subscribe(scratch, setup, push, "one")
    await _subscribe(scratch, setup, push, "two")
    count = text("SELECT count(*) FROM push_subscriptions WHERE participant_id = :p")
    async with scratch.runtime.engine.connect() as connection:
        assert (await connection.execute(count, {"p": setup.person.id})).scalar_one() == 2
    await contacts.erase_participant(
        uow=scratch.runtime.services.uow(),
        ctx=caller(admin()),
        participant_id=setup.person.id,
        legal_basis="GDPR Art. 17(1)(b), ref 7",
    )
    async with scratch.runtime.engine.connect() as connection:
        assert (await connection.execute(count, {"p": setup.person.id})).scalar_one() == 0


async def test_email_goes_in_the_consent_language_without_personal_data(
    scratch: Scratch,
) -> None:
    setup = await _enrolled(scratch, language="de")
    CLOCK.pin(datetime(2026, 6, 10, 7, 5, tzinfo=UTC))
    with smtp_server() as inbox:
        smtp = SmtpSettings("127.0.0.1", inbox.port, "trials@example.org", starttls=False)
        await _tick(scratch.runtime, {"email": EmailChannel(smtp)})
    [row] = await _rows(scratch)
    assert (row.state, row.channel, row.language) == (State.SENT, "email", "de")
    [(_sender, recipients, content)] = inbox.messages
    assert recipients == [setup.world.contacts[0].email]
    [mail] = inbox.mails()
    assert mail["X-Hearth-Notification"] == str(row.id)
    assert mail.get_payload(decode=True).decode().strip() == "Ihr Tagebuch ist bereit."  # type: ignore[union-attr]
    for personal in ("Amelia", "Quartermaine", setup.person.subject_id, "PAIN", "How bad"):
        assert personal not in content.decode()


async def test_no_channel_configured_fails_with_a_reason_and_answered_diaries_get_none(
    scratch: Scratch,
) -> None:
    await _enrolled(scratch)
    CLOCK.pin(datetime(2026, 6, 10, 7, 5, tzinfo=UTC))
    report = await _tick(scratch.runtime, {})
    assert report.failed == 1
    [row] = await _rows(scratch)
    assert (row.state, row.reason) == (State.FAILED, "no channel to reach")


async def test_the_task_is_periodic_on_its_own_queue(scratch: Scratch) -> None:
    kind = job_type(SEND_REMINDERS)
    assert (kind.queue, kind.periodic) == ("notifications", "* * * * *")
    await _enrolled(scratch)
    CLOCK.pin(datetime(2026, 6, 10, 7, 5, tzinfo=UTC))
    services = WorkerServices(
        uows=scratch.runtime.services.uow,
        exports=scratch.runtime.export_engine,
        export_root=scratch.settings.export_path,
        export_retention=timedelta(days=1),
    )
    ctx = caller(admin())
    await kind.handle(services, ctx, {"timestamp": 1})
    [row] = await _rows(scratch)
    assert row.state is State.FAILED  # no channel configured in these services


async def test_the_plan_is_in_local_time_across_the_change_from_summer_time(
    scratch: Scratch,
) -> None:
    CLOCK.pin(datetime(2026, 10, 24, 5, 0, tzinfo=UTC))  # 07:00 CEST; CET from the 25th, 03:00
    setup = await _enrolled(scratch, at=CLOCK.now())
    plan = await reminders.notification_plan(
        uow=scratch.runtime.services.uow(), ctx=setup.me, participant_id=setup.person.id, days=2
    )
    due = [(r.local.isoformat(), r.at.isoformat()) for r in plan.reminders if r.rule == "due"]
    assert due == [
        ("2026-10-24T09:00:00+02:00", "2026-10-24T07:00:00+00:00"),
        ("2026-10-25T09:00:00+01:00", "2026-10-25T08:00:00+00:00"),
    ]
    missed = [r.local.isoformat() for r in plan.reminders if r.rule == "missed"]
    assert missed == ["2026-10-25T08:00:00+01:00"]  # the morning after the 24th's diary
    assert (plan.timezone, plan.language) == ("Europe/Berlin", "en")
    again = await reminders.notification_plan(
        uow=scratch.runtime.services.uow(), ctx=setup.me, participant_id=setup.person.id, days=2
    )
    assert again.version == plan.version
    later = await reminders.notification_plan(
        uow=scratch.runtime.services.uow(), ctx=setup.me, participant_id=setup.person.id, days=3
    )
    assert later.version != plan.version


async def test_a_schedule_with_its_own_policy_is_reminded_by_its_rules_and_text(
    scratch: Scratch, push: PushService
) -> None:
    setup = await _enrolled(scratch)
    own = Policy(
        rules=(ReminderRule("last_call", When.BEFORE_CLOSE, minutes=15),),
        quiet=QuietHours(time(22, 0), time(6, 0)),
        daily_cap=1,
    )
    evening = await diaries.create_schedule(
        uow=scratch.runtime.services.uow(),
        ctx=caller(admin()),
        study_id=setup.world.study.id,
        questionnaire_code="PAIN",
        arm_id=None,
        recurrence=Recurrence(times=(time(18, 0), time(20, 0)), window=timedelta(hours=1)),
        late_policy=LatePolicy.REJECT,
        late_grace=timedelta(0),
        reminders=own,
    )
    async with scratch.runtime.services.uow() as uow:
        (stored,) = [s for s in await uow.diaries.schedules(setup.world.study.id) if s.reminders]
    assert stored.reminders == own  # kept as given
    plan = await reminders.notification_plan(
        uow=scratch.runtime.services.uow(), ctx=setup.me, participant_id=setup.person.id, days=1
    )
    mine = [r for r in plan.reminders if r.key.startswith(str(evening.id))]
    # One a day (the cap), 15 minutes before the 18:00 diary closes (19:00 Berlin, 17:00Z).
    assert [(r.rule, r.local.strftime("%H:%M")) for r in mine] == [("last_call", "18:45")]
    assert {r.rule for r in plan.reminders if r not in mine} == {"due", "closing"}  # default
    # Sent with the text of its kind of rule, once.
    device = await _subscribe(scratch, setup, push)
    CLOCK.pin(mine[0].at)
    report = await _tick(scratch.runtime, {"webpush": WebPushChannel(vapid())})
    assert report.sent >= 1
    bodies = [p["body"] for p in push.opened(device)]
    assert "Your diary closes soon." in bodies


async def test_a_scheduled_visit_is_announced_a_day_ahead_once(scratch: Scratch) -> None:
    setup = await _enrolled(scratch)
    uow = scratch.runtime.services.uow
    definition = await design.create_visit_definition(
        uow=uow(),
        ctx=caller(admin()),
        study_id=setup.world.study.id,
        code="V1",
        name="Week 1",
        day=1,
        window_before=2,
        window_after=2,
        modes=(ContactMode.VIDEO,),
    )
    await visits.schedule(
        uow=uow(),
        ctx=caller(setup.world.coordinator),
        participant_id=setup.person.id,
        definition_id=definition.id,
        mode=ContactMode.VIDEO,
        local_start=datetime(2026, 6, 11, 10, 0),  # Berlin: 08:00 UTC
    )
    plan = await reminders.notification_plan(
        uow=uow(), ctx=setup.me, participant_id=setup.person.id, days=2
    )
    [visit] = [r for r in plan.reminders if r.rule == "visit"]
    assert visit.local.isoformat() == "2026-06-10T10:00:00+02:00"
    CLOCK.pin(datetime(2026, 6, 10, 8, 1, tzinfo=UTC))
    with smtp_server() as inbox:
        smtp = SmtpSettings("127.0.0.1", inbox.port, "trials@example.org", starttls=False)
        channels = {"email": EmailChannel(smtp)}
        await asyncio.gather(_tick(scratch.runtime, channels), _tick(scratch.runtime, channels))
        await _tick(scratch.runtime, channels)
    bodies = sorted(str(m.get_payload(decode=True).decode()).strip() for m in inbox.mails())  # type: ignore[union-attr]
    assert bodies == ["You have a study visit coming up.", "Your diary is ready."]
