"""Reminder rules: when, quiet hours in the participant's zone (DST days too), daily cap."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from domain import reminders
from domain.errors import Invalid
from domain.notifications import DIARY_DUE, State, Template, advance
from domain.reminders import Policy, QuietHours, ReminderRule, When
from domain.schedules import Occurrence, Recurrence, ZoneChange, occurrences

BERLIN = [ZoneChange(datetime(2026, 1, 1, tzinfo=UTC), "Europe/Berlin")]
RULES = (
    ReminderRule("due", When.AT_DUE),
    ReminderRule("closing", When.BEFORE_CLOSE, minutes=30),
    ReminderRule("missed", When.NEXT_MORNING, morning=time(8, 0)),
)


def _due(times: tuple[time, ...], start: datetime, hours: int = 2) -> list[Occurrence]:
    recurrence = Recurrence(times=times, window=timedelta(hours=hours))
    return occurrences(
        recurrence,
        anchor=date(2026, 1, 1),
        history=BERLIN,
        start=start,
        end=start + timedelta(days=1),
    )


def test_each_rule_gives_its_instant_in_local_time() -> None:
    start = datetime(2026, 6, 10, 0, 0, tzinfo=UTC)
    found = reminders.plan(
        Policy(RULES),
        _due((time(9, 0),), start),
        BERLIN,
        start=start,
        end=start + timedelta(days=2),
    )
    assert [(r.rule, r.local.strftime("%Y-%m-%d %H:%M")) for r in found] == [
        ("due", "2026-06-10 09:00"),
        ("closing", "2026-06-10 10:30"),
        ("missed", "2026-06-11 08:00"),
    ]
    assert found[0].at == datetime(2026, 6, 10, 7, 0, tzinfo=UTC)


def test_answered_occurrences_get_no_reminder() -> None:
    start = datetime(2026, 6, 10, 0, 0, tzinfo=UTC)
    due = _due((time(9, 0),), start)
    found = reminders.plan(
        Policy(RULES),
        due,
        BERLIN,
        start=start,
        end=start + timedelta(days=2),
        answered=frozenset({due[0].key}),
    )
    assert found == []


def test_quiet_hours_defer_to_their_end_and_drop_what_would_be_too_late() -> None:
    start = datetime(2026, 6, 10, 0, 0, tzinfo=UTC)
    policy = Policy(RULES, quiet=QuietHours(time(21, 0), time(7, 30)))
    found = reminders.plan(
        policy,
        _due((time(6, 0), time(22, 0)), start),
        BERLIN,
        start=start,
        end=start + timedelta(days=3),
    )
    local = [(r.occurrence_key, r.rule, r.local.strftime("%d %H:%M")) for r in found]
    # 06:00 is quiet: deferred to 07:30, still before closing (08:00); the 07:30 closing one
    # stays; 22:00 closes at 00:00, inside quiet hours: only the next-morning reminder.
    assert local == [
        ("2026-06-10T06:00", "closing", "10 07:30"),
        ("2026-06-10T06:00", "due", "10 07:30"),
        ("2026-06-10T06:00", "missed", "11 08:00"),
        ("2026-06-10T22:00", "missed", "12 08:00"),
    ]


def test_quiet_hours_end_on_the_dst_day_is_local_wall_time() -> None:
    # 2026-10-25: Berlin falls back at 03:00 CEST; quiet hours end at 07:00 CET = 06:00 UTC.
    start = datetime(2026, 10, 24, 22, 0, tzinfo=UTC)
    policy = Policy((ReminderRule("due", When.AT_DUE),), quiet=QuietHours(time(22, 0), time(7, 0)))
    found = reminders.plan(
        policy,
        _due((time(2, 30),), start, hours=8),
        BERLIN,
        start=start,
        end=start + timedelta(days=1),
    )
    assert [r.at for r in found] == [datetime(2026, 10, 25, 6, 0, tzinfo=UTC)]
    # Spring forward 2026-03-29: a morning reminder at 02:30 does not exist; it moves on.
    assert reminders.wall_instant(date(2026, 3, 29), time(2, 30), found[0].local.tzinfo) == (  # type: ignore[arg-type]
        datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    )


def test_daily_cap_keeps_the_earliest() -> None:
    start = datetime(2026, 6, 10, 0, 0, tzinfo=UTC)
    due = _due(tuple(time(h, 0) for h in (8, 10, 12, 14)), start)
    found = reminders.plan(
        Policy((ReminderRule("due", When.AT_DUE),), daily_cap=3),
        due,
        BERLIN,
        start=start,
        end=start + timedelta(days=1),
    )
    assert [r.local.hour for r in found] == [8, 10, 12]


def test_plan_version_changes_with_the_plan() -> None:
    start = datetime(2026, 6, 10, 0, 0, tzinfo=UTC)
    due = _due((time(9, 0),), start)
    a = reminders.plan(Policy(RULES), due, BERLIN, start=start, end=start + timedelta(days=2))
    b = reminders.plan(
        Policy(RULES, quiet=QuietHours(time(8, 0), time(9, 30))),
        due,
        BERLIN,
        start=start,
        end=start + timedelta(days=2),
    )
    assert reminders.version(a) == reminders.version(list(a))
    assert reminders.version(a) != reminders.version(b)


def test_rules_and_policies_refuse_nonsense() -> None:
    with pytest.raises(Invalid):
        ReminderRule("closing", When.BEFORE_CLOSE)
    with pytest.raises(Invalid):
        ReminderRule("due", When.AT_DUE, minutes=5)
    with pytest.raises(Invalid):
        Policy((ReminderRule("a", When.AT_DUE), ReminderRule("a", When.AT_DUE)))
    with pytest.raises(Invalid):
        Policy(RULES, daily_cap=0)
    with pytest.raises(Invalid):
        QuietHours(time(7, 0), time(7, 0))


def test_templates_pick_the_language_and_never_take_placeholders() -> None:
    assert DIARY_DUE.render("de-AT", "n1").body == "Ihr Tagebuch ist bereit."
    assert DIARY_DUE.render("pt", "n1").language == "en"
    with pytest.raises(Invalid):
        Template("x", 1, {"en": ("Hi {name}", "")})


def test_receipts_only_move_forward() -> None:
    assert advance(State.QUEUED, State.SENT) is State.SENT
    assert advance(State.SENT, State.OPENED) is State.OPENED
    assert advance(State.OPENED, State.OPENED) is State.OPENED
    with pytest.raises(Invalid):
        advance(State.OPENED, State.SENT)
    with pytest.raises(Invalid):
        advance(State.FAILED, State.SENT)
