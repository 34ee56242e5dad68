"""The one clock every test reads: pinned per test, moved only when a test says so.

Tests never read the wall clock or the machine's time zone, so the suite gives the same
answers at any hour of any day (DST changes included) and under `faketime`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

# A plain weekday morning in Berlin (UTC+2): no DST change near, a diary day well under way.
PINNED_AT = datetime(2026, 6, 10, 9, 30, tzinfo=UTC)


class PinnedClock:
    """A `domain.clock.Clock` that says what the test pinned."""

    def __init__(self, start: datetime = PINNED_AT) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current

    def pin(self, when: datetime) -> None:
        if when.tzinfo is None:
            raise ValueError("pin an aware datetime")
        self.current = when.astimezone(UTC)

    def advance(self, delta: timedelta | None = None, **parts: float) -> None:
        self.current += delta if delta is not None else timedelta(**parts)


# The session's clock: the app, the runtimes and the units of work of every test share it;
# the autouse fixture in conftest.py pins it back to PINNED_AT before each test.
CLOCK = PinnedClock()
