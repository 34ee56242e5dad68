"""Alembic environment: runs on a connection handed in by Hearth, or on DATABASE_URL."""

from __future__ import annotations

import asyncio
import os

from sqlalchemy import Connection, pool
from sqlalchemy.ext.asyncio import create_async_engine

from alembic import context
from infra.db.engine import async_url
from infra.db.tables import metadata

config = context.config


def _ours(name: str | None, type_: str, parent_names: object) -> bool:
    """The job queue's tables belong to procrastinate (its own schema, applied by 0011):
    autogenerate and `alembic check` compare only the tables of Hearth's models."""
    return not (type_ == "table" and (name or "").startswith("procrastinate_"))


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        compare_type=True,
        compare_server_default=False,
        include_name=_ours,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_from_url(url: str) -> None:
    engine = create_async_engine(async_url(url), poolclass=pool.NullPool)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


def main() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("DATABASE_URL")
    if not url:
        raise SystemExit("Set DATABASE_URL (the schema owner's connection) to run migrations.")
    asyncio.run(_run_from_url(url))


if context.is_offline_mode():
    raise SystemExit("Offline (SQL script) migrations are not supported; connect to a database.")
main()
