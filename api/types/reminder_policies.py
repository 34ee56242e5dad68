"""GraphQL types for a diary schedule's reminder policy: its rules, quiet hours, daily cap."""

from __future__ import annotations

from datetime import time

import strawberry

from domain.errors import Invalid
from domain.reminders import Policy, QuietHours, ReminderRule, When, parse_time
from domain.services.reminders import DEFAULT_POLICY

ReminderWhenType = strawberry.enum(
    When,
    name="ReminderWhen",
    description="AT_DUE: when the diary opens; BEFORE_CLOSE: `minutes` before its window "
    "closes; NEXT_MORNING: at `morning` local time the day after, if still missed.",
)


@strawberry.type(name="ReminderRule")
class ReminderRuleType:
    code: str = strawberry.field(description="Names the rule stably (part of the send key).")
    when: When
    minutes: int
    morning: str = strawberry.field(description="Local time, HH:MM (NEXT_MORNING rules).")


@strawberry.type(name="ReminderPolicy", description="When a diary's participants are reminded.")
class ReminderPolicyType:
    custom: bool = strawberry.field(description="False: the installation's default policy.")
    rules: list[ReminderRuleType]
    quiet_start: str | None = strawberry.field(description="Quiet hours from, local HH:MM.")
    quiet_end: str | None = strawberry.field(description="Quiet hours until, local HH:MM.")
    daily_cap: int = strawberry.field(description="Reminders per local day at most.")

    @classmethod
    def of(cls, policy: Policy | None) -> ReminderPolicyType:
        shown = DEFAULT_POLICY if policy is None else policy
        return cls(
            custom=policy is not None,
            rules=[
                ReminderRuleType(
                    code=r.code, when=r.when, minutes=r.minutes, morning=_hm(r.morning)
                )
                for r in shown.rules
            ],
            quiet_start=None if shown.quiet is None else _hm(shown.quiet.start),
            quiet_end=None if shown.quiet is None else _hm(shown.quiet.end),
            daily_cap=shown.daily_cap,
        )


@strawberry.input
class ReminderRuleInput:
    code: str
    when: When
    minutes: int = strawberry.field(default=0, description="BEFORE_CLOSE: 1 to 1440.")
    morning: str = strawberry.field(default="08:00", description="NEXT_MORNING: local HH:MM.")


@strawberry.input(description="A diary's own reminder policy (at most 10 rules; none: silent).")
class ReminderPolicyInput:
    rules: list[ReminderRuleInput]
    quiet_start: str | None = strawberry.field(default=None, description="Local HH:MM.")
    quiet_end: str | None = strawberry.field(default=None, description="Local HH:MM.")
    daily_cap: int = 6


def policy_from(given: ReminderPolicyInput) -> Policy:
    """The domain's policy from the input; VALIDATION_FAILED naming the field otherwise."""
    rules = tuple(
        ReminderRule(r.code.strip(), When(r.when), r.minutes, parse_time(r.morning, "morning"))
        for r in given.rules
    )
    if (given.quiet_start is None) != (given.quiet_end is None):
        raise Invalid("quietStart", "Give both ends of the quiet hours, or neither.")
    quiet = None
    if given.quiet_start is not None and given.quiet_end is not None:
        start, end = (
            parse_time(given.quiet_start, "quietStart"),
            parse_time(given.quiet_end, "quietEnd"),
        )
        if start == end:
            raise Invalid("quietEnd", "Quiet hours must end at another time than they start.")
        quiet = QuietHours(start, end)
    return Policy(rules=rules, quiet=quiet, daily_cap=given.daily_cap)


def _hm(value: time) -> str:
    return value.strftime("%H:%M")
