"""End-to-end fixtures: the real app with its lifespan, over HTTP, on the session database."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from starlette.applications import Starlette

from api.app import Worker, build_runtime, build_worker, create_app
from api.settings import Environment, Settings
from domain.actors import Grant, Role
from domain.services import users
from tests.clock import CLOCK
from tests.conftest import ScratchDatabase
from tests.factories import caller

PASSWORD = "correct horse battery staple"

Gql = Callable[..., Awaitable[dict[str, Any]]]


def make_settings(database: ScratchDatabase, key_file: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "env": Environment.TEST,
        "database_url": SecretStr(database.owner_url),
        "key_file": key_file,
        "export_dir": key_file.parent / "exports",
        "checkpoint_dir": key_file.parent / "checkpoints",
        "db_pool_size": 4,
        # The suite signs in hundreds of times from one address; limits get their own test.
        "login_limit_per_ip": 100_000,
        "login_limit_per_account": 100_000,
        "enrol_limit_per_ip": 100_000,
        "refresh_limit_per_ip": 100_000,
        "write_limit_per_caller": 100_000,
        "write_limit_per_ip": 100_000,
        "exports_per_study": 100,  # the limit has its own test
        "worker_metrics_port": 0,  # in-process workers serve no /metrics port of their own
        "worker_shutdown_seconds": 5.0,
        "worker_heartbeat_seconds": 1.0,
        "worker_poll_seconds": 0.5,
        "read_limit_per_caller": 100_000_000,
        "webhook_allow_private": True,  # the test receivers listen on 127.0.0.1
    }
    return Settings(**(values | overrides))


@pytest.fixture(scope="session")
def settings(database: ScratchDatabase, key_file: Path) -> Settings:
    return make_settings(database, key_file)


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[Starlette]:
    application = create_app(settings, clock=CLOCK)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def worker(settings: Settings) -> AsyncIterator[Worker]:
    """A real worker in this process (procrastinate on the session database), on the pinned
    clock; stopped cleanly after the test."""
    running = build_worker(settings, clock=CLOCK)
    stop = asyncio.Event()
    task = asyncio.create_task(running.run(stop))
    yield running
    stop.set()
    await task


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hearth.test") as http:
        yield http


@pytest.fixture
def gql(client: httpx.AsyncClient) -> Gql:
    async def run(
        query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        response = await client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    return run


async def create_user(
    settings: Settings, grants: tuple[Grant, ...], email: str | None = None
) -> str:
    """Create a staff user through the use case (as an operator would) and return the e-mail."""
    email = email or f"user-{uuid.uuid4().hex[:8]}@example.org"
    runtime = build_runtime(settings, clock=CLOCK)
    try:
        await users.create_staff_user(
            uow=runtime.services.uow(),
            passwords=runtime.services.passwords,
            screen=runtime.services.password_screen,
            ctx=caller(),
            email=email,
            name="Test User",
            password=PASSWORD,
            grants=grants,
        )
    finally:
        await runtime.close()
    return email


LOGIN = """
mutation Login($email: String!, $password: String!) {
  login(input: {email: $email, password: $password}) {
    __typename
    ... on LoginSuccess { accessToken expiresAt }
    ... on MutationError { code message }
  }
}"""


async def login(gql: Gql, email: str, password: str = PASSWORD) -> str:
    result = await gql(LOGIN, {"email": email, "password": password})
    token: str = result["data"]["login"]["accessToken"]
    return token


@pytest.fixture
async def admin_token(settings: Settings, gql: Gql) -> str:
    return await login(gql, await create_user(settings, (Grant(Role.ADMIN),)))
