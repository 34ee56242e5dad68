"""A diary's own reminder policy: stored as the audit trail logs it, read back unchanged."""

from __future__ import annotations

from datetime import time

import pytest

from domain import audit
from domain.errors import Invalid
from domain.reminders import Policy, QuietHours, ReminderRule, When, parse_time

POLICY = Policy(
    rules=(
        ReminderRule("early", When.AT_DUE),
        ReminderRule("last_call", When.BEFORE_CLOSE, minutes=15),
        ReminderRule("tomorrow", When.NEXT_MORNING, morning=time(7, 45)),
    ),
    quiet=QuietHours(time(22, 0), time(6, 30)),
    daily_cap=3,
)


def test_the_stored_form_is_what_the_trail_logs_and_reads_back_unchanged() -> None:
    assert POLICY.to_json() == audit.to_json(POLICY)  # the state check compares them as is
    assert Policy.from_json(POLICY.to_json()) == POLICY
    silent = Policy(rules=(), quiet=None, daily_cap=1)
    assert Policy.from_json(silent.to_json()) == silent


@pytest.mark.parametrize("text", ["7:45", "07:45:00", "24:00", "07:45+01:00", "", "noon"])
def test_times_of_day_are_hh_mm(text: str) -> None:
    with pytest.raises(Invalid) as refused:
        parse_time(text, "morning")
    assert refused.value.field == "morning"


def test_a_policy_is_refused_when_it_cannot_work() -> None:
    with pytest.raises(Invalid):
        Policy(rules=(ReminderRule("a", When.AT_DUE), ReminderRule("a", When.AT_DUE)))
    with pytest.raises(Invalid):
        Policy(rules=tuple(ReminderRule(f"r{n}", When.AT_DUE) for n in range(11)))
    with pytest.raises(Invalid):
        Policy(rules=(), daily_cap=0)
    with pytest.raises(Invalid):
        ReminderRule("close", When.BEFORE_CLOSE, minutes=0)
    assert parse_time("21:30", "quietStart") == time(21, 30)
