"""ePRO diary rules and use cases on fakes: due occurrences, outcomes per entry, compliance."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, date, datetime, time, timedelta

import pytest

from domain.actors import Actor, ActorKind, Grant, Role
from domain.consent import ConsentText
from domain.diaries import EntryCode, LatePolicy, Submission
from domain.errors import DomainError, ErrorCode
from domain.intake import Outcome
from domain.participants import Participant, ParticipantStatus
from domain.questionnaires import Choice, Item, ItemType, QuestionnaireDraft, publish
from domain.schedules import Recurrence, Timeliness
from domain.services import consent, diaries, participants, questionnaires
from tests.factories import admin, at_site, caller, make_participant, make_site
from tests.fakes import FakeClock, FakeUnitOfWork

START = datetime(2026, 3, 23, 6, 0, tzinfo=UTC)  # Monday, 07:00 in Berlin


def _draft(title: str = "Pain") -> QuestionnaireDraft:
    return QuestionnaireDraft(
        code="PAIN",
        title={"en": title},
        languages=("en",),
        items=(
            Item(
                "PAINNRS",
                ItemType.SCALE,
                {"en": "Pain now"},
                minimum=0,
                maximum=10,
                anchors={0: {"en": "None"}, 10: {"en": "Worst"}},
            ),
            Item(
                "SLEEP",
                ItemType.SINGLE_CHOICE,
                {"en": "Slept?"},
                choices=(Choice("Y", {"en": "Yes"}), Choice("N", {"en": "No"})),
            ),
            Item("NOTE", ItemType.FREE_TEXT, {"en": "Anything else?"}, required=False),
        ),
    )


async def _world(
    policy: LatePolicy = LatePolicy.ACCEPT_LATE,
) -> tuple[FakeUnitOfWork, Participant, Actor, uuid.UUID]:
    uow = FakeUnitOfWork(FakeClock(START))
    site = make_site()
    await uow.studies.add(
        dataclasses.replace(
            __import__("tests.factories", fromlist=["make_study"]).make_study(), id=site.study_id
        )
    )
    await uow.sites.add(site)
    person = make_participant(site, registered_at=START - timedelta(days=2))
    await uow.participants.try_add(person)
    boss = caller(admin())
    published = await questionnaires.publish_version(
        uow=uow, ctx=boss, study_id=site.study_id, draft=_draft()
    )
    grace = timedelta(hours=12) if policy is LatePolicy.ACCEPT_LATE else timedelta(0)
    schedule = await diaries.create_schedule(
        uow=uow,
        ctx=boss,
        study_id=site.study_id,
        questionnaire_code="PAIN",
        arm_id=None,
        recurrence=Recurrence(times=(time(9, 0),), window=timedelta(hours=2)),
        late_policy=policy,
        late_grace=grace,
    )
    document = await consent.publish_version(
        uow=uow, ctx=boss, study_id=site.study_id, texts=(ConsentText("en", "C", "Body"),)
    )
    me = Actor(ActorKind.PARTICIPANT, person.id, (Grant(Role.PARTICIPANT, site.study_id, site.id),))
    await consent.sign(
        uow=uow, ctx=caller(me), consent_version_id=document.id, language="en", name="Me"
    )
    arm = await __import__("domain.services.design", fromlist=["create_arm"]).create_arm(
        uow=uow, ctx=boss, study_id=site.study_id, code="A", name="A"
    )
    await participants.enrol_in_arm(
        uow=uow,
        ctx=caller(at_site(Role.COORDINATOR, site)),
        participant_id=person.id,
        arm_id=arm.id,
    )
    assert published.definition.version == 1
    return uow, person, me, schedule.id


def _entry(schedule: uuid.UUID, key: str, completed: datetime, **answers: object) -> Submission:
    return Submission(
        client_id=uuid.uuid4(),
        schedule_id=schedule,
        occurrence_key=key,
        questionnaire_code="PAIN",
        questionnaire_version=1,
        content_hash=_draft_hash(),
        answers=answers or {"PAINNRS": 3, "SLEEP": "Y"},
        completed_at=completed,
    )


def _draft_hash() -> str:
    return publish(_draft(), 1).content_hash


async def test_due_occurrences_start_at_enrolment_in_local_time() -> None:
    uow, person, me, _ = await _world()
    due = await diaries.due(
        uow=uow,
        ctx=caller(me),
        participant_id=person.id,
        start=START,
        end=START + timedelta(days=3),
    )
    assert [d.occurrence.key for d in due] == [
        "2026-03-23T09:00",
        "2026-03-24T09:00",
        "2026-03-25T09:00",
    ]
    assert due[0].occurrence.due_at == datetime(2026, 3, 23, 8, 0, tzinfo=UTC)  # 09:00 CET
    assert not any(d.answered for d in due)


async def test_each_entry_gets_an_outcome_and_resends_change_nothing() -> None:
    uow, _, me, schedule = await _world()
    on_time = _entry(
        schedule,
        "2026-03-23T09:00",
        datetime(2026, 3, 23, 9, 30, tzinfo=UTC),
        PAINNRS=4,
        SLEEP="N",
        NOTE="Knee hurts",
    )
    late = _entry(schedule, "2026-03-22T09:00", datetime(2026, 3, 22, 20, 0, tzinfo=UTC))
    bad = _entry(
        schedule,
        "2026-03-23T09:00",
        datetime(2026, 3, 23, 9, 31, tzinfo=UTC),
        PAINNRS=11,
        SLEEP="Y",
    )
    second = _entry(schedule, "2026-03-23T09:00", datetime(2026, 3, 23, 9, 40, tzinfo=UTC))
    unknown = dataclasses.replace(
        on_time, client_id=uuid.uuid4(), occurrence_key="2026-03-23T10:00"
    )
    uow.clock.current = datetime(2026, 3, 23, 10, 0, tzinfo=UTC)
    results = await diaries.submit(
        uow=uow, ctx=caller(me), submissions=[on_time, late, bad, second, unknown]
    )
    assert [(r.outcome, r.code) for r in results] == [
        (Outcome.ACCEPTED, None),
        (Outcome.REJECTED, "CONSENT_REQUIRED"),  # completed before the consent was signed
        (Outcome.REJECTED, EntryCode.INVALID_ANSWERS),
        (Outcome.QUARANTINED, EntryCode.ANSWERED_ALREADY),
        (Outcome.REJECTED, EntryCode.UNKNOWN_OCCURRENCE),
    ]
    assert results[2].problems[0].item == "PAINNRS"
    stored = results[0].entry
    assert stored is not None
    assert stored.timeliness is Timeliness.ON_TIME
    assert stored.free_text == {"NOTE": "Knee hurts"}
    assert "NOTE" not in stored.answers  # free text is kept apart, to be sealed
    again = await diaries.submit(uow=uow, ctx=caller(me), submissions=[on_time])
    assert [(r.outcome, r.entry.id if r.entry else None) for r in again] == [
        (Outcome.DUPLICATE, on_time.client_id)
    ]
    changed = dataclasses.replace(on_time, answers={"PAINNRS": 9, "SLEEP": "Y"})
    assert (await diaries.submit(uow=uow, ctx=caller(me), submissions=[changed]))[
        0
    ].code is EntryCode.CLIENT_ID_CONFLICT
    assert len(uow.diaries.rows) == 2  # the accepted entry and the quarantined second answer


@pytest.mark.parametrize(
    ("policy", "completed", "expected"),
    [
        (
            LatePolicy.ACCEPT_LATE,
            datetime(2026, 3, 23, 15, 0, tzinfo=UTC),
            (Outcome.ACCEPTED, None),
        ),
        (
            LatePolicy.ACCEPT_LATE,
            datetime(2026, 3, 24, 7, 0, tzinfo=UTC),
            (Outcome.QUARANTINED, EntryCode.WINDOW_CLOSED),
        ),
        (
            LatePolicy.REJECT,
            datetime(2026, 3, 23, 15, 0, tzinfo=UTC),
            (Outcome.REJECTED, EntryCode.WINDOW_CLOSED),
        ),
        (
            LatePolicy.REJECT,
            datetime(2026, 3, 23, 7, 0, tzinfo=UTC),
            (Outcome.REJECTED, EntryCode.WINDOW_NOT_OPEN),
        ),
    ],
)
async def test_windows_follow_the_late_policy(
    policy: LatePolicy, completed: datetime, expected: tuple[Outcome, EntryCode | None]
) -> None:
    uow, _, me, schedule = await _world(policy)
    uow.clock.current = datetime(2026, 3, 24, 8, 0, tzinfo=UTC)
    (result,) = await diaries.submit(
        uow=uow, ctx=caller(me), submissions=[_entry(schedule, "2026-03-23T09:00", completed)]
    )
    assert (result.outcome, result.code) == expected


async def test_withdrawn_participants_and_missing_consent_are_refused_per_entry() -> None:
    uow, person, me, schedule = await _world()
    await participants.change_status(
        uow=uow,
        ctx=caller(admin()),
        participant_id=person.id,
        status=ParticipantStatus.WITHDRAWN,
        reason="left",
    )
    results = await diaries.submit(
        uow=uow, ctx=caller(me), submissions=[_entry(schedule, "2026-03-23T09:00", START)] * 2
    )
    assert {(r.outcome, r.code) for r in results} == {(Outcome.REJECTED, "PARTICIPANT_WITHDRAWN")}


async def test_staff_enter_data_only_as_proxy_with_a_reason() -> None:
    uow, person, _, schedule = await _world()
    coordinator = caller(
        Actor(
            ActorKind.STAFF,
            uuid.uuid4(),
            (Grant(Role.COORDINATOR, person.study_id, person.site_id),),
        )
    )
    uow.clock.current = datetime(2026, 3, 23, 9, 0, tzinfo=UTC)
    entry = _entry(schedule, "2026-03-23T09:00", datetime(2026, 3, 23, 8, 30, tzinfo=UTC))
    with pytest.raises(DomainError) as raised:
        await diaries.submit(
            uow=uow, ctx=coordinator, submissions=[entry], participant_id=person.id
        )
    assert raised.value.code is ErrorCode.REASON_REQUIRED
    (result,) = await diaries.submit(
        uow=uow,
        ctx=coordinator,
        submissions=[entry],
        participant_id=person.id,
        proxy_reason="Phone interview: app broken",
    )
    assert result.outcome is Outcome.ACCEPTED
    assert uow.events[-1].reason == "Phone interview: app broken"
    monitor = caller(
        Actor(
            ActorKind.STAFF, uuid.uuid4(), (Grant(Role.MONITOR, person.study_id, person.site_id),)
        )
    )
    with pytest.raises(DomainError):
        await diaries.submit(
            uow=uow, ctx=monitor, submissions=[entry], participant_id=person.id, proxy_reason="x"
        )


async def test_corrections_log_exactly_the_changed_items_and_need_a_reason() -> None:
    uow, person, me, schedule = await _world()
    uow.clock.current = datetime(2026, 3, 23, 9, 0, tzinfo=UTC)
    (result,) = await diaries.submit(
        uow=uow,
        ctx=caller(me),
        submissions=[
            _entry(schedule, "2026-03-23T09:00", datetime(2026, 3, 23, 8, 30, tzinfo=UTC))
        ],
    )
    assert result.entry is not None
    staff = caller(
        Actor(
            ActorKind.STAFF,
            uuid.uuid4(),
            (Grant(Role.INVESTIGATOR, person.study_id, person.site_id),),
        )
    )
    with pytest.raises(DomainError) as raised:
        await diaries.correct_entry(
            uow=uow, ctx=staff, entry_id=result.entry.id, changes={"PAINNRS": 5}, reason=""
        )
    assert raised.value.code is ErrorCode.REASON_REQUIRED
    corrected = await diaries.correct_entry(
        uow=uow,
        ctx=staff,
        entry_id=result.entry.id,
        changes={"PAINNRS": 5, "SLEEP": "Y"},
        reason="Participant misread the scale",
    )
    assert corrected.answers["PAINNRS"] == 5
    assert corrected.version == 2
    change = uow.events[-1]
    assert [(f.field, f.old, f.new) for f in change.fields] == [("answers.PAINNRS", 3, 5)]
    assert len(uow.diaries.requests) == 1
    with pytest.raises(DomainError):  # monitors never change data
        await diaries.correct_entry(
            uow=uow,
            ctx=caller(
                Actor(
                    ActorKind.STAFF,
                    uuid.uuid4(),
                    (Grant(Role.MONITOR, person.study_id, person.site_id),),
                )
            ),
            entry_id=result.entry.id,
            changes={"PAINNRS": 1},
            reason="x",
        )


async def test_compliance_counts_closed_windows() -> None:
    uow, person, me, schedule = await _world()
    uow.clock.current = datetime(2026, 3, 23, 9, 0, tzinfo=UTC)
    await diaries.submit(
        uow=uow,
        ctx=caller(me),
        submissions=[
            _entry(schedule, "2026-03-23T09:00", datetime(2026, 3, 23, 8, 30, tzinfo=UTC))
        ],
    )
    uow.clock.current = datetime(2026, 3, 26, 12, 0, tzinfo=UTC)  # four 09:00 windows have closed
    result = await diaries.compliance(uow=uow, ctx=caller(admin()), participant_ids=[person.id])
    assert (result.expected, result.on_time, result.late, result.missed) == (4, 1, 0, 3)
    assert result.rate == 0.25
    assert date(2026, 3, 23) == person.registered_at.date() + timedelta(days=2)
