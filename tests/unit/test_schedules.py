"""Diary schedules in local wall time: DST gaps and folds, travel, windows."""

from __future__ import annotations

import random
import time as clock
import zoneinfo
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest

from domain.errors import DomainError
from domain.schedules import (
    Occurrence,
    Recurrence,
    Timeliness,
    ZoneChange,
    classify,
    match,
    missed,
    occurrences,
)

ANCHOR = date(2026, 1, 1)
EVER = datetime(2000, 1, 1, tzinfo=UTC)
TWO_HOURS = timedelta(hours=2)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def daily(*times: str, **options: Any) -> Recurrence:
    options.setdefault("window", TWO_HOURS)
    return Recurrence(times=tuple(time.fromisoformat(t) for t in times), **options)


def stay(zone: str) -> list[ZoneChange]:
    return [ZoneChange(EVER, zone)]


def travel(first: str, when: str, then: str) -> list[ZoneChange]:
    return [ZoneChange(EVER, first), ZoneChange(at(when), then)]


def run(
    recurrence: Recurrence,
    history: list[ZoneChange],
    start: str,
    end: str,
    anchor: date = ANCHOR,
) -> list[Occurrence]:
    return occurrences(recurrence, anchor=anchor, history=history, start=at(start), end=at(end))


def dues(found: list[Occurrence]) -> dict[str, str]:
    """Key -> due time in UTC, the shape the assertions read best in."""
    return {o.key: o.due_at.strftime("%Y-%m-%dT%H:%MZ") for o in found}


def per_day(found: list[Occurrence]) -> Counter[date]:
    return Counter(o.local_date for o in found)


def local(found: list[Occurrence], key: str) -> str:
    (occurrence,) = [o for o in found if o.key == key]
    return occurrence.due_local().isoformat(timespec="minutes")


# DST in one zone (Europe/Berlin: 2026-03-29 and 2026-10-25, both at 01:00Z)


def test_a_0900_diary_stays_at_0900_local_across_spring_forward() -> None:
    found = run(daily("09:00"), stay("Europe/Berlin"), "2026-03-27T12:00Z", "2026-03-31T00:00Z")
    assert dues(found) == {
        "2026-03-28T09:00": "2026-03-28T08:00Z",
        "2026-03-29T09:00": "2026-03-29T07:00Z",
        "2026-03-30T09:00": "2026-03-30T07:00Z",
    }
    assert all(o.due_local().time() == time(9) for o in found)


def test_a_0900_diary_stays_at_0900_local_across_fall_back() -> None:
    found = run(daily("09:00"), stay("Europe/Berlin"), "2026-10-23T12:00Z", "2026-10-27T00:00Z")
    assert dues(found) == {
        "2026-10-24T09:00": "2026-10-24T07:00Z",
        "2026-10-25T09:00": "2026-10-25T08:00Z",
        "2026-10-26T09:00": "2026-10-26T08:00Z",
    }
    assert all(o.due_local().time() == time(9) for o in found)


def test_a_time_in_the_spring_gap_moves_on_by_the_gap() -> None:
    found = run(daily("02:30"), stay("Europe/Berlin"), "2026-03-27T12:00Z", "2026-03-31T00:00Z")
    assert dues(found) == {
        "2026-03-28T02:30": "2026-03-28T01:30Z",
        "2026-03-29T02:30": "2026-03-29T01:30Z",
        "2026-03-30T02:30": "2026-03-30T00:30Z",
    }
    assert local(found, "2026-03-29T02:30") == "2026-03-29T03:30+02:00"
    # The occurrence keeps its scheduled identity even though it is due at 03:30.
    assert found[1].local_time == time(2, 30)


def test_an_ambiguous_time_uses_the_first_reading() -> None:
    found = run(daily("02:30"), stay("Europe/Berlin"), "2026-10-23T12:00Z", "2026-10-27T00:00Z")
    assert dues(found) == {
        "2026-10-24T02:30": "2026-10-24T00:30Z",
        "2026-10-25T02:30": "2026-10-25T00:30Z",
        "2026-10-26T02:30": "2026-10-26T01:30Z",
    }
    assert local(found, "2026-10-25T02:30") == "2026-10-25T02:30+02:00"


def test_a_year_in_one_zone_has_each_diary_exactly_once_a_day() -> None:
    found = run(
        daily("02:30", "09:00"),
        stay("Europe/Berlin"),
        "2026-01-01T00:00+01:00",
        "2027-01-01T00:00+01:00",
    )
    assert len(found) == 2 * 365
    assert len({o.key for o in found}) == len(found)
    assert set(per_day(found).values()) == {2}
    assert [o.due_at for o in found] == sorted(o.due_at for o in found)


# Travel: the participant's clock is their zones in turn


def test_flying_west_the_diary_already_due_is_not_asked_again() -> None:
    # Berlin -> New York; the phone switches at 12:00Z (14:00 Berlin, 08:00 New York).
    history = travel("Europe/Berlin", "2026-06-10T12:00Z", "America/New_York")
    found = run(daily("09:00", "21:00"), history, "2026-06-09T00:00Z", "2026-06-12T00:00Z")
    assert dues(found) == {
        "2026-06-09T09:00": "2026-06-09T07:00Z",
        "2026-06-09T21:00": "2026-06-09T19:00Z",
        "2026-06-10T09:00": "2026-06-10T07:00Z",  # Berlin; 09:00 New York would be a repeat
        "2026-06-10T21:00": "2026-06-11T01:00Z",  # New York
        "2026-06-11T09:00": "2026-06-11T13:00Z",
    }
    assert [o.timezone for o in found][2:4] == ["Europe/Berlin", "America/New_York"]
    assert per_day(found)[date(2026, 6, 10)] == 2


def test_flying_west_a_time_lived_twice_is_due_the_first_time() -> None:
    # The phone switches at 18:00Z: 20:00 Berlin becomes 14:00 New York, so 14:00-20:00 repeat.
    history = travel("Europe/Berlin", "2026-06-10T18:00Z", "America/New_York")
    found = run(daily("15:00"), history, "2026-06-10T00:00Z", "2026-06-12T00:00Z")
    assert dues(found) == {
        "2026-06-10T15:00": "2026-06-10T13:00Z",
        "2026-06-11T15:00": "2026-06-11T19:00Z",
    }


@pytest.mark.parametrize(
    ("switch", "due", "zone"),
    [
        ("2026-06-10T06:59Z", "2026-06-10T13:00Z", "America/New_York"),  # left before 09:00
        ("2026-06-10T07:00Z", "2026-06-10T13:00Z", "America/New_York"),  # switch at the due time
        ("2026-06-10T07:01Z", "2026-06-10T07:00Z", "Europe/Berlin"),  # 09:00 Berlin came first
    ],
)
def test_flying_west_across_the_due_time(switch: str, due: str, zone: str) -> None:
    history = travel("Europe/Berlin", switch, "America/New_York")
    found = run(daily("09:00"), history, "2026-06-09T12:00Z", "2026-06-11T00:00Z")
    assert dues(found) == {"2026-06-10T09:00": due}
    assert found[0].timezone == zone


@pytest.mark.parametrize(
    ("switch", "due", "zone"),
    [
        ("2026-06-10T12:59Z", "2026-06-10T12:59Z", "Europe/Berlin"),  # skipped: due on landing
        ("2026-06-10T13:00Z", "2026-06-10T13:00Z", "Europe/Berlin"),  # same instant either way
        ("2026-06-10T13:01Z", "2026-06-10T13:00Z", "America/New_York"),  # due before leaving
    ],
)
def test_flying_east_across_the_due_time(switch: str, due: str, zone: str) -> None:
    history = travel("America/New_York", switch, "Europe/Berlin")
    found = run(daily("09:00"), history, "2026-06-10T00:00Z", "2026-06-11T00:00Z")
    assert dues(found) == {"2026-06-10T09:00": due}
    assert found[0].timezone == zone


def test_flying_east_a_skipped_diary_is_due_on_landing() -> None:
    # New York -> Tokyo; at 05:00Z New York reads 01:00 and Tokyo 14:00: 09:00 never shows.
    history = travel("America/New_York", "2026-06-10T05:00Z", "Asia/Tokyo")
    found = run(daily("09:00", "21:00"), history, "2026-06-09T00:00Z", "2026-06-12T00:00Z")
    assert dues(found) == {
        "2026-06-08T21:00": "2026-06-09T01:00Z",
        "2026-06-09T09:00": "2026-06-09T13:00Z",
        "2026-06-09T21:00": "2026-06-10T01:00Z",
        "2026-06-10T09:00": "2026-06-10T05:00Z",  # on landing, 14:00 Tokyo
        "2026-06-10T21:00": "2026-06-10T12:00Z",
        "2026-06-11T09:00": "2026-06-11T00:00Z",
        "2026-06-11T21:00": "2026-06-11T12:00Z",
    }
    assert local(found, "2026-06-10T09:00") == "2026-06-10T14:00+09:00"
    assert per_day(found)[date(2026, 6, 10)] == 2


def test_crossing_the_date_line_westward_all_skipped_diaries_are_due_on_landing() -> None:
    # Honolulu -> Tokyo; at 05:00Z on 11 June Honolulu reads 10 June 19:00, Tokyo 11 June 14:00.
    history = travel("Pacific/Honolulu", "2026-06-11T05:00Z", "Asia/Tokyo")
    found = run(daily("09:00", "21:00"), history, "2026-06-10T00:00Z", "2026-06-12T00:00Z")
    assert dues(found) == {
        "2026-06-09T21:00": "2026-06-10T07:00Z",
        "2026-06-10T09:00": "2026-06-10T19:00Z",
        "2026-06-10T21:00": "2026-06-11T05:00Z",  # both on landing, none lost
        "2026-06-11T09:00": "2026-06-11T05:00Z",
        "2026-06-11T21:00": "2026-06-11T12:00Z",
    }
    assert len({o.key for o in found}) == len(found)


def test_crossing_the_date_line_eastward_the_repeated_day_has_no_diaries() -> None:
    # Tokyo -> Honolulu; at 18:00Z Tokyo reads 11 June 03:00, Honolulu 10 June 08:00.
    history = travel("Asia/Tokyo", "2026-06-10T18:00Z", "Pacific/Honolulu")
    found = run(daily("09:00", "21:00"), history, "2026-06-09T00:00Z", "2026-06-13T00:00Z")
    assert dues(found) == {
        "2026-06-09T09:00": "2026-06-09T00:00Z",
        "2026-06-09T21:00": "2026-06-09T12:00Z",
        "2026-06-10T09:00": "2026-06-10T00:00Z",
        "2026-06-10T21:00": "2026-06-10T12:00Z",
        "2026-06-11T09:00": "2026-06-11T19:00Z",
        "2026-06-11T21:00": "2026-06-12T07:00Z",
        "2026-06-12T09:00": "2026-06-12T19:00Z",
    }
    assert not any(
        o.timezone == "Pacific/Honolulu" and o.local_date < date(2026, 6, 11) for o in found
    )


def test_a_dst_gap_just_after_landing_still_moves_on_by_the_gap() -> None:
    # New York -> Berlin at 00:30Z on 29 March (01:30 CET); Berlin springs forward at 01:00Z.
    history = travel("America/New_York", "2026-03-29T00:30Z", "Europe/Berlin")
    found = run(daily("02:30"), history, "2026-03-29T00:00Z", "2026-03-30T00:00Z")
    assert dues(found) == {"2026-03-29T02:30": "2026-03-29T01:30Z"}
    assert local(found, "2026-03-29T02:30") == "2026-03-29T03:30+02:00"


def test_a_round_trip_keeps_one_diary_per_day() -> None:
    history = [
        ZoneChange(EVER, "Europe/Berlin"),
        ZoneChange(at("2026-05-04T12:00Z"), "America/Los_Angeles"),
        ZoneChange(at("2026-05-08T05:00Z"), "Asia/Tokyo"),
        ZoneChange(at("2026-05-12T03:00Z"), "Europe/Berlin"),
    ]
    found = run(daily("09:00"), history, "2026-05-01T00:00+02:00", "2026-05-20T00:00+02:00")
    assert set(per_day(found).values()) == {1}
    assert len(found) == 19
    assert [o.due_at for o in found] == sorted(o.due_at for o in found)


@pytest.mark.parametrize("seed", range(20))
def test_restless_travellers_get_every_diary_exactly_once(seed: int) -> None:
    rng = random.Random(seed)
    zones = ["Pacific/Kiritimati", "Pacific/Pago_Pago", "Asia/Kathmandu", "America/St_Johns"]
    zones += ["Europe/Berlin", "America/New_York", "Asia/Tokyo", "Australia/Lord_Howe"]
    moment = at("2026-03-20T00:00Z")
    history = [ZoneChange(EVER, rng.choice(zones))]
    for _ in range(15):
        moment += timedelta(minutes=rng.randrange(10, 3 * 24 * 60))
        history.append(ZoneChange(moment, rng.choice(zones)))
    times = ("00:00", "01:45", "02:30", "09:00", "23:59")
    found = run(daily(*times), history, "2026-03-01T00:00Z", "2026-05-31T00:00Z")
    counts = per_day(found)
    assert len({o.key for o in found}) == len(found)
    assert all(counts[date(2026, 3, 3) + timedelta(days=d)] == 5 for d in range(85))
    for o in found:
        scheduled = datetime.combine(o.local_date, o.local_time, UTC)
        assert abs(o.due_at - scheduled) < timedelta(hours=27)


# Which days


def test_only_the_chosen_weekdays() -> None:
    found = run(
        daily("09:00", weekdays=frozenset({1, 3, 5})),
        stay("Europe/Berlin"),
        "2026-03-02T00:00+01:00",  # a Monday
        "2026-03-16T00:00+01:00",
    )
    assert [o.local_date.day for o in found] == [2, 4, 6, 9, 11, 13]


def test_start_and_end_day_count_from_the_anchor_inclusively() -> None:
    found = run(
        daily("09:00", start_day=1, end_day=3),
        stay("Europe/Berlin"),
        "2026-02-01T00:00Z",
        "2026-04-01T00:00Z",
        anchor=date(2026, 3, 2),
    )
    assert [o.key for o in found] == ["2026-03-03T09:00", "2026-03-04T09:00", "2026-03-05T09:00"]


def test_the_range_is_half_open_on_due_times() -> None:
    found = run(daily("09:00"), stay("Europe/Berlin"), "2026-03-02T08:00Z", "2026-03-04T08:00Z")
    assert [o.key for o in found] == ["2026-03-02T09:00", "2026-03-03T09:00"]


def test_the_window_closes_after_the_due_time() -> None:
    (found,) = run(
        daily("09:00", window=timedelta(minutes=90)),
        stay("UTC"),
        "2026-03-02T00:00Z",
        "2026-03-03T00:00Z",
    )
    assert found.closes_at - found.due_at == timedelta(minutes=90)
    assert found.due_at.utcoffset() == timedelta(0)


# Unusual offsets


def test_half_hour_and_three_quarter_hour_zones() -> None:
    winter = run(daily("09:00"), stay("America/St_Johns"), "2026-01-15T00:00Z", "2026-01-16T00:00Z")
    summer = run(daily("09:00"), stay("America/St_Johns"), "2026-07-15T00:00Z", "2026-07-16T00:00Z")
    nepal = run(daily("09:00"), stay("Asia/Kathmandu"), "2026-01-15T00:00Z", "2026-01-16T00:00Z")
    assert dues(winter) == {"2026-01-15T09:00": "2026-01-15T12:30Z"}
    assert dues(summer) == {"2026-07-15T09:00": "2026-07-15T11:30Z"}
    assert dues(nepal) == {"2026-01-15T09:00": "2026-01-15T03:15Z"}


def test_lord_howe_shifts_by_thirty_minutes() -> None:
    if "Australia/Lord_Howe" not in zoneinfo.available_timezones():
        pytest.skip("the tz database here has no Australia/Lord_Howe")
    zone = stay("Australia/Lord_Howe")
    # 5 April 2026: 02:00 (+11) falls back to 01:30 (+10:30); 01:45 is read twice.
    autumn = run(daily("01:45"), zone, "2026-04-04T00:00Z", "2026-04-06T00:00Z")
    # 4 October 2026: 02:00 (+10:30) springs to 02:30 (+11); 02:15 never shows.
    spring = run(daily("02:15"), zone, "2026-10-03T00:00Z", "2026-10-04T00:00Z")
    assert dues(autumn) == {
        "2026-04-05T01:45": "2026-04-04T14:45Z",
        "2026-04-06T01:45": "2026-04-05T15:15Z",
    }
    assert dues(spring) == {"2026-10-04T02:15": "2026-10-03T15:45Z"}
    assert local(spring, "2026-10-04T02:15") == "2026-10-04T02:45+11:00"


def test_a_year_of_twice_daily_diaries_is_fast() -> None:
    history = [
        ZoneChange(EVER, "Europe/Berlin"),
        ZoneChange(at("2026-06-10T12:00Z"), "America/New_York"),
        ZoneChange(at("2026-09-01T05:00Z"), "Asia/Tokyo"),
    ]
    began = clock.perf_counter()
    found = run(daily("09:00", "21:00"), history, "2026-01-01T00:00Z", "2027-01-01T00:00Z")
    assert clock.perf_counter() - began < 0.5
    assert len(found) == 730


# Validation


@pytest.mark.parametrize(
    ("field", "options"),
    [
        ("times", {"times": ()}),
        ("times", {"times": (time(9), time(9))}),
        ("times", {"times": (time(9, 0, 30),)}),
        ("times", {"times": (time(9, tzinfo=UTC),)}),
        ("weekdays", {"weekdays": frozenset()}),
        ("weekdays", {"weekdays": frozenset({0, 1})}),
        ("weekdays", {"weekdays": frozenset({8})}),
        ("start_day", {"start_day": -1}),
        ("end_day", {"start_day": 5, "end_day": 4}),
        ("window", {"window": timedelta(seconds=59)}),
        ("window", {"window": timedelta(hours=24, seconds=1)}),
    ],
)
def test_bad_recurrences_are_refused(field: str, options: dict[str, Any]) -> None:
    values: dict[str, Any] = {"times": (time(9),), "window": TWO_HOURS} | options
    with pytest.raises(DomainError) as raised:
        Recurrence(**values)
    assert raised.value.field == field


def test_window_limits_are_inclusive() -> None:
    Recurrence(times=(time(9),), window=timedelta(minutes=1))
    Recurrence(times=(time(9),), window=timedelta(hours=24), start_day=3, end_day=3)


@pytest.mark.parametrize(
    ("field", "when", "zone"),
    [
        ("effective_from", datetime(2026, 1, 1), "Europe/Berlin"),  # naive on purpose
        ("timezone", EVER, "Mars/Olympus"),
        ("timezone", EVER, " Europe/Berlin"),
    ],
)
def test_bad_zone_changes_are_refused(field: str, when: datetime, zone: str) -> None:
    with pytest.raises(DomainError) as raised:
        ZoneChange(when, zone)
    assert raised.value.field == field


def test_history_must_be_present_and_ordered() -> None:
    with pytest.raises(DomainError) as empty:
        run(daily("09:00"), [], "2026-01-01T00:00Z", "2026-01-02T00:00Z")
    later_first = [ZoneChange(at("2026-02-01T00:00Z"), "UTC"), ZoneChange(EVER, "Asia/Tokyo")]
    with pytest.raises(DomainError) as unordered:
        run(daily("09:00"), later_first, "2026-01-01T00:00Z", "2026-01-02T00:00Z")
    with pytest.raises(DomainError) as naive:
        occurrences(
            daily("09:00"),
            anchor=ANCHOR,
            history=stay("UTC"),
            start=datetime(2026, 1, 1),  # naive on purpose
            end=at("2026-01-02T00:00Z"),
        )
    assert (empty.value.field, unordered.value.field, naive.value.field) == (
        "history",
        "history",
        "start",
    )


def test_simultaneous_and_repeated_changes_are_tolerated() -> None:
    history = [
        ZoneChange(EVER, "Europe/Berlin"),
        ZoneChange(at("2026-03-01T00:00Z"), "Asia/Tokyo"),
        ZoneChange(at("2026-03-01T00:00Z"), "Europe/Berlin"),  # the later one at an instant wins
        ZoneChange(at("2026-03-05T00:00Z"), "Europe/Berlin"),  # the same zone again
    ]
    found = run(daily("09:00"), history, "2026-02-28T00:00Z", "2026-03-07T00:00Z")
    assert {o.timezone for o in found} == {"Europe/Berlin"}
    assert set(dues(found).values()) == {f"2026-03-0{d}T08:00Z" for d in range(1, 7)} | {
        "2026-02-28T08:00Z"
    }


# Timeliness

DUE = at("2026-03-02T08:00Z")
OCCURRENCE = Occurrence(
    local_date=date(2026, 3, 2),
    local_time=time(9),
    timezone="Europe/Berlin",
    due_at=DUE,
    closes_at=DUE + TWO_HOURS,
)
TICK = timedelta(microseconds=1)
GRACE = timedelta(hours=1)


@pytest.mark.parametrize(
    ("submitted_at", "late_grace", "expected"),
    [
        (DUE - TICK, GRACE, Timeliness.EARLY),
        (DUE, None, Timeliness.ON_TIME),
        (DUE + TWO_HOURS, None, Timeliness.ON_TIME),
        (DUE + TWO_HOURS + TICK, None, Timeliness.WINDOW_CLOSED),
        (DUE + TWO_HOURS + TICK, GRACE, Timeliness.LATE),
        (DUE + TWO_HOURS + GRACE, GRACE, Timeliness.LATE),
        (DUE + TWO_HOURS + GRACE + TICK, GRACE, Timeliness.WINDOW_CLOSED),
        (DUE + TWO_HOURS + TICK, timedelta(0), Timeliness.WINDOW_CLOSED),
        (at("2026-03-02T11:00+02:00"), None, Timeliness.ON_TIME),  # any offset compares right
    ],
)
def test_classify_at_the_edges(
    submitted_at: datetime, late_grace: timedelta | None, expected: Timeliness
) -> None:
    assert classify(OCCURRENCE, submitted_at, late_grace=late_grace) is expected


def test_classify_refuses_naive_times_and_negative_grace() -> None:
    with pytest.raises(DomainError) as naive:
        classify(OCCURRENCE, datetime(2026, 3, 2, 9), late_grace=None)  # naive
    with pytest.raises(DomainError) as negative:
        classify(OCCURRENCE, DUE, late_grace=-GRACE)
    assert (naive.value.field, negative.value.field) == ("submitted_at", "late_grace")


def test_missed_means_closed_and_unanswered() -> None:
    found = run(daily("09:00"), stay("Europe/Berlin"), "2026-03-02T00:00Z", "2026-03-05T00:00Z")
    first, second, third = found
    assert missed(found, set(), first.closes_at) == []  # closing instant is still on time
    assert missed(found, set(), first.closes_at + TICK) == [first]
    assert missed(found, {first.key}, third.closes_at + TICK) == [second, third]
    assert missed(found, {o.key for o in found}, third.closes_at + TICK) == []


def test_match_finds_the_latest_covering_occurrence() -> None:
    found = run(
        daily("09:00", "12:00", window=timedelta(hours=4)),
        stay("UTC"),
        "2026-03-02T00:00Z",
        "2026-03-03T00:00Z",
    )
    morning, noon = found
    assert match(found, morning.due_at - TICK) is None
    assert match(found, morning.due_at) == morning
    assert match(found, noon.due_at - TICK) == morning
    assert match(found, noon.due_at) == noon  # both cover it: the later one wins
    assert match(found, noon.closes_at) == noon
    assert match(found, noon.closes_at + TICK) is None
    assert match(found, noon.closes_at + GRACE, late_grace=GRACE) == noon
    assert match(found, noon.closes_at + GRACE + TICK, late_grace=GRACE) is None


def test_keys_name_the_local_day_and_time() -> None:
    assert OCCURRENCE.key == "2026-03-02T09:00"
    assert OCCURRENCE.due_local().isoformat() == "2026-03-02T09:00:00+01:00"
