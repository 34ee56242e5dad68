"""Coordinator alerts on PostgreSQL: every rule kind from real data, once per cause (two
workers at once included), the serious-event alert at once, acknowledgement, the e-mail."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from email import message_from_bytes
from typing import Any, cast

import aiosmtplib
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import text as sql_text

from domain import audit
from domain.actors import Actor, ActorKind, Grant, RequestContext, Role
from domain.adverse_events import AdverseEventDetails, Seriousness, Severity
from domain.alerts import NOTIFY_SITE, AlertKind, AlertStatus
from domain.design import ContactMode
from domain.errors import DomainError, ErrorCode
from domain.readings import ReadingKind
from domain.services import adverse_events, alerts, design, devices, readings, users, visits
from domain.services.alerts import MAIL_AGAIN_AFTER, AlertsUnitOfWork, RuleInput
from infra.auth.password_screen import ZxcvbnScreen
from infra.auth.passwords import Argon2Passwords
from infra.changefeed import notify
from infra.db.uow import SqlUnitOfWorkFactory
from infra.notifications.email import EmailChannel, SmtpSettings
from tests.clock import PinnedClock
from tests.factories import admin, caller
from tests.unit.test_notification_channels import _free_port, _Inbox
from tests.world import PEOPLE, World, add_diary, build_world

WORKER = caller()


def _app(world: World) -> RequestContext:
    person = world.people[0]
    grant = Grant(Role.PARTICIPANT, world.study.id, world.site.id)
    return caller(Actor(ActorKind.PARTICIPANT, person.id, (grant,)))


async def _rule(uow: SqlUnitOfWorkFactory, world: World, given: RuleInput) -> None:
    await alerts.set_rule(
        uow=uow(),
        ctx=caller(world.coordinator),
        study_id=world.study.id,
        rule_id=None,
        version=None,
        given=given,
    )


async def _heart_rates(
    uow: SqlUnitOfWorkFactory, world: World, values: dict[str, tuple[int, datetime]]
) -> dict[str, Any]:
    staff = caller(world.coordinator)
    watch = await devices.register(
        uow=uow(),
        ctx=staff,
        site_id=world.site.id,
        kinds=(ReadingKind.HEART_RATE,),
        model="Watch",
        serial=f"W-{uuid.uuid4().hex[:8]}",
    )
    await devices.assign(
        uow=uow(), ctx=staff, device_id=watch.id, participant_id=world.people[0].id
    )
    done = await readings.ingest(
        uow=uow(),
        ctx=_app(world),
        items=[
            {
                "deviceId": str(watch.id),
                "kind": "HEART_RATE",
                "sourceId": name,
                "body": {
                    "heart_rate": {"value": value, "unit": "beats/min"},
                    "effective_time_frame": {"date_time": at.isoformat()},
                },
            }
            for name, (value, at) in values.items()
        ],
    )
    return dict(zip(values, done.items, strict=True))


async def _alerts(uow: SqlUnitOfWorkFactory, world: World) -> list[Any]:
    return list(
        await alerts.of_site(
            uow=uow(), ctx=caller(world.coordinator), site_id=world.site.id, status=None
        )
    )


async def test_each_rule_raises_from_real_data_once_per_cause(
    uow: SqlUnitOfWorkFactory, clock: PinnedClock
) -> None:
    world = await build_world(uow)
    await add_diary(uow, world)  # hourly diaries, two answered; a watch
    consented = clock.now()
    clock.advance(hours=1)  # the new watch is handed over an hour after consent
    now = clock.now()
    items = await _heart_rates(
        uow,
        world,
        {
            "calm": (64, now + timedelta(minutes=1)),
            "racing": (190, now),
            "early": (70, consented + timedelta(minutes=10)),  # before the hand-over
        },
    )
    assert [i.outcome.value for i in items.values()] == ["ACCEPTED", "ACCEPTED", "QUARANTINED"]
    definition = await design.create_visit_definition(
        uow=uow(),
        ctx=caller(admin()),
        study_id=world.study.id,
        code="W1",
        name="Week 1",
        day=0,
        window_before=0,
        window_after=1,
        modes=(ContactMode.VIDEO,),
    )
    visit = await visits.schedule(
        uow=uow(),
        ctx=caller(world.coordinator),
        participant_id=world.people[0].id,
        definition_id=definition.id,
        mode=ContactMode.VIDEO,
        local_start=datetime(2026, 6, 10, 15, 0),
    )
    for given in (
        RuleInput(AlertKind.MISSED_DIARIES, missed=3),
        RuleInput(
            AlertKind.READING_OUT_OF_RANGE,
            reading_kind="HEART_RATE",
            low=Decimal(40),
            high=Decimal(150),
        ),
        RuleInput(AlertKind.QUARANTINE_WAITING),
        RuleInput(AlertKind.VISIT_OVERDUE),
    ):
        await _rule(uow, world, given)

    first = await alerts.evaluate(uows=uow, ctx=WORKER, study_ids=[world.study.id])
    # Right now: the racing heart and the quarantined reading; no diary run, no late visit.
    assert sorted(a.kind for a in first) == [
        AlertKind.QUARANTINE_WAITING,
        AlertKind.READING_OUT_OF_RANGE,
    ]
    assert {a.record_id for a in first} == {items["racing"].reading_id, items["early"].reading_id}

    clock.advance(days=2)  # the diaries go unanswered; the visit's window (day 0-1) closes
    later = await alerts.evaluate(uows=uow, ctx=WORKER, study_ids=[world.study.id])
    assert sorted(a.kind for a in later) == [AlertKind.MISSED_DIARIES, AlertKind.VISIT_OVERDUE]
    assert [a.record_id for a in later if a.kind is AlertKind.VISIT_OVERDUE] == [visit.id]
    clock.advance(hours=5)  # the same run of missed diaries, only longer
    assert await alerts.evaluate(uows=uow, ctx=WORKER, study_ids=[world.study.id]) == []
    listed = await _alerts(uow, world)
    assert len(listed) == 4
    assert all(
        a.status is AlertStatus.OPEN and a.participant_id == world.people[0].id for a in listed
    )


async def test_a_serious_adverse_event_raises_its_alert_at_once(uow: SqlUnitOfWorkFactory) -> None:
    world = await build_world(uow)
    await _rule(uow, world, RuleInput(AlertKind.SERIOUS_ADVERSE_EVENT, email=True))
    details = AdverseEventDetails(term="Chest pain", severity=Severity.SEVERE)
    mild = await adverse_events.record(
        uow=uow(), ctx=caller(world.coordinator), participant_id=world.people[0].id, details=details
    )
    assert await _alerts(uow, world) == []
    serious = AdverseEventDetails(
        term="Chest pain", severity=Severity.SEVERE, seriousness=(Seriousness.HOSPITALISATION,)
    )
    corrected = await adverse_events.correct(
        uow=uow(),
        ctx=caller(world.coordinator),
        event_id=mild.id,
        version=mild.version,
        details=serious,
        code="TRANSCRIPTION_ERROR",
        reason=None,
    )
    (alert,) = await _alerts(uow, world)
    assert (alert.kind, alert.record_id) == (AlertKind.SERIOUS_ADVERSE_EVENT, corrected.id)
    # A later correction of the same serious event raises nothing new.
    await adverse_events.correct(
        uow=uow(),
        ctx=caller(world.coordinator),
        event_id=corrected.id,
        version=corrected.version,
        details=AdverseEventDetails(
            term="Angina", severity=Severity.SEVERE, seriousness=(Seriousness.HOSPITALISATION,)
        ),
        code="TRANSCRIPTION_ERROR",
        reason=None,
    )
    assert len(await _alerts(uow, world)) == 1


async def test_acknowledging_is_audited_the_note_sealed_and_only_once(
    uow: SqlUnitOfWorkFactory,
) -> None:
    world = await build_world(uow)
    await add_diary(uow, world)
    await _rule(
        uow,
        world,
        RuleInput(AlertKind.READING_OUT_OF_RANGE, reading_kind="HEART_RATE", high=Decimal(150)),
    )
    await _heart_rates(uow, world, {"racing": (190, uow().clock.now())})
    (alert,) = await alerts.evaluate(uows=uow, ctx=WORKER, study_ids=[world.study.id])
    note = "Phoned Amelia, she had climbed the stairs"
    done = await alerts.acknowledge(
        uow=uow(), ctx=caller(world.coordinator), alert_id=alert.id, note=note
    )
    assert done.status is AlertStatus.ACKNOWLEDGED
    (stored,) = await alerts.of_site(
        uow=uow(),
        ctx=caller(world.coordinator),
        site_id=world.site.id,
        status=AlertStatus.ACKNOWLEDGED,
    )
    assert stored.note == note
    async with uow() as u:
        row = (
            await u.session.execute(
                sql_text("SELECT note_sealed FROM alerts WHERE id = :i"),
                {"i": alert.id},
            )
        ).scalar_one()
    assert note.encode() not in row
    with pytest.raises(DomainError) as twice:
        await alerts.acknowledge(
            uow=uow(), ctx=caller(world.coordinator), alert_id=alert.id, note="again"
        )
    assert twice.value.code is ErrorCode.INVALID_TRANSITION
    # The change feed carries alerts under their own kind.
    created = notify.notices([_created_change(alert)])
    assert [n.kind for n in created] == ["alert"]


def _created_change(alert: Any) -> Any:
    grant = Grant(Role.SYSTEM)
    return audit.created(WORKER, grant, alert, audit.Subject(alert.study_id, alert.site_id))


async def test_two_workers_evaluating_at_once_raise_one_alert_per_cause(
    committing_uow: SqlUnitOfWorkFactory,
) -> None:
    uow = committing_uow
    world = await build_world(uow)
    await add_diary(uow, world)
    await _rule(
        uow,
        world,
        RuleInput(AlertKind.READING_OUT_OF_RANGE, reading_kind="HEART_RATE", high=Decimal(150)),
    )
    await _heart_rates(uow, world, {"racing": (190, uow().clock.now())})
    # Both transactions find the same reading; the second waits for the first's row, then
    # finds its (rule, cause) taken and raises nothing.
    one, two = await asyncio.gather(
        alerts.evaluate(uows=uow, ctx=WORKER, study_ids=[world.study.id]),
        alerts.evaluate(uows=uow, ctx=WORKER, study_ids=[world.study.id]),
    )
    assert sorted([len(one), len(two)]) == [0, 1]
    assert len(await _alerts(uow, world)) == 1


async def test_site_staff_get_an_email_with_a_count_and_a_link_only(
    uow: SqlUnitOfWorkFactory,
) -> None:
    world = await build_world(uow)
    await add_diary(uow, world)
    hasher = Argon2Passwords(time_cost=1, memory_kib=64)
    email = f"coord-{uuid.uuid4().hex[:6]}@example.org"
    await users.create_staff_user(
        uow=uow(),
        passwords=hasher,
        screen=ZxcvbnScreen(),
        ctx=caller(admin()),
        email=email,
        name="Site Coordinator",
        password="a long and unguessable passphrase 42",
        grants=(Grant(Role.COORDINATOR, world.study.id, world.site.id),),
    )
    await _rule(
        uow,
        world,
        RuleInput(
            AlertKind.READING_OUT_OF_RANGE, email=True, reading_kind="HEART_RATE", high=Decimal(150)
        ),
    )
    now = uow().clock.now()
    await _heart_rates(uow, world, {"a": (190, now), "b": (200, now + timedelta(minutes=1))})
    raised = await alerts.evaluate(uows=uow, ctx=WORKER, study_ids=[world.study.id])
    assert len(raised) == 2
    inbox, port = _Inbox(), _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        channel = EmailChannel(
            SmtpSettings(host="127.0.0.1", port=port, sender="alerts@example.org", starttls=False)
        )
        sent = await alerts.notify_site(
            uows=uow,
            channel=channel,
            site_id=world.site.id,
            console_url="https://console.example.org/",
        )
        again = await alerts.notify_site(uows=uow, channel=channel, site_id=world.site.id)
    finally:
        controller.stop()
    assert (sent, again) == (2, 0)
    [(_, recipients, content)] = inbox.messages
    assert recipients == [email]
    mail = message_from_bytes(content)
    assert mail["Subject"] == "2 new alerts at site Berlin"
    body = mail.get_payload(decode=True)
    assert isinstance(body, bytes)
    text = content.decode() + body.decode()
    assert "https://console.example.org/" in body.decode()
    for secret in (world.people[0].subject_id, PEOPLE[0]["full_name"], "190", "HEART"):
        assert secret not in text
    assert NOTIFY_SITE == "alerts.notify_site"


async def test_a_failed_alert_email_stays_due_and_is_handed_out_again(
    uow: SqlUnitOfWorkFactory, clock: PinnedClock
) -> None:
    world = await build_world(uow)
    await add_diary(uow, world)
    email = f"coord-{uuid.uuid4().hex[:6]}@example.org"
    await users.create_staff_user(
        uow=uow(),
        passwords=Argon2Passwords(time_cost=1, memory_kib=64),
        screen=ZxcvbnScreen(),
        ctx=caller(admin()),
        email=email,
        name="Site Coordinator",
        password="a long and unguessable passphrase 42",
        grants=(Grant(Role.COORDINATOR, world.study.id, world.site.id),),
    )
    rule = RuleInput(
        AlertKind.READING_OUT_OF_RANGE, email=True, reading_kind="HEART_RATE", high=Decimal(150)
    )
    await _rule(uow, world, rule)
    await _heart_rates(uow, world, {"a": (190, clock.now()), "b": (200, clock.now())})
    assert len(await alerts.evaluate(uows=uow, ctx=WORKER, study_ids=[world.study.id])) == 2

    async def waiting() -> list[Any]:
        async with cast(AlertsUnitOfWork, uow()) as u:
            return list(await u.alerts.sites_awaiting_mail(clock.now()))

    async def handed_out() -> int:
        async with uow() as u:
            found = await u.session.execute(
                sql_text(
                    "SELECT count(*) FROM procrastinate_jobs WHERE task_name = :t "
                    "AND args->>'site_id' = :s"
                ),
                {"t": NOTIFY_SITE, "s": str(world.site.id)},
            )
            return int(found.scalar_one())

    # The SMTP server is down: the job fails, nothing is marked mailed.
    down = EmailChannel(
        SmtpSettings(host="127.0.0.1", port=_free_port(), sender="a@example.org", starttls=False)
    )
    with pytest.raises(aiosmtplib.SMTPException):
        await alerts.notify_site(uows=uow, channel=down, site_id=world.site.id)
    clock.advance(MAIL_AGAIN_AFTER + timedelta(seconds=1))
    assert world.site.id in await waiting()
    before = await handed_out()
    await alerts.evaluate(uows=uow, ctx=WORKER, study_ids=[world.study.id])
    assert await handed_out() == before + 1  # the periodic pass tries again

    inbox, port = _Inbox(), _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        up = EmailChannel(
            SmtpSettings(host="127.0.0.1", port=port, sender="a@example.org", starttls=False)
        )
        sent = await alerts.notify_site(uows=uow, channel=up, site_id=world.site.id)
    finally:
        controller.stop()
    assert sent == 2
    assert [recipients for _, recipients, _ in inbox.messages] == [[email]]
    assert world.site.id not in await waiting()
