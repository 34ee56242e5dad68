"""Stored diary plans on fakes: every read equals the pure planner (DST, travel, the date
line), a plan is extended as the horizon runs out, and each planner input changes the basis."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, date, datetime, time, timedelta

import pytest

from domain.diaries import DiarySchedule, LatePolicy
from domain.occurrences import REPLAN, REPLAN_STUDY, PlanInputs
from domain.participants import Participant, ParticipantStatus
from domain.schedules import Occurrence, Recurrence, ZoneChange, occurrences
from domain.services import occurrences as plans
from tests.factories import make_participant, make_site
from tests.fakes import FakeClock, FakeUnitOfWork

ENROLLED = date(2026, 3, 20)
NOW = datetime(2026, 3, 20, 8, 0, tzinfo=UTC)
HOURS = (time(0, 30), time(2, 30), time(9), time(23, 30))


def _schedule(study_id: uuid.UUID, *times: time, arm: uuid.UUID | None = None) -> DiarySchedule:
    return DiarySchedule.new(
        study_id=study_id,  # type: ignore[arg-type]
        questionnaire_code="PAIN",
        arm_id=arm,
        recurrence=Recurrence(times=times, window=timedelta(hours=2), weekdays=None),
        late_policy=LatePolicy.REJECT,
        late_grace=timedelta(0),
        now=NOW,
    )


async def _world(*zones: tuple[datetime, str]) -> tuple[FakeUnitOfWork, Participant]:
    uow = FakeUnitOfWork(FakeClock(NOW))
    site = make_site()
    arm = uuid.uuid4()
    person = make_participant(
        site,
        status=ParticipantStatus.ENROLLED,
        registered_at=NOW - timedelta(days=30),
        timezone="Europe/Berlin",
    )
    person = dataclasses.replace(person, arm_id=arm, enrolled_on=ENROLLED)
    await uow.participants.try_add(person)
    for schedule in (
        _schedule(site.study_id, *HOURS),
        _schedule(site.study_id, time(9), time(14), arm=arm),
        _schedule(site.study_id, time(10), arm=uuid.uuid4()),  # another arm's: never planned
    ):
        await uow.diaries.add_schedule(schedule)
    for since, name in zones:
        await uow.participants.add_zone(person.id, ZoneChange(since, name))
    return uow, person


async def _reference(
    uow: FakeUnitOfWork, person: Participant, start: datetime, end: datetime
) -> list[tuple[uuid.UUID, Occurrence]]:
    """The planner as requests used it before plans were stored."""
    history = await uow.participants.zones(person.id)
    found: list[tuple[uuid.UUID, Occurrence]] = []
    for s in await uow.diaries.schedules(person.study_id):
        if s.applies_to(person.arm_id):
            found += [
                (s.id, o)
                for o in occurrences(
                    s.recurrence, anchor=ENROLLED, history=history, start=start, end=end
                )
            ]
    return sorted(found, key=lambda pair: pair[1].due_at)


async def _stored(
    uow: FakeUnitOfWork, person: Participant, start: datetime, end: datetime
) -> list[tuple[uuid.UUID, Occurrence]]:
    async with uow:
        found = await plans.plan(uow, person, start, end)
        await uow.commit()
    return [(s.id, o) for s, o in found]


TRAVEL = {
    "Berlin through both DST changes": (),
    "a flight west and one east": (
        (datetime(2026, 4, 2, 15, tzinfo=UTC), "America/New_York"),
        (datetime(2026, 4, 9, 3, tzinfo=UTC), "Asia/Tokyo"),
    ),
    "over the date line both ways": (
        (datetime(2026, 4, 1, 10, tzinfo=UTC), "Pacific/Kiritimati"),
        (datetime(2026, 4, 5, 10, tzinfo=UTC), "Pacific/Honolulu"),
    ),
}


@pytest.mark.parametrize("zones", TRAVEL.values(), ids=TRAVEL.keys())
async def test_every_read_equals_the_planner_as_time_goes_by(
    zones: tuple[tuple[datetime, str], ...],
) -> None:
    uow, person = await _world(*zones)
    clock = uow.clock
    assert isinstance(clock, FakeClock)
    # Day by day over eight months, the home screen's two days and a week back.
    for day in range(0, 240, 3):
        clock.current = NOW + timedelta(days=day, hours=day % 24)
        now = clock.current
        for start, end in (
            (now, now + timedelta(days=2)),
            (now - timedelta(days=7), now + timedelta(hours=5)),
            (now - timedelta(days=day + 5), now),  # compliance: since enrolment
        ):
            assert await _stored(uow, person, start, end) == await _reference(
                uow, person, start, end
            )
    # One plan, extended only when a read reached past it, each occurrence once.
    ((until, rows),) = uow.occurrences.rows.values()
    assert clock.current + timedelta(days=2) <= until <= clock.current + uow.occurrences.horizon
    inputs = await _inputs(uow, person)
    assert sorted(rows) == sorted(
        (p.schedule_id, p.occurrence.key) for p in inputs.plan(inputs.origin, until)
    )


async def test_a_plan_is_extended_when_a_request_reaches_past_it() -> None:
    uow, person = await _world()
    await _stored(uow, person, NOW, NOW + timedelta(days=1))
    ((first, rows),) = uow.occurrences.rows.values()
    assert first == NOW + uow.occurrences.horizon
    assert len(rows) == len(await _reference(uow, person, NOW - timedelta(days=9), first))
    wanted = (first + timedelta(days=10), first + timedelta(days=12))
    assert await _stored(uow, person, *wanted) == await _reference(uow, person, *wanted)
    ((until, more),) = uow.occurrences.rows.values()
    assert until == wanted[1]
    assert len(more) == len(await _reference(uow, person, NOW - timedelta(days=9), until))
    # A year ahead is answered, and not stored.
    ahead = (NOW + timedelta(days=365), NOW + timedelta(days=367))
    assert await _stored(uow, person, *ahead) == await _reference(uow, person, *ahead)
    assert list(uow.occurrences.rows.values()) == [(until, more)]


async def _inputs(uow: FakeUnitOfWork, person: Participant) -> PlanInputs:
    found = await plans.inputs(uow, person)
    assert found is not None
    return found


async def test_each_planner_input_changes_the_basis_and_others_do_not() -> None:
    uow, person = await _world()
    basis = (await _inputs(uow, person)).basis()
    assert (await _inputs(uow, person)).basis() == basis  # the same inputs, the same basis
    assert (await _inputs(uow, dataclasses.replace(person, version=9))).basis() == basis
    changed = [
        dataclasses.replace(person, enrolled_on=ENROLLED + timedelta(days=1)),
        dataclasses.replace(person, arm_id=uuid.uuid4()),  # one schedule fewer applies
    ]
    bases = {(await _inputs(uow, p)).basis() for p in changed}
    await uow.participants.add_zone(person.id, ZoneChange(NOW, "Asia/Tokyo"))
    bases.add((await _inputs(uow, person)).basis())
    await uow.diaries.add_schedule(_schedule(person.study_id, time(7)))
    bases.add((await _inputs(uow, person)).basis())
    assert len(bases) == 4
    assert basis not in bases


async def test_changes_ask_the_worker_to_replan_what_is_planned() -> None:
    uow, person = await _world()
    async with uow:
        await plans.participant_changed(uow, person.id)
        await plans.study_changed(uow, person.study_id)
        await uow.commit()
    assert uow.enqueued == []  # nothing planned yet: the first read plans
    await _stored(uow, person, NOW, NOW + timedelta(days=1))
    async with uow:
        await plans.participant_changed(uow, person.id)
        await plans.study_changed(uow, person.study_id)
        await uow.commit()
    assert [(w.task, dict(w.args)) for w in uow.enqueued] == [
        (REPLAN, {"participant_id": str(person.id)}),
        (REPLAN_STUDY, {"study_id": str(person.study_id)}),
    ]


async def test_a_plan_made_in_a_failed_unit_of_work_is_not_kept() -> None:
    uow, person = await _world()

    async def failing() -> None:
        async with uow:
            await plans.plan(uow, person, NOW, NOW + timedelta(days=1))
            raise RuntimeError("the request failed")

    with pytest.raises(RuntimeError):
        await failing()
    assert uow.occurrences.rows == {}


def test_nothing_is_due_before_a_plans_origin() -> None:
    inputs = PlanInputs.of(
        enrolled_on=ENROLLED,
        arm_id=None,
        schedules=[_schedule(uuid.uuid4(), time(0), time(23, 59))],
        history=[ZoneChange(NOW, "Pacific/Kiritimati")],  # UTC+14: the earliest clocks
    )
    before = inputs.plan(datetime(2026, 1, 1, tzinfo=UTC), inputs.origin)
    assert before == []
    assert inputs.plan(inputs.origin, inputs.origin + timedelta(days=3))
