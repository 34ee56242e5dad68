"""Rate limits counted in PostgreSQL: several buckets in one statement, every attempt counted."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.auth import Attempt
from infra.db.engine import session_factory
from infra.db.rate_limits import PostgresRateLimiter
from tests.clock import PinnedClock

# 20 s into a minute: a 60-second window has 40 s left.
AT = datetime(2026, 6, 10, 9, 30, 20, tzinfo=UTC)


def _limiter(engine: AsyncEngine, clock: PinnedClock) -> PostgresRateLimiter:
    return PostgresRateLimiter(session_factory(engine), clock, secrets.token_bytes(32))


async def test_two_buckets_are_counted_together_and_the_longest_wait_wins(
    app_engine: AsyncEngine,
) -> None:
    clock = PinnedClock(AT)
    limits = _limiter(app_engine, clock)
    key = secrets.token_hex(4)
    both = [Attempt("ip", key, 3, 60), Attempt("caller", key, 5, 300)]
    assert [await limits.hit_all(both) for _ in range(3)] == [None, None, None]
    assert await limits.hit_all(both) == 40  # the address is over; its window ends first
    for _ in range(2):
        await limits.hit_all(both)
    # Both are over now: the caller's five-minute window (from 09:30:00) waits longest.
    assert await limits.hit_all(both) == 280
    clock.advance(timedelta(seconds=40))  # a new minute: the address may write again
    assert await limits.hit_all([Attempt("ip", key, 3, 60)]) is None
    assert await limits.hit("caller", key, limit=5, per_seconds=300) == 240


async def test_the_same_window_twice_in_one_call_counts_both(app_engine: AsyncEngine) -> None:
    limits = _limiter(app_engine, PinnedClock(AT))
    key = secrets.token_hex(4)
    twice = [Attempt("ip", key, 4, 60, amount=2), Attempt("ip", key, 4, 60, amount=2)]
    assert await limits.hit_all(twice) is None  # 4 of 4
    assert await limits.hit("ip", key, limit=4, per_seconds=60) == 40
    assert await limits.hit_all([]) is None


async def test_keys_are_kept_apart_and_stored_only_as_digests(app_engine: AsyncEngine) -> None:
    limits = _limiter(app_engine, PinnedClock(AT))
    first, second = secrets.token_hex(4), secrets.token_hex(4)
    assert await limits.hit("ip", first, limit=1, per_seconds=60) is None
    assert await limits.hit("ip", second, limit=1, per_seconds=60) is None
    assert await limits.hit("ip", first, limit=1, per_seconds=60) == 40
    async with app_engine.connect() as connection:
        stored = (
            await connection.execute(
                text("SELECT count(*) FROM rate_limits WHERE position(:k IN key) > 0"),
                {"k": first.encode()},
            )
        ).scalar_one()
    assert stored == 0
