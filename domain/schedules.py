"""ePRO diary schedules in the participant's local wall time, correct across DST and travel."""

from __future__ import annotations

import bisect
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from domain import values
from domain.errors import Invalid

MIN_WINDOW = timedelta(minutes=1)
MAX_WINDOW = timedelta(hours=24)

# No offset in the tz database (local mean time included) reaches 16 h, so every instant
# at which a clock reads a wall time W lies within this distance of W taken as UTC.
_REACH = timedelta(days=2)
_TICK = timedelta(microseconds=1)


@dataclass(frozen=True)
class Recurrence:
    """When a diary is due: local times of day on chosen days, counted from an anchor date.

    Day 0 is the anchor (the enrolment date in the participant's zone); `end_day` is
    inclusive. `window` is how long after the due time an entry is on time.
    """

    times: tuple[time, ...]
    window: timedelta
    weekdays: frozenset[int] | None = None  # ISO weekdays, 1 = Monday; None = every day
    start_day: int = 0
    end_day: int | None = None

    def __post_init__(self) -> None:
        if not self.times:
            raise Invalid("times", "Give at least one time of day.")
        if any(t.tzinfo is not None or t.second or t.microsecond for t in self.times):
            raise Invalid("times", "Use local times of day in whole minutes, without a zone.")
        if len(set(self.times)) != len(self.times):
            raise Invalid("times", "Times of day must be unique.")
        if self.weekdays is not None and (
            not self.weekdays or not self.weekdays <= frozenset(range(1, 8))
        ):
            raise Invalid("weekdays", "Use ISO weekdays 1 (Monday) to 7 (Sunday), or none.")
        if self.start_day < 0:
            raise Invalid("start_day", "Must be 0 (the anchor date) or later.")
        if self.end_day is not None and self.end_day < self.start_day:
            raise Invalid("end_day", "Must not be before the start day.")
        if not MIN_WINDOW <= self.window <= MAX_WINDOW:
            raise Invalid("window", "Must be between 1 minute and 24 hours.")

    def applies_on(self, day: date, anchor: date) -> bool:
        offset = (day - anchor).days
        if offset < self.start_day or (self.end_day is not None and offset > self.end_day):
            return False
        return self.weekdays is None or day.isoweekday() in self.weekdays


@dataclass(frozen=True)
class ZoneChange:
    """From this instant on, the participant's phone is in `timezone` (an IANA name)."""

    effective_from: datetime
    timezone: str

    def __post_init__(self) -> None:
        _require_aware(self.effective_from, "effective_from")
        if values.timezone(self.timezone, "timezone") != self.timezone:
            raise Invalid("timezone", "Use an IANA time zone name, e.g. 'Europe/Berlin'.")


@dataclass(frozen=True)
class Occurrence:
    """One due diary. `local_date` and `local_time` are as scheduled; a time skipped by DST
    or travel is due later than that reading (see `occurrences`)."""

    local_date: date
    local_time: time
    timezone: str  # the zone the occurrence was resolved in
    due_at: datetime  # UTC
    closes_at: datetime  # UTC, due_at + window

    @property
    def key(self) -> str:
        """Stable identity of "this diary on this local day": links entries, finds repeats."""
        return f"{self.local_date.isoformat()}T{self.local_time:%H:%M}"

    def due_local(self) -> datetime:
        return self.due_at.astimezone(ZoneInfo(self.timezone))


class Timeliness(StrEnum):
    EARLY = "EARLY"  # before the due time
    ON_TIME = "ON_TIME"  # due <= t <= closes_at
    LATE = "LATE"  # after the window, within the questionnaire's late grace
    WINDOW_CLOSED = "WINDOW_CLOSED"  # after the window and any grace: refuse the entry


def occurrences(
    recurrence: Recurrence,
    *,
    anchor: date,
    history: Sequence[ZoneChange],
    start: datetime,
    end: datetime,
) -> list[Occurrence]:
    """Every occurrence due in [start, end), ordered by due time then key.

    Each key (local date + time of day, "2026-03-29T09:00") yields exactly one occurrence.
    The participant's clock is their history's zones in turn. Where that clock reads the
    scheduled time:
    - once: that instant (09:00 stays 09:00 local, so the UTC time moves with DST);
    - more than once (DST fall-back, or a flight west setting the phone back): the first
      reading only. An ambiguous 02:30 uses summer time (fold=0); a diary due before the
      flight is not asked again; crossing the date line eastward, the repeated calendar
      day has no diaries;
    - never (DST spring-forward, or a flight east moving the phone on): skipped by a DST
      change, it moves forward by the gap (02:30 -> 03:30, as in RFC 5545); skipped by a
      zone change, it is due the instant the new zone took effect (on landing), as that gap
      can reach 26 h. Westward over the date line, all skipped diaries are due on landing.
      Skipped by several jumps within hours, the earliest result counts.
    A zone change taking effect exactly at a due instant is already in effect.
    """
    _require_aware(start, "start")
    _require_aware(end, "end")
    timeline = _Timeline(history)
    # Any occurrence due in range belongs to a local date within reach of the range's UTC dates.
    first = max(_naive_utc(start - _REACH).date(), anchor + timedelta(days=recurrence.start_day))
    last = _naive_utc(end + _REACH).date()
    if recurrence.end_day is not None:
        last = min(last, anchor + timedelta(days=recurrence.end_day))
    found: list[Occurrence] = []
    for offset in range((last - first).days + 1):
        day = first + timedelta(days=offset)
        if not recurrence.applies_on(day, anchor):
            continue
        for at in recurrence.times:
            due, zone = timeline.resolve(datetime.combine(day, at).replace(fold=0))
            if start <= due < end:
                found.append(
                    Occurrence(
                        local_date=day,
                        local_time=at,
                        timezone=zone,
                        due_at=due,
                        closes_at=due + recurrence.window,
                    )
                )
    found.sort(key=lambda o: (o.due_at, o.key))
    return found


def classify(
    occurrence: Occurrence, submitted_at: datetime, *, late_grace: timedelta | None
) -> Timeliness:
    """How an entry submitted at `submitted_at` relates to the window; both ends are inclusive.

    `late_grace` None means the questionnaire refuses late entries. WINDOW_CLOSED is returned,
    not raised, so the caller decides between refusing and recording.
    """
    _require_aware(submitted_at, "submitted_at")
    if late_grace is not None and late_grace < timedelta(0):
        raise Invalid("late_grace", "Must not be negative.")
    if submitted_at < occurrence.due_at:
        return Timeliness.EARLY
    if submitted_at <= occurrence.closes_at:
        return Timeliness.ON_TIME
    if late_grace is not None and submitted_at <= occurrence.closes_at + late_grace:
        return Timeliness.LATE
    return Timeliness.WINDOW_CLOSED


def missed(
    occurrences: Iterable[Occurrence], answered_keys: Collection[str], now: datetime
) -> list[Occurrence]:
    """Occurrences whose window closed (strictly before `now`) without an entry."""
    _require_aware(now, "now")
    return [o for o in occurrences if o.closes_at < now and o.key not in answered_keys]


def match(
    occurrences: Iterable[Occurrence],
    submitted_at: datetime,
    *,
    late_grace: timedelta | None = None,
) -> Occurrence | None:
    """The occurrence an entry belongs to: the latest one due at or before it whose window,
    extended by `late_grace` when given, still covers it. Ties go to the later key."""
    _require_aware(submitted_at, "submitted_at")
    grace = late_grace or timedelta(0)
    covering = [o for o in occurrences if o.due_at <= submitted_at <= o.closes_at + grace]
    return max(covering, key=lambda o: (o.due_at, o.key), default=None)


@dataclass(frozen=True)
class ZonePeriod:
    """The participant's clock was in `timezone` from `since` until `until` (None: open)."""

    since: datetime | None
    until: datetime | None
    timezone: str

    def holds(self, instant: datetime) -> bool:
        return (self.since is None or self.since <= instant) and (
            self.until is None or instant < self.until
        )


def zone_periods(history: Sequence[ZoneChange]) -> list[ZonePeriod]:
    """The history as consecutive periods; the first zone applies from the beginning of time
    (the participant's first zone is the best guess for anything before registration)."""
    timeline = _Timeline(history)
    bounds: list[datetime | None] = [None, *timeline.starts, None]
    return [ZonePeriod(bounds[i], bounds[i + 1], name) for i, name in enumerate(timeline.names)]


def zone_at(history: Sequence[ZoneChange], instant: datetime) -> str:
    """The IANA zone the participant was in at `instant`."""
    _require_aware(instant, "instant")
    return next(p.timezone for p in zone_periods(history) if p.holds(instant))


class _Timeline:
    """The history as segments: segment i is zones[i] from starts[i - 1] to starts[i]."""

    def __init__(self, history: Sequence[ZoneChange]) -> None:
        if not history:
            raise Invalid("history", "Give at least one time zone.")
        entries: list[tuple[datetime, str]] = []
        for index, change in enumerate(history):
            moment = change.effective_from.astimezone(UTC)
            if index and moment < history[index - 1].effective_from:
                raise Invalid("history", "Zone changes must be ordered by effective_from.")
            if entries and entries[-1][0] == moment:
                entries.pop()  # two changes at one instant: the later one wins
            if entries and entries[-1][1] == change.timezone:
                continue  # not a change at all
            entries.append((moment, change.timezone))
        self.names = [name for _, name in entries]
        self.zones = [ZoneInfo(name) for name in self.names]
        # The first zone applies from the beginning of time, so its own instant is not a start.
        self.starts = [moment for moment, _ in entries[1:]]

    def resolve(self, wall: datetime) -> tuple[datetime, str]:
        """The UTC instant a naive local wall time is due, and the zone it was resolved in."""
        near = range(
            bisect.bisect_right(self.starts, (wall - _REACH).replace(tzinfo=UTC)),
            bisect.bisect_right(self.starts, (wall + _REACH).replace(tzinfo=UTC)) + 1,
        )
        read = [(u, i) for i in near for u in _instants(wall, self.zones[i]) if self._has(i, u)]
        if read:
            due, index = min(read)
            return due, self.names[index]
        jumps: list[tuple[datetime, int]] = []
        for i in near:
            zone, begin, finish = self.zones[i], self._begin(i), self._finish(i)
            if begin is not None and self._leaps_over(i, wall):
                jumps.append((begin, i))  # a flight east: due when the new zone took effect
            if (
                not _instants(wall, zone)
                and (begin is None or _wall(begin, zone) < wall)
                and (finish is None or wall < _wall(finish, zone))
            ):
                jumps.append((_shifted(wall, zone), i))  # spring-forward inside this zone
        if not jumps:  # unreachable with real zone data; keeps resolution total
            i = bisect.bisect_right(self.starts, wall.replace(tzinfo=UTC))
            jumps.append((_shifted(wall, self.zones[i]), i))
        due, index = min(jumps)
        return due, self.names[index]

    def _leaps_over(self, index: int, wall: datetime) -> bool:
        """Whether the change into segment `index` moved the clock from before `wall` to after."""
        begin = self.starts[index - 1]
        # Reading just before the change stands in for the left limit, which no instant has.
        return _wall(begin - _TICK, self.zones[index - 1]) < wall < _wall(begin, self.zones[index])

    def _begin(self, index: int) -> datetime | None:
        return self.starts[index - 1] if index else None

    def _finish(self, index: int) -> datetime | None:
        return self.starts[index] if index < len(self.starts) else None

    def _has(self, index: int, instant: datetime) -> bool:
        begin, finish = self._begin(index), self._finish(index)
        return (begin is None or begin <= instant) and (finish is None or instant < finish)


def _instants(wall: datetime, zone: ZoneInfo) -> tuple[datetime, ...]:
    """The UTC instants at which `zone`'s clock reads `wall`: one, two (a fold) or none (a gap)."""
    first = wall.replace(tzinfo=zone, fold=0)
    second = wall.replace(tzinfo=zone, fold=1)
    if first.utcoffset() == second.utcoffset():
        return (first.astimezone(UTC),)
    both = (first.astimezone(UTC), second.astimezone(UTC))
    return tuple(u for u in both if _wall(u, zone) == wall)


def _shifted(wall: datetime, zone: ZoneInfo) -> datetime:
    # In a gap fold=0 applies the offset from before the change: 02:30 becomes 03:30.
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC)


def _wall(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


def _naive_utc(instant: datetime) -> datetime:
    return instant.astimezone(UTC).replace(tzinfo=None)


def _require_aware(value: datetime, field: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise Invalid(field, "Must be a date and time with a UTC offset.")
