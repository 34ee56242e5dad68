"""Schema migrations with Alembic, run programmatically by the CLI, the server and the tests."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

from alembic import command

# Migrations live beside the packages in the source tree: Hearth runs from a checkout.
MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "alembic"
_MIGRATION_LOCK_KEY = 0x4845_4152_5448_4D49  # concurrent upgraders wait for each other


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Apply migrations as the engine's user (the schema owner), holding a lock."""
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade, revision)


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    """Step the schema back; for development and for testing the migrations themselves."""
    async with engine.begin() as connection:
        await connection.run_sync(_downgrade, revision)


def _locked_config(connection: Connection) -> Config:
    connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK_KEY})
    config = alembic_config()
    config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection, revision: str) -> None:
    command.upgrade(_locked_config(connection), revision)


def _downgrade(connection: Connection, revision: str) -> None:
    command.downgrade(_locked_config(connection), revision)


async def check(engine: AsyncEngine) -> None:
    """Fail if the models and the migrated schema differ (alembic check)."""
    async with engine.connect() as connection:
        await connection.run_sync(_check)


def _check(connection: Connection) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.check(config)


async def at_head(engine: AsyncEngine) -> bool:
    async with engine.connect() as connection:
        current = await connection.run_sync(
            lambda c: set(MigrationContext.configure(c).get_current_heads())
        )
    return current == set(ScriptDirectory.from_config(alembic_config()).get_heads())
