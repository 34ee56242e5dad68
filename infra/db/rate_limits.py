"""Fixed-window rate limits counted in PostgreSQL, so every server process shares them.

Keys (IP addresses, e-mail addresses) are stored only as keyed digests. Each count is one
statement on its own connection in autocommit mode, independent of the request's unit of
work, so refused attempts count too, and a write that counts against both its caller and its
address costs a single round trip.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.auth import Attempt
from domain.clock import Clock
from infra.db.tables import RateLimitRow

_TABLE = RateLimitRow.__table__  # type: ignore[attr-defined]
_HOUSEKEEPING_EVERY = 500
_AUTOCOMMIT = {"isolation_level": "AUTOCOMMIT"}


class PostgresRateLimiter:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Clock, key: bytes
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._key = key
        self._hits = 0

    async def hit(
        self, bucket: str, key: str, *, limit: int, per_seconds: int, amount: int = 1
    ) -> int | None:
        return await self.hit_all([Attempt(bucket, key, limit, per_seconds, amount)])

    async def hit_all(self, attempts: Sequence[Attempt]) -> int | None:
        if not attempts:
            return None
        now = self._clock.now()
        epoch = int(now.timestamp())
        rows: dict[tuple[str, bytes, datetime], int] = {}
        windows: list[tuple[str, bytes, datetime, Attempt]] = []
        for attempt in attempts:
            start = datetime.fromtimestamp(epoch - epoch % attempt.per_seconds, UTC)
            text = f"{attempt.bucket}\x1f{attempt.key}".encode()
            digest = hmac.new(self._key, text, hashlib.sha256).digest()
            # One row per window: a statement may not update the same row twice.
            rows[(attempt.bucket, digest, start)] = (
                rows.get((attempt.bucket, digest, start), 0) + attempt.amount
            )
            windows.append((attempt.bucket, digest, start, attempt))
        statement = (
            insert(_TABLE)
            .values(
                [
                    {"bucket": bucket, "key": digest, "window_start": start, "hits": amount}
                    for (bucket, digest, start), amount in rows.items()
                ]
            )
            .on_conflict_do_update(
                index_elements=["bucket", "key", "window_start"],
                set_={"hits": _TABLE.c.hits + insert(_TABLE).excluded.hits},
            )
            .returning(_TABLE.c.bucket, _TABLE.c.key, _TABLE.c.hits)
        )
        async with self._sessions() as session:
            connection = await session.connection(execution_options=_AUTOCOMMIT)
            counted = {
                (row.bucket, row.key): row.hits for row in await connection.execute(statement)
            }
            await self._tidy(session, now)
        waits = [
            _wait(now, start, attempt.per_seconds)
            for bucket, digest, start, attempt in windows
            if counted[(bucket, digest)] > attempt.limit
        ]
        return max(waits) if waits else None

    async def _tidy(self, session: AsyncSession, now: datetime) -> None:
        # Now and then, forget windows that ended more than an hour ago.
        self._hits += 1
        if self._hits % _HOUSEKEEPING_EVERY == 0:
            await session.execute(
                delete(_TABLE).where(_TABLE.c.window_start < now - timedelta(hours=1))
            )


def _wait(now: datetime, start: datetime, per_seconds: int) -> int:
    return max(1, int((start + timedelta(seconds=per_seconds) - now).total_seconds() + 0.999))
