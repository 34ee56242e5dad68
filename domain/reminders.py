"""Reminder rules for due diaries and visits: when to remind, quiet hours, a daily cap.

Everything here works on occurrences from the schedule planner (`domain.schedules`) and
the participant's zone history, so the same rules give the worker its sends and the app
its offline plan. Times of day are the participant's local wall time, DST-correct.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from domain.errors import Invalid
from domain.schedules import Occurrence, ZoneChange, zone_at

MAX_DAILY_CAP = 50


class When(StrEnum):
    AT_DUE = "AT_DUE"  # when the diary opens
    BEFORE_CLOSE = "BEFORE_CLOSE"  # `minutes` before its window closes
    NEXT_MORNING = "NEXT_MORNING"  # at `morning` local time the day after, if still missed


@dataclass(frozen=True)
class ReminderRule:
    """One reminder per occurrence. `code` names the rule stably (part of the send key)."""

    code: str
    when: When
    minutes: int = 0
    morning: time = time(8, 0)

    def __post_init__(self) -> None:
        if not self.code or len(self.code) > 64 or not self.code.replace("_", "").isalnum():
            raise Invalid("code", "Use 1-64 letters, digits or underscores.")
        if self.when is When.BEFORE_CLOSE and not 1 <= self.minutes <= 24 * 60:
            raise Invalid("minutes", "Must be between 1 and 1440 minutes before closing.")
        if self.when is not When.BEFORE_CLOSE and self.minutes:
            raise Invalid("minutes", "Only reminders before closing take minutes.")
        if self.morning.tzinfo is not None or self.morning.second or self.morning.microsecond:
            raise Invalid("morning", "Use a local time of day in whole minutes, without a zone.")

    def instant(self, occurrence: Occurrence, history: Sequence[ZoneChange]) -> datetime | None:
        """When this rule reminds of `occurrence` (UTC), before quiet hours; None: never."""
        if self.when is When.AT_DUE:
            return occurrence.due_at
        if self.when is When.BEFORE_CLOSE:
            at = occurrence.closes_at - timedelta(minutes=self.minutes)
            return at if at > occurrence.due_at else None
        zone = ZoneInfo(zone_at(history, occurrence.closes_at))
        closed_day = occurrence.closes_at.astimezone(zone).date()
        return wall_instant(closed_day + timedelta(days=1), self.morning, zone)


@dataclass(frozen=True)
class QuietHours:
    """No reminder between `start` and `end` local time (over midnight when start > end)."""

    start: time
    end: time

    def __post_init__(self) -> None:
        if self.start == self.end:
            raise Invalid("quiet_hours", "Start and end must differ.")

    def holds(self, local: time) -> bool:
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def defer(self, instant: datetime, zone: ZoneInfo) -> datetime:
        """`instant` if outside quiet hours, else the end of that quiet period (UTC)."""
        local = instant.astimezone(zone)
        if not self.holds(local.time().replace(tzinfo=None)):
            return instant
        day = local.date()
        if self.start > self.end and local.time().replace(tzinfo=None) >= self.start:
            day += timedelta(days=1)
        return max(instant, wall_instant(day, self.end, zone))


@dataclass(frozen=True)
class Policy:
    """A study's reminder policy for one schedule (or visit)."""

    rules: tuple[ReminderRule, ...]
    quiet: QuietHours | None = None
    daily_cap: int = 6

    def __post_init__(self) -> None:
        if len({r.code for r in self.rules}) != len(self.rules):
            raise Invalid("rules", "Rule codes must be unique.")
        if not 1 <= self.daily_cap <= MAX_DAILY_CAP:
            raise Invalid("daily_cap", f"Must be between 1 and {MAX_DAILY_CAP}.")
        if len(self.rules) > MAX_RULES:
            raise Invalid("rules", f"At most {MAX_RULES} reminders per diary.")

    def to_json(self) -> dict[str, Any]:
        """As stored with its schedule: the same JSON the audit trail logs for it (field by
        field, times in ISO form), so the state check compares the two as they are."""
        quiet = self.quiet
        return {
            "rules": [
                {
                    "code": r.code,
                    "when": r.when.value,
                    "minutes": r.minutes,
                    "morning": r.morning.isoformat(),
                }
                for r in self.rules
            ],
            "quiet": None
            if quiet is None
            else {"start": quiet.start.isoformat(), "end": quiet.end.isoformat()},
            "daily_cap": self.daily_cap,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Policy:
        quiet = data.get("quiet")
        return cls(
            rules=tuple(
                ReminderRule(
                    r["code"], When(r["when"]), int(r["minutes"]), time.fromisoformat(r["morning"])
                )
                for r in data["rules"]
            ),
            quiet=None
            if quiet is None
            else QuietHours(time.fromisoformat(quiet["start"]), time.fromisoformat(quiet["end"])),
            daily_cap=int(data["daily_cap"]),
        )


MAX_RULES = 10


def parse_time(text: str, field: str) -> time:
    """A local time of day as HH:MM (00:00-23:59); Invalid otherwise."""
    try:
        parsed = time.fromisoformat(text)
    except (TypeError, ValueError):
        raise Invalid(field, "Use a local time of day as HH:MM, e.g. 21:00.") from None
    if len(text) != 5 or parsed.tzinfo is not None:
        raise Invalid(field, "Use a local time of day as HH:MM, e.g. 21:00.")
    return parsed


@dataclass(frozen=True)
class Reminder:
    """One planned reminder: the send key is (participant, occurrence_key, rule)."""

    occurrence_key: str
    rule: str
    at: datetime  # UTC, quiet hours applied
    local: datetime  # the same instant in the participant's zone then
    closes_at: datetime
    when: When | None = None  # the rule's kind (its text); None: a visit's reminder

    @property
    def key(self) -> str:
        return f"{self.occurrence_key}/{self.rule}"


def plan(
    policy: Policy,
    occurrences: Iterable[Occurrence],
    history: Sequence[ZoneChange],
    *,
    start: datetime,
    end: datetime,
    answered: frozenset[str] = frozenset(),
) -> list[Reminder]:
    """Reminders falling in [start, end), ordered by instant then key.

    Quiet hours defer a reminder to their end; a reminder deferred past its diary's closing
    is dropped (NEXT_MORNING ones excepted: they are about a missed diary). Answered
    occurrences get none. At most `daily_cap` reminders per local day; the earliest win.
    """
    candidates: list[Reminder] = []
    for occurrence in occurrences:
        if occurrence.key in answered:
            continue
        for rule in policy.rules:
            at = rule.instant(occurrence, history)
            if at is None:
                continue
            zone = ZoneInfo(zone_at(history, at))
            if policy.quiet is not None:
                at = policy.quiet.defer(at, zone)
                zone = ZoneInfo(zone_at(history, at))
            if rule.when is not When.NEXT_MORNING and at >= occurrence.closes_at:
                continue
            candidates.append(
                Reminder(
                    occurrence.key,
                    rule.code,
                    at,
                    at.astimezone(zone),
                    occurrence.closes_at,
                    rule.when,
                )
            )
    candidates.sort(key=lambda r: (r.at, r.key))
    per_day: dict[date, int] = {}
    kept: list[Reminder] = []
    for reminder in candidates:
        day = reminder.local.date()
        if per_day.get(day, 0) >= policy.daily_cap:
            continue
        per_day[day] = per_day.get(day, 0) + 1
        if start <= reminder.at < end:
            kept.append(reminder)
    return kept


def version(reminders: Iterable[Reminder]) -> str:
    """A short digest of the plan: changes whenever any instant or key changes."""
    digest = hashlib.sha256()
    for r in reminders:
        digest.update(f"{r.key}@{r.at.isoformat()};".encode())
    return digest.hexdigest()[:16]


def wall_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The first instant the clock in `zone` reads `day at`; a time skipped by DST moves on
    by the gap (02:30 -> 03:30), as the schedule planner does."""
    # fold=0 reads a skipped wall time with the offset before the gap, which lands after it.
    return datetime.combine(day, at).replace(tzinfo=zone, fold=0).astimezone(UTC)
