"""Creating and dropping databases on a server (for the embedded default and for tests)."""

from __future__ import annotations

import re

import asyncpg
from sqlalchemy.engine import make_url

from infra.db.engine import async_url

_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _connect_args(url: str) -> dict[str, object]:
    parsed = async_url(url)
    return {
        "user": parsed.username,
        "password": parsed.password,
        "host": parsed.query.get("host") or parsed.host,
        "port": parsed.port,
        "database": parsed.database or "postgres",
    }


def with_database(url: str, database: str) -> str:
    return async_url(url).set(database=database).render_as_string(hide_password=False)


async def ensure_database(server_url: str, name: str) -> None:
    """Create the database if it does not exist yet."""
    _check_name(name)
    connection = await asyncpg.connect(**_connect_args(with_database(server_url, "postgres")))
    try:
        exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


async def drop_database(server_url: str, name: str) -> None:
    _check_name(name)
    connection = await asyncpg.connect(**_connect_args(with_database(server_url, "postgres")))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


def database_name(url: str) -> str | None:
    return make_url(url).database


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise ValueError("database names are lower-case letters, digits and '_'")
