"""Engines and session factories; built by the composition root, never at import time."""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

APP_ROLE = "hearth_app"


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
    return create_async_engine(
        async_url(url) if isinstance(url, str) else url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        connect_args={"server_settings": {"application_name": name}},
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
