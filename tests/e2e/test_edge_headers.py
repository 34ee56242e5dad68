"""Response headers on every answer, CORS for configured origins, and client addresses taken
from X-Forwarded-For only when a configured proxy sends it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from api.app import create_app
from tests.clock import CLOCK
from tests.conftest import ScratchDatabase
from tests.e2e.conftest import make_settings
from tests.e2e.raw import call

WEB_APP = "https://console.example.org"


async def test_every_answer_is_not_cached_and_not_sniffed(client: httpx.AsyncClient) -> None:
    for response in (
        await client.post("/graphql", json={"query": "{ __typename }"}),
        await client.post(
            "/graphql", content=b"null", headers={"content-type": "application/json"}
        ),
        await client.get("/healthz"),
        await client.get("/graphql/schema.graphql"),
        await client.get("/nope"),
        await client.get("/exports/00000000-0000-0000-0000-000000000000/DM.csv"),
    ):
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["content-security-policy"].startswith("default-src 'none'")


async def test_the_console_page_has_a_csp_that_allows_only_itself(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/graphql", headers={"accept": "text/html"})
    policy = page.headers["content-security-policy"]
    assert "script-src 'sha256-" in policy
    assert "style-src 'sha256-" in policy
    assert "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy


async def test_no_cors_unless_configured(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"origin": WEB_APP}
    )
    assert "access-control-allow-origin" not in response.headers
    preflight = await client.options(
        "/graphql", headers={"origin": WEB_APP, "access-control-request-method": "POST"}
    )
    assert preflight.status_code == 403
    assert preflight.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


@pytest.fixture
async def configured(database: ScratchDatabase, key_file: Path) -> AsyncIterator[Starlette]:
    settings = make_settings(database, key_file, cors_origins=WEB_APP, trusted_proxies="10.0.0.0/8")
    application = create_app(settings, clock=CLOCK)
    async with application.router.lifespan_context(application):
        yield application


async def test_cors_for_the_configured_origin(configured: Starlette) -> None:
    transport = httpx.ASGITransport(app=configured)
    async with httpx.AsyncClient(transport=transport, base_url="http://hearth.test") as http:
        preflight = await http.options(
            "/graphql",
            headers={
                "origin": WEB_APP,
                "access-control-request-method": "POST",
                "access-control-request-headers": "authorization, content-type",
            },
        )
        assert preflight.status_code == 204
        assert preflight.headers["access-control-allow-origin"] == WEB_APP
        assert "authorization" in preflight.headers["access-control-allow-headers"]
        assert "access-control-allow-credentials" not in preflight.headers
        answer = await http.post(
            "/graphql", json={"query": "{ __typename }"}, headers={"origin": WEB_APP}
        )
        assert answer.headers["access-control-allow-origin"] == WEB_APP
        assert "retry-after" in answer.headers["access-control-expose-headers"]
        assert answer.headers["vary"].lower() == "origin"
        other = await http.post(
            "/graphql", json={"query": "{ __typename }"}, headers={"origin": "https://evil.test"}
        )
        assert "access-control-allow-origin" not in other.headers


async def _logged_client(
    app: Starlette, peer: str, forwarded: bytes, caplog: pytest.LogCaptureFixture
) -> str:
    caplog.clear()
    await call(app, "GET", "/healthz", headers=[(b"x-forwarded-for", forwarded)], client=(peer, 1))
    return str(next(r for r in caplog.records if r.getMessage() == "request").client)  # type: ignore[attr-defined]


async def test_forwarded_for_is_believed_only_from_trusted_proxies(
    configured: Starlette, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="hearth.http")
    assert await _logged_client(configured, "10.1.2.3", b"203.0.113.9", caplog) == "203.0.113.9"
    # the right-most address that is not a trusted proxy is the client
    chain = b"198.51.100.1, 203.0.113.9, 10.9.9.9"
    assert await _logged_client(configured, "10.1.2.3", chain, caplog) == "203.0.113.9"
    assert await _logged_client(configured, "192.0.2.7", b"203.0.113.9", caplog) == "192.0.2.7"
    assert await _logged_client(configured, "10.1.2.3", b"not-an-ip", caplog) == "10.1.2.3"


LOGIN = 'mutation { login(input: {email: "nobody@example.org", password: "wrong password 1"}) { __typename } }'


async def test_security_events_record_the_client_address(
    configured: Starlette, owner_engine: AsyncEngine
) -> None:
    headers = [(b"content-type", b"application/json"), (b"x-forwarded-for", b"203.0.113.77")]
    body = json.dumps({"query": LOGIN}).encode()
    answer = await call(
        configured, "POST", "/graphql", headers=headers, body=body, client=("10.4.4.4", 1)
    )
    assert answer.json()["data"]["login"]["__typename"] == "MutationError"
    async with owner_engine.connect() as connection:
        found = await connection.execute(
            text(
                "SELECT count(*) FROM audit_events WHERE action = 'login_failed' "
                "AND origin->>'clientAddress' = '203.0.113.77'"
            )
        )
    assert found.scalar_one() == 1
