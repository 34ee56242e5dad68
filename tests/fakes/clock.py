"""In-memory fake of the clock port."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.clock import PinnedClock


class FakeClock(PinnedClock):
    """Unit tests' clock: a pinned clock that starts on the night Berlin moves to summer time."""

    def __init__(self, start: datetime | None = None) -> None:
        super().__init__(start or datetime(2026, 3, 29, 0, 30, tzinfo=UTC))
