"""What the benchmarks share: a scratch database on a real PostgreSQL, the real app served
over TCP, and timing."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import secrets
import socket
import tempfile
from collections.abc import AsyncIterator, Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar

import uvicorn
from pydantic import SecretStr
from starlette.types import ASGIApp

from api.app import Runtime, build_runtime
from api.settings import Environment, Settings
from infra.db import migrations, provision
from infra.db.embedded import EmbeddedPostgres
from infra.db.engine import create_engine

ROOT = Path(__file__).resolve().parents[1]
T = TypeVar("T")

# Benchmarks send thousands of writes from one address and one caller a minute: no limits.
UNLIMITED = 1_000_000_000
NO_RATE_LIMITS: dict[str, Any] = {
    "login_limit_per_ip": UNLIMITED,
    "login_limit_per_account": UNLIMITED,
    "enrol_limit_per_ip": UNLIMITED,
    "refresh_limit_per_ip": UNLIMITED,
    "write_limit_per_caller": UNLIMITED,
    "write_limit_per_ip": UNLIMITED,
    "read_limit_per_caller": UNLIMITED,  # query cost points a minute
}


def server_url() -> str:
    """BENCH_DATABASE_URL, else TEST_DATABASE_URL, else the embedded server (started here)."""
    url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    server = EmbeddedPostgres(ROOT / ".hearth" / "bench-postgres")
    server.start()
    return server.url()


@contextlib.asynccontextmanager
async def scratch_settings(pool_size: int = 40, **overrides: Any) -> AsyncIterator[Settings]:
    """Settings for a fresh, migrated database of its own, dropped on exit."""
    server = server_url()
    name = f"hearth_bench_{secrets.token_hex(4)}"
    await provision.ensure_database(server, name)
    try:
        owner = provision.with_database(server, name)
        engine = create_engine(owner, pool_size=1)
        await migrations.upgrade(engine)
        await engine.dispose()
        with tempfile.TemporaryDirectory() as keys:
            values: dict[str, Any] = {
                "env": Environment.TEST,
                "database_url": SecretStr(owner),
                "key_file": Path(keys) / "keys.json",
                "checkpoint_dir": Path(keys) / "checkpoints",
                "db_pool_size": pool_size,
            }
            settings = Settings(**(values | overrides))
            await _bind_keys(settings)
            yield settings
    finally:
        await provision.drop_database(server, name)


async def _bind_keys(settings: Settings) -> None:
    """Write the scratch installation's key file, as its first start would."""
    runtime = build_runtime(settings, owner=True)
    try:
        await runtime.bind_keys()
    finally:
        await runtime.close()


def owner_url(settings: Settings) -> str:
    assert settings.database_url is not None
    return settings.database_url.get_secret_value()


def asyncpg_dsn(url: str) -> str:
    """The SQLAlchemy URL as plain asyncpg takes it."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


@contextlib.asynccontextmanager
async def scratch_runtime(pool_size: int = 40) -> AsyncIterator[tuple[Runtime, str]]:
    async with scratch_settings(pool_size) as settings:
        runtime = build_runtime(settings)
        try:
            yield runtime, owner_url(settings)
        finally:
            await runtime.close()


@contextlib.asynccontextmanager
async def serving(app: ASGIApp) -> AsyncIterator[str]:
    """The app under uvicorn in this process on a free port of 127.0.0.1: its base URL.

    The listening socket is bound here and handed to uvicorn, so no other process can take
    the port in between. Lifespan runs as under `hearth serve`; shutdown is graceful.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        lifespan="on",
        log_level="warning",
        access_log=False,
        server_header=False,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name="bench-uvicorn")
    try:
        while not server.started:
            if task.done():
                await task  # raises what stopped it
                raise RuntimeError("uvicorn stopped before it started serving")
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run on uvloop when installed, as uvicorn's default `loop="auto"` would serve."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


def machine() -> str:
    """Cores and load: the figures share the machine with PostgreSQL (and anything else)."""
    one, five, _ = os.getloadavg()
    return f"{os.cpu_count()} cores, load average {one:.2f} (1 min) {five:.2f} (5 min)"


def percentile(samples: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (fraction in (0, 1]) of unsorted samples."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]
