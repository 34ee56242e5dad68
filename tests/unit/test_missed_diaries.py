"""Missed diaries as deviations, on the pure rule: which occurrences raise one (window and
grace closed, no accepted entry, due while the participant took part), across the night
Berlin moves to summer time, and that the trigger is the same on every run."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, date, datetime, time, timedelta

from domain.deviations import (
    DeviationCategory,
    DeviationSeverity,
    DeviationSource,
    ProtocolDeviation,
)
from domain.diaries import DiarySchedule, LatePolicy
from domain.missed_diaries import (
    OCCURRENCE,
    missed_diaries,
    occurrence_trigger,
    taking_part_since,
)
from domain.participants import Participant, ParticipantStatus
from domain.schedules import Occurrence, Recurrence, ZoneChange, occurrences
from tests.factories import make_participant
from tests.fakes.clock import FakeClock

ENROLLED_AT = datetime(2026, 3, 27, 12, 0, tzinfo=UTC)  # Friday; Berlin springs forward Sunday
BERLIN = (ZoneChange(datetime(2026, 1, 1, tzinfo=UTC), "Europe/Berlin"),)


def _schedule(*, times: tuple[time, ...], grace: timedelta = timedelta(0)) -> DiarySchedule:
    return DiarySchedule.new(
        study_id=uuid.uuid4(),  # type: ignore[arg-type]
        questionnaire_code="SYMPTOMS",
        arm_id=None,
        recurrence=Recurrence(times=times, window=timedelta(hours=1)),
        late_policy=LatePolicy.ACCEPT_LATE if grace else LatePolicy.REJECT,
        late_grace=grace,
        now=ENROLLED_AT,
    )


def _person(status: ParticipantStatus = ParticipantStatus.ENROLLED) -> Participant:
    return make_participant(
        status=status, status_changed_at=ENROLLED_AT, enrolled_on=date(2026, 3, 27)
    )


def _planned(schedule: DiarySchedule, end: datetime) -> list[tuple[DiarySchedule, Occurrence]]:
    found = occurrences(
        schedule.recurrence, anchor=date(2026, 3, 27), history=BERLIN, start=ENROLLED_AT, end=end
    )
    return [(schedule, o) for o in found]


def test_each_closed_unanswered_occurrence_raises_one_minor_deviation_across_dst() -> None:
    """02:30 does not exist in Berlin on 29 March: due 03:30 CEST (01:30 UTC), closing 02:30
    UTC. The FakeClock starts that night, at 00:30 UTC."""
    clock = FakeClock()
    schedule = _schedule(times=(time(2, 30), time(9, 0)))
    person = _person()
    clock.pin(datetime(2026, 3, 29, 2, 30, tzinfo=UTC))  # the DST occurrence closes now
    planned = _planned(schedule, clock.now())
    answered = {(schedule.id, "2026-03-28T09:00")}
    found = missed_diaries(
        person, since=ENROLLED_AT, planned=planned, answered=answered, now=clock.now()
    )
    # 27 March 12:00 enrolment: 28th 02:30 missed, 28th 09:00 answered; the 29th's 02:30
    # closes exactly now, and an entry at its closing instant is still on time.
    assert [d.occurred_on for d in found] == ["2026-03-28"]
    (raised,) = found
    assert (raised.category, raised.severity, raised.source) == (
        DeviationCategory.MISSED_ASSESSMENT,
        DeviationSeverity.MINOR,
        DeviationSource.AUTOMATIC,
    )
    assert raised.term == "Diary SYMPTOMS due 2026-03-28 02:30 not completed"
    assert raised.detected_at == clock.now()
    clock.advance(minutes=1)
    later = missed_diaries(
        person, since=ENROLLED_AT, planned=planned, answered=answered, now=clock.now()
    )
    assert [d.term for d in later] == [
        "Diary SYMPTOMS due 2026-03-28 02:30 not completed",
        "Diary SYMPTOMS due 2026-03-29 02:30 not completed",
    ]
    dst = [o for _, o in planned if o.local_date == date(2026, 3, 29)]
    assert [o.due_at for o in dst] == [datetime(2026, 3, 29, 1, 30, tzinfo=UTC)]
    # The same occurrence has the same trigger on every run: the store keeps one.
    assert later[0].trigger == raised.trigger
    assert later[0].id != raised.id


def test_the_trigger_is_stable_and_differs_per_participant_and_occurrence() -> None:
    schedule, one, two = uuid.uuid4(), _person().id, _person().id
    trigger = occurrence_trigger(one, schedule, "2026-03-29T02:30")
    assert trigger.record_type == OCCURRENCE
    assert trigger == occurrence_trigger(one, schedule, "2026-03-29T02:30")
    assert trigger != occurrence_trigger(two, schedule, "2026-03-29T02:30")
    assert trigger != occurrence_trigger(one, schedule, "2026-03-29T09:00")


def test_a_late_grace_keeps_the_occurrence_answerable_until_it_ends() -> None:
    schedule = _schedule(times=(time(9, 0),), grace=timedelta(hours=2))
    person = _person()
    # 28 March 09:00 CET = 08:00 UTC; window to 09:00 UTC; late entries until 11:00 UTC.
    end = datetime(2026, 3, 28, 11, 0, tzinfo=UTC)
    planned = _planned(schedule, end)

    def check(now: datetime) -> list[ProtocolDeviation]:
        return missed_diaries(person, since=ENROLLED_AT, planned=planned, answered=set(), now=now)

    assert check(end) == []
    assert [d.occurred_on for d in check(end + timedelta(seconds=1))] == ["2026-03-28"]


def test_nothing_is_raised_before_enrolment_or_for_those_not_taking_part() -> None:
    schedule = _schedule(times=(time(9, 0),))
    now = datetime(2026, 3, 31, tzinfo=UTC)
    early = occurrences(
        schedule.recurrence,
        anchor=date(2026, 3, 27),
        history=BERLIN,
        start=datetime(2026, 3, 27, tzinfo=UTC),
        end=now,
    )
    planned = [(schedule, o) for o in early]
    assert early[0].due_at < ENROLLED_AT  # day 0's diary was due before the enrolment
    person = _person()
    found = missed_diaries(person, since=ENROLLED_AT, planned=planned, answered=set(), now=now)
    assert [d.occurred_on for d in found] == ["2026-03-28", "2026-03-29", "2026-03-30"]
    for status in (ParticipantStatus.WITHDRAWN, ParticipantStatus.COMPLETED):
        gone = dataclasses.replace(person, status=status)
        assert missed_diaries(gone, since=ENROLLED_AT, planned=planned, answered=(), now=now) == []
        assert taking_part_since(gone, ENROLLED_AT) is None
    assert missed_diaries(person, since=None, planned=planned, answered=(), now=now) == []


def test_they_take_part_from_the_later_of_enrolment_and_consent() -> None:
    person = _person()
    assert taking_part_since(person, None) is None
    assert taking_part_since(person, ENROLLED_AT - timedelta(days=1)) == ENROLLED_AT
    later = ENROLLED_AT + timedelta(hours=3)
    assert taking_part_since(person, later) == later
    screened = dataclasses.replace(person, status=ParticipantStatus.CONSENTED, enrolled_on=None)
    assert taking_part_since(screened, ENROLLED_AT) is None
