"""What the benchmarks share: a scratch database on a real PostgreSQL, and timing."""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from pydantic import SecretStr

from api.app import Runtime, build_runtime
from api.settings import Environment, Settings
from infra.db import migrations, provision
from infra.db.embedded import EmbeddedPostgres
from infra.db.engine import create_engine

ROOT = Path(__file__).resolve().parents[1]


def server_url() -> str:
    """BENCH_DATABASE_URL, else TEST_DATABASE_URL, else the embedded server (started here)."""
    url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    server = EmbeddedPostgres(ROOT / ".hearth" / "bench-postgres")
    server.start()
    return server.url()


@contextlib.asynccontextmanager
async def scratch_runtime(pool_size: int = 40) -> AsyncIterator[tuple[Runtime, str]]:
    server = server_url()
    name = f"hearth_bench_{secrets.token_hex(4)}"
    await provision.ensure_database(server, name)
    owner = provision.with_database(server, name)
    engine = create_engine(owner, pool_size=1)
    await migrations.upgrade(engine)
    await engine.dispose()
    with tempfile.TemporaryDirectory() as keys:
        settings = Settings(
            env=Environment.TEST,
            database_url=SecretStr(owner),
            key_file=Path(keys) / "keys.json",
            db_pool_size=pool_size,
        )
        runtime = build_runtime(settings)
        try:
            yield runtime, owner
        finally:
            await runtime.close()
            await provision.drop_database(server, name)
