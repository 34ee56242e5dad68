"""Shared fixtures: a real PostgreSQL per test session, keys, apps and units of work.

PostgreSQL comes from TEST_DATABASE_URL (a server URL, e.g. the CI machine's) or, when that
is unset, from the embedded server. Each session creates its own database, migrates it, and
drops it at the end. Integration tests run inside an outer transaction that is rolled back,
so the application's commits become savepoints and tests never see each other's rows.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from api.app import Runtime, build_runtime
from api.settings import Environment, Settings
from infra.crypto.keys import KeyFileProvider
from infra.db import migrations, provision
from infra.db.embedded import ROOT_MESSAGE, EmbeddedPostgres
from infra.db.engine import app_url, create_engine
from infra.db.uow import SqlUnitOfWorkFactory, Storage
from infra.eventlog.writer import EventLogWriter
from tests.clock import CLOCK, PINNED_AT, PinnedClock

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def clock() -> PinnedClock:
    """The clock of every app, runtime and unit of work, pinned afresh for each test."""
    CLOCK.pin(PINNED_AT)
    return CLOCK


@pytest.fixture(scope="module", autouse=True)
def _clock_for_the_module() -> None:
    """Pinned again before a module's own fixtures run (autouse runs first in its scope): a
    trial a module builds once gets its tokens at the pinned "now", whatever the previous
    module's last test moved the clock to."""
    CLOCK.pin(PINNED_AT)


@dataclass(frozen=True)
class ScratchDatabase:
    server_url: str
    owner_url: str
    app_url: str


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield url
        return
    if os.geteuid() == 0:
        pytest.exit(f"{ROOT_MESSAGE} (for the tests: TEST_DATABASE_URL)", returncode=2)
    server = EmbeddedPostgres(ROOT / ".hearth" / "test-postgres", durable=False)
    started = server.start()
    yield server.url()
    if started:
        server.stop()


@pytest.fixture(scope="session")
async def database(server_url: str) -> AsyncIterator[ScratchDatabase]:
    name = f"hearth_test_{os.getpid()}_{secrets.token_hex(3)}"
    await provision.ensure_database(server_url, name)
    owner = provision.with_database(server_url, name)
    engine = create_engine(owner, pool_size=1)
    try:
        await migrations.upgrade(engine)
    finally:
        await engine.dispose()
    yield ScratchDatabase(
        server_url=server_url,
        owner_url=owner,
        app_url=app_url(owner).render_as_string(hide_password=False),
    )
    await provision.drop_database(server_url, name)


@pytest.fixture(scope="session")
async def app_engine(database: ScratchDatabase) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database.app_url, pool_size=5)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
async def owner_engine(database: ScratchDatabase) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database.owner_url, pool_size=2)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keys") / "keys.json"


@pytest.fixture(scope="session")
def keys(key_file: Path) -> KeyFileProvider:
    return KeyFileProvider.open_or_create(key_file)


@pytest.fixture
async def uow(
    app_engine: AsyncEngine, keys: KeyFileProvider
) -> AsyncIterator[SqlUnitOfWorkFactory]:
    """Units of work on one connection inside an outer transaction rolled back after the test."""
    async with app_engine.connect() as connection:
        outer = await connection.begin()
        sessions = async_sessionmaker(
            bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )
        storage = Storage(sessions=sessions, clock=CLOCK, keys=keys, log=EventLogWriter())
        yield SqlUnitOfWorkFactory(storage)
        await outer.rollback()


@pytest.fixture
def committing_uow(app_engine: AsyncEngine, keys: KeyFileProvider) -> SqlUnitOfWorkFactory:
    """Units of work that really commit: for concurrency tests. Use unique data."""
    sessions = async_sessionmaker(app_engine, expire_on_commit=False)
    return SqlUnitOfWorkFactory(
        Storage(sessions=sessions, clock=CLOCK, keys=keys, log=EventLogWriter())
    )


@dataclass
class Scratch:
    """A database of its own, with a runtime that really commits: for whole-log checks."""

    runtime: Runtime
    owner_url: str
    settings: Settings


@pytest.fixture
async def scratch(server_url: str, tmp_path: Path) -> AsyncIterator[Scratch]:
    name = f"hearth_scratch_{secrets.token_hex(4)}"
    await provision.ensure_database(server_url, name)
    owner = provision.with_database(server_url, name)
    engine = create_engine(owner, pool_size=1)
    try:
        await migrations.upgrade(engine)
    finally:
        await engine.dispose()
    settings = Settings(
        env=Environment.TEST,
        database_url=SecretStr(owner),
        key_file=tmp_path / "keys.json",
        export_dir=tmp_path / "exports",
        checkpoint_dir=tmp_path / "checkpoints",
        db_pool_size=4,
    )
    runtime = build_runtime(settings, clock=CLOCK)
    await runtime.bind_keys()  # as every process does before it acts: writes the key file
    try:
        yield Scratch(runtime=runtime, owner_url=owner, settings=settings)
    finally:
        await runtime.close()
        await provision.drop_database(server_url, name)
