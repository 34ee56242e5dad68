"""`alembic upgrade head && alembic check`, and a full downgrade/upgrade round trip."""

from __future__ import annotations

import secrets

from sqlalchemy.ext.asyncio import AsyncEngine

from infra.db import migrations, provision
from infra.db.engine import create_engine
from tests.conftest import ScratchDatabase


async def test_schema_is_at_head_and_matches_the_models(owner_engine: AsyncEngine) -> None:
    assert await migrations.at_head(owner_engine)
    await migrations.check(owner_engine)  # raises if autogenerate would find a difference


async def test_migrations_round_trip_on_a_fresh_database(database: ScratchDatabase) -> None:
    name = f"hearth_mig_{secrets.token_hex(4)}"
    await provision.ensure_database(database.server_url, name)
    engine = create_engine(provision.with_database(database.server_url, name), pool_size=1)
    try:
        await migrations.upgrade(engine)
        await migrations.upgrade(engine)  # idempotent
        await migrations.downgrade(engine, "base")
        assert not await migrations.at_head(engine)
        await migrations.upgrade(engine)
        assert await migrations.at_head(engine)
        await migrations.check(engine)
    finally:
        await engine.dispose()
        await provision.drop_database(database.server_url, name)
