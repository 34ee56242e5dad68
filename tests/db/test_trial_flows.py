"""Consent, enrolment, visits, signatures and queries on PostgreSQL, through the use cases."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest

from domain.actors import Actor, ActorKind, Grant, RequestContext, Role
from domain.consent import ConsentText, ConsentVersion
from domain.data_queries import QueryStatus, Target
from domain.design import Arm, ContactMode, VisitDefinition
from domain.errors import DomainError, ErrorCode
from domain.pagination import PageRequest
from domain.participants import Participant, ParticipantStatus
from domain.records import QueryFilter, VisitFilter
from domain.services import (
    consent,
    data_queries,
    design,
    participants,
    signatures,
    studies,
    users,
    visits,
)
from domain.signatures import Meaning
from domain.studies import Site, Study
from domain.visits import Visit, VisitOutcome
from infra.auth.password_screen import ZxcvbnScreen
from infra.auth.passwords import Argon2Passwords
from infra.db.uow import SqlUnitOfWorkFactory
from tests.clock import PinnedClock
from tests.factories import admin, caller, make_study

PASSWORD = "investigator's long password"
HASHER = Argon2Passwords(time_cost=1, memory_kib=64)
TEXTS = (
    ConsentText("en", "Consent", "You may stop at any time."),
    ConsentText("de", "Einwilligung", "Sie können jederzeit aufhören."),
)


@dataclass
class Trial:
    uow: SqlUnitOfWorkFactory
    boss: RequestContext
    study: Study
    site: Site
    inv: RequestContext
    me: RequestContext
    monitor: RequestContext
    person: Participant
    arm: Arm
    week: VisitDefinition

    async def publish(
        self, texts: tuple[ConsentText, ...] = TEXTS, reason: str | None = None
    ) -> ConsentVersion:
        return await consent.publish_version(
            uow=self.uow(), ctx=self.boss, study_id=self.study.id, texts=texts, reason=reason
        )

    async def sign(self, version: ConsentVersion, language: str = "en") -> uuid.UUID:
        signed = await consent.sign(
            uow=self.uow(),
            ctx=self.me,
            consent_version_id=version.id,
            language=language,
            name="Petra Schmidt",
        )
        return signed.id

    async def enrol(self) -> Participant:
        return await participants.enrol_in_arm(
            uow=self.uow(), ctx=self.inv, participant_id=self.person.id, arm_id=self.arm.id
        )

    async def schedule(self, local: datetime, mode: ContactMode = ContactMode.VIDEO) -> Visit:
        return await visits.schedule(
            uow=self.uow(),
            ctx=self.inv,
            participant_id=self.person.id,
            definition_id=self.week.id,
            mode=mode,
            local_start=local,
        )


@pytest.fixture
async def trial(uow: SqlUnitOfWorkFactory) -> Trial:
    boss = caller(admin())
    study = await studies.create_study(uow=uow(), ctx=boss, code=make_study().code, title="T")
    site = await studies.create_site(
        uow=uow(),
        ctx=boss,
        study_id=study.id,
        code="BER",
        name="Berlin",
        country="DE",
        timezone="Europe/Berlin",
    )
    investigator = await users.create_staff_user(
        uow=uow(),
        passwords=HASHER,
        screen=ZxcvbnScreen(),
        ctx=boss,
        email=f"inv-{uuid.uuid4().hex[:6]}@example.org",
        name="Dr. Ines Vogel",
        password=PASSWORD,
        grants=(Grant(Role.INVESTIGATOR, site_id=site.id),),
    )
    inv = caller(
        Actor(ActorKind.STAFF, investigator.id, (Grant(Role.INVESTIGATOR, study.id, site.id),))
    )
    person = await participants.register_participant(
        uow=uow(), ctx=inv, site_id=site.id, screening_number="S-1"
    )
    me = caller(
        Actor(ActorKind.PARTICIPANT, person.id, (Grant(Role.PARTICIPANT, study.id, site.id),))
    )
    monitor = caller(
        Actor(ActorKind.STAFF, uuid.uuid4(), (Grant(Role.MONITOR, study.id, site.id),))
    )
    arm = await design.create_arm(uow=uow(), ctx=boss, study_id=study.id, code="A", name="Active")
    week = await design.create_visit_definition(
        uow=uow(),
        ctx=boss,
        study_id=study.id,
        code="W1",
        name="Week 1",
        day=7,
        window_before=1,
        window_after=1,
        modes=(ContactMode.VIDEO, ContactMode.PHONE),
    )
    return Trial(uow, boss, study, site, inv, me, monitor, person, arm, week)


async def test_consent_enrolment_and_reconsent(trial: Trial) -> None:
    uow, inv = trial.uow, trial.inv
    v1 = await trial.publish()
    with pytest.raises(DomainError) as raised:  # no enrolment without consent
        await trial.enrol()
    assert raised.value.code is ErrorCode.CONSENT_REQUIRED
    consent_id = await trial.sign(v1, "de")
    state = await consent.state(uow=uow(), ctx=inv, participant_id=trial.person.id)
    assert (state.current, state.countersigned) == (True, False)
    assert (
        await participants.get_participant(uow=uow(), ctx=inv, participant_id=trial.person.id)
    ).status is ParticipantStatus.CONSENTED
    with pytest.raises(DomainError) as raised:
        await consent.countersign(
            uow=uow(), passwords=HASHER, ctx=inv, consent_id=consent_id, password="wrong one!!"
        )
    assert raised.value.code is ErrorCode.INVALID_CREDENTIALS
    countersigned = await consent.countersign(
        uow=uow(), passwords=HASHER, ctx=inv, consent_id=consent_id, password=PASSWORD
    )
    assert (countersigned.printed_name, countersigned.meaning) == (
        "Dr. Ines Vogel",
        Meaning.COUNTERSIGNATURE,
    )
    assert (await consent.state(uow=uow(), ctx=inv, participant_id=trial.person.id)).countersigned
    enrolled = await trial.enrol()
    assert enrolled.status is ParticipantStatus.ENROLLED
    assert enrolled.enrolled_on is not None
    with pytest.raises(DomainError) as raised:  # she signed in German; v2 is English only
        await trial.publish(TEXTS[:1])
    assert (raised.value.code, raised.value.field) == (ErrorCode.CONSENT_LANGUAGE_DROPPED, "texts")
    assert "de" in raised.value.message
    v2 = await trial.publish(TEXTS[:1], reason="German version follows after translation review")
    assert not (await consent.state(uow=uow(), ctx=inv, participant_id=trial.person.id)).current
    with pytest.raises(DomainError) as raised:  # an outdated version cannot be signed
        await trial.sign(v1)
    assert raised.value.field == "consent_version_id"
    await trial.sign(v2)
    assert (await consent.state(uow=uow(), ctx=inv, participant_id=trial.person.id)).current


async def test_visits_follow_local_time_and_signatures_bind_a_version(trial: Trial) -> None:
    uow, inv = trial.uow, trial.inv
    await trial.sign(await trial.publish())
    await trial.enrol()  # day-7 visits wait for the enrolment
    summer = await trial.schedule(datetime(2031, 10, 25, 9, 0))
    winter = await trial.schedule(datetime(2031, 10, 27, 9, 0), ContactMode.PHONE)
    assert summer.starts_at == datetime(2031, 10, 25, 7, 0, tzinfo=UTC)  # 09:00 CEST
    assert winter.starts_at == datetime(2031, 10, 27, 8, 0, tzinfo=UTC)  # 09:00 CET
    assert summer.out_of_window  # years after its day-7 window
    with pytest.raises(DomainError):  # a mode this visit is not planned with
        await trial.schedule(datetime(2031, 1, 1, 9), ContactMode.HOME_NURSE)
    signature = await signatures.sign_record(
        uow=uow(),
        passwords=HASHER,
        ctx=inv,
        record_type="Visit",
        record_id=summer.id,
        meaning=Meaning.REVIEW,
        password=PASSWORD,
    )
    assert "Dr. Ines Vogel" in signature.manifestation
    shown = await signatures.signatures_of(
        uow=uow(), ctx=inv, record_type="Visit", record_id=summer.id
    )
    assert [s.valid for s in shown] == [True]
    with pytest.raises(DomainError) as raised:
        await visits.reschedule(
            uow=uow(),
            ctx=inv,
            visit_id=summer.id,
            local_start=datetime(2031, 10, 26, 9),
            assignee_id=None,
            reason=" ",
        )
    assert raised.value.code is ErrorCode.REASON_REQUIRED
    await visits.reschedule(
        uow=uow(),
        ctx=inv,
        visit_id=summer.id,
        local_start=datetime(2031, 10, 26, 9),
        assignee_id=None,
        reason="Participant asked",
    )
    shown = await signatures.signatures_of(
        uow=uow(), ctx=inv, record_type="Visit", record_id=summer.id
    )
    assert [s.valid for s in shown] == [False]  # changed after signing: must be signed again
    done = await visits.complete(
        uow=uow(),
        ctx=inv,
        visit_id=summer.id,
        outcome=VisitOutcome.DONE,
        notes="Talked about sleep",
    )
    assert done.notes == "Talked about sleep"
    with pytest.raises(DomainError) as raised:
        await visits.cancel(uow=uow(), ctx=inv, visit_id=summer.id, reason="too late")
    assert raised.value.code is ErrorCode.INVALID_TRANSITION
    with pytest.raises(DomainError):  # monitors see the visit, never its notes
        visits.notes(trial.monitor, done)
    mine = await visits.page(
        uow=uow(), ctx=trial.me, filters=VisitFilter(site_id=trial.site.id), request=PageRequest()
    )
    assert {v.id for v in mine.items} == {summer.id, winter.id}
    that_day = VisitFilter(site_id=trial.site.id, on=date(2031, 10, 27))
    on_day = await visits.page(uow=uow(), ctx=inv, filters=that_day, request=PageRequest())
    assert [v.id for v in on_day.items] == [winter.id]


async def test_out_of_window_visits_are_flagged_after_enrolment(trial: Trial) -> None:
    await trial.sign(await trial.publish())
    enrolled = await trial.enrol()
    assert enrolled.enrolled_on is not None
    day7 = datetime.combine(enrolled.enrolled_on + timedelta(days=7), datetime.min.time()).replace(
        hour=10
    )
    inside = await trial.schedule(day7 + timedelta(days=1))
    outside = await trial.schedule(day7 + timedelta(days=3))
    assert (inside.out_of_window, outside.out_of_window) == (False, True)


async def test_queries_go_monitor_to_site_and_back(trial: Trial) -> None:
    uow, inv, monitor = trial.uow, trial.inv, trial.monitor
    target = Target("Participant", trial.person.id, "screening_number")
    with pytest.raises(DomainError):  # site staff do not raise queries
        await data_queries.raise_query(uow=uow(), ctx=inv, target=target, question="?")
    query = await data_queries.raise_query(
        uow=uow(), ctx=monitor, target=target, question="Does S-1 match the source?"
    )
    with pytest.raises(DomainError):  # monitors never answer (they never write data)
        await data_queries.answer(uow=uow(), ctx=monitor, query_id=query.id, text="yes")
    answered = await data_queries.answer(
        uow=uow(), ctx=inv, query_id=query.id, text="Checked against the log."
    )
    assert answered.status is QueryStatus.ANSWERED
    with pytest.raises(DomainError):
        await data_queries.close(uow=uow(), ctx=inv, query_id=query.id)
    assert (
        await data_queries.close(uow=uow(), ctx=monitor, query_id=query.id)
    ).status is QueryStatus.CLOSED
    listing = await data_queries.page(
        uow=uow(), ctx=inv, filters=QueryFilter(), request=PageRequest()
    )
    assert [q.id for q in listing.items] == [query.id]
    assert listing.items[0].question == "Does S-1 match the source?"


async def test_time_zone_reports_build_the_history(trial: Trial, clock: PinnedClock) -> None:
    clock.advance(days=3)
    moved = await participants.report_timezone(
        uow=trial.uow(), ctx=trial.me, timezone="America/New_York"
    )
    assert moved.timezone == "America/New_York"
    await participants.report_timezone(uow=trial.uow(), ctx=trial.me, timezone="America/New_York")
    async with trial.uow() as unit:
        zones = await unit.participants.zones(trial.person.id)
    assert [z.timezone for z in zones] == ["Europe/Berlin", "America/New_York"]
    with pytest.raises(DomainError):  # only the participant's app reports its zone
        await participants.report_timezone(uow=trial.uow(), ctx=trial.inv, timezone="Asia/Tokyo")


async def test_two_zone_reports_at_one_instant_keep_the_later(trial: Trial) -> None:
    # Registration and a report land on the same server instant: no error, the later wins.
    await participants.report_timezone(uow=trial.uow(), ctx=trial.me, timezone="Asia/Tokyo")
    async with trial.uow() as unit:
        zones = await unit.participants.zones(trial.person.id)
    assert [z.timezone for z in zones] == ["Asia/Tokyo"]
