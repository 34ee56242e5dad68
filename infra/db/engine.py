"""Engines and session factories; built by the composition root, never at import time."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

APP_ROLE = "hearth_app"
# A connection back from the pool is pinged first only when it sat idle longer than this:
# a busy pool skips the ping's round trips (three with asyncpg: BEGIN, ping, ROLLBACK) on
# every checkout, and a connection the server dropped while idle is still replaced unseen.
IDLE_PING_SECONDS = 5.0


def async_url(url: str) -> URL:
    """Accept plain `postgresql://` URLs too; Hearth always talks to PostgreSQL through asyncpg."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    if parsed.drivername != "postgresql+asyncpg":
        raise ValueError("DATABASE_URL must be a postgresql:// or postgresql+asyncpg:// URL")
    return parsed


def app_url(owner_url: str, password: str | None = None) -> URL:
    """The owner's URL with the application role as user: same server, fewer privileges."""
    return async_url(owner_url).set(username=APP_ROLE, password=password)


def create_engine(url: URL | str, *, pool_size: int = 10, name: str = "hearth") -> AsyncEngine:
    engine = create_async_engine(
        async_url(url) if isinstance(url, str) else url,
        pool_size=pool_size,
        max_overflow=pool_size,
        connect_args={"server_settings": {"application_name": name}},
    )
    event.listen(engine.sync_engine, "checkin", _checked_in)
    event.listen(engine.sync_engine, "checkout", _ping_if_idle)
    return engine


def _checked_in(dbapi_connection: Any, record: Any) -> None:
    record.info["idle_since"] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """SQLAlchemy's pre-ping, for connections idle a while: a dead one is replaced (the
    pool retries the checkout with a new connection on DisconnectionError)."""
    since = record.info.get("idle_since")
    if since is None or time.monotonic() - since < IDLE_PING_SECONDS:
        return
    try:
        dbapi_connection.ping()
    except Exception as error:
        raise exc.DisconnectionError() from error


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
