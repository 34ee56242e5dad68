"""Fixed-window rate limits counted in PostgreSQL, so every server process shares them.

Keys (IP addresses, e-mail addresses) are stored only as keyed digests. Each hit is its own
short transaction, independent of the request's unit of work, so refused attempts count too.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.clock import Clock
from infra.db.tables import RateLimitRow

_TABLE = RateLimitRow.__table__  # type: ignore[attr-defined]
_HOUSEKEEPING_EVERY = 500


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
        now = self._clock.now()
        epoch = int(now.timestamp())
        start = datetime.fromtimestamp(epoch - epoch % per_seconds, UTC)
        digest = hmac.new(self._key, f"{bucket}\x1f{key}".encode(), hashlib.sha256).digest()
        statement = (
            insert(_TABLE)
            .values(bucket=bucket, key=digest, window_start=start, hits=amount)
            .on_conflict_do_update(
                index_elements=["bucket", "key", "window_start"],
                set_={"hits": _TABLE.c.hits + amount},
            )
            .returning(_TABLE.c.hits)
        )
        async with self._sessions() as session, session.begin():
            hits = (await session.execute(statement)).scalar_one()
            await self._tidy(session, now)
        if hits <= limit:
            return None
        return max(1, int((start + timedelta(seconds=per_seconds) - now).total_seconds() + 0.999))

    async def _tidy(self, session: AsyncSession, now: datetime) -> None:
        # Now and then, forget windows that ended more than an hour ago.
        self._hits += 1
        if self._hits % _HOUSEKEEPING_EVERY == 0:
            await session.execute(
                delete(_TABLE).where(_TABLE.c.window_start < now - timedelta(hours=1))
            )
