"""GraphQL and HTTP hygiene: limits, error codes and masking, tokens, health, logs."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from api.app import create_app
from api.logging import JsonFormatter
from api.settings import Environment
from domain.services import studies
from tests.clock import CLOCK
from tests.conftest import ScratchDatabase
from tests.e2e.conftest import Gql, make_settings


def _code(body: dict[str, object]) -> str:
    return body["errors"][0]["extensions"]["code"]  # type: ignore[index,no-any-return]


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    checks = ready.json()["checks"]
    assert (checks["database"], checks["migrations"], checks["keys"]) == (True, True, True)
    assert "worker" in checks  # advisory: without a worker, jobs wait visibly


async def test_request_ids_are_echoed_or_made(client: httpx.AsyncClient) -> None:
    given = await client.get("/healthz", headers={"x-request-id": "abc-123-def"})
    assert given.headers["x-request-id"] == "abc-123-def"
    made = await client.get("/healthz", headers={"x-request-id": "bad id!"})
    assert len(made.headers["x-request-id"]) == 32


async def test_bad_tokens_get_401(client: httpx.AsyncClient) -> None:
    for header in ("Bearer not-a-token", "Basic dXNlcjpwYXNz"):
        response = await client.post(
            "/graphql", json={"query": "{ studies { id } }"}, headers={"authorization": header}
        )
        assert response.status_code == 401
        assert _code(response.json()) == "UNAUTHENTICATED"


async def test_depth_alias_token_and_page_limits(gql: Gql) -> None:
    deep = "{ studies { " + "sites { study { " * 7 + "id" + " } }" * 7 + " } }"
    assert _code(await gql(deep)) == "QUERY_TOO_DEEP"
    aliases = "{ " + " ".join(f"a{i}: studies {{ id }}" for i in range(25)) + " }"
    assert _code(await gql(aliases)) == "TOO_MANY_ALIASES"
    huge = "{ studies { " + " ".join("id" for _ in range(4000)) + " } }"
    assert _code(await gql(huge)) == "QUERY_TOO_LARGE"
    page = 'query { node(id: "U2l0ZTowMDAwMDAwMC0wMDAwLTAwMDAtMDAwMC0wMDAwMDAwMDAwMDA") { ... on Site { participants(first: 101) { edges { cursor } } } } }'
    body = await gql(page)
    assert body["data"] == {"node": None} or _code(body) in (
        "UNAUTHENTICATED",
        "PAGE_SIZE_EXCEEDED",
    )


async def test_validation_errors_keep_their_message(gql: Gql) -> None:
    body = await gql("{ studies { nope } }")
    assert _code(body) == "GRAPHQL_VALIDATION_FAILED"
    assert "nope" in body["errors"][0]["message"]
    assert _code(await gql("{ studies { ")) == "GRAPHQL_PARSE_FAILED"


async def test_malformed_ids_are_bad_input(gql: Gql) -> None:
    body = await gql('{ node(id: "%%%") { id } }')
    assert _code(body) == "INVALID_ID"


async def test_unexpected_errors_are_masked_and_logged_without_details(
    gql: Gql, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def explode(**kwargs: object) -> None:
        raise RuntimeError("patient Jane Doe, born 1970-01-01")

    monkeypatch.setattr(studies, "list_studies", explode)
    with caplog.at_level(logging.ERROR, logger="hearth.graphql"):
        body = await gql("{ studies { id } }")
    assert body["errors"][0]["message"] == "Unexpected error."
    assert _code(body) == "INTERNAL_SERVER_ERROR"
    formatted = [JsonFormatter().format(r) for r in caplog.records]
    assert formatted
    assert all("Jane" not in line for line in formatted)
    assert json.loads(formatted[0])["error_type"] == "RuntimeError"


async def test_batches_are_limited(client: httpx.AsyncClient) -> None:
    batch = [{"query": "{ studies { id } }"}] * 11
    response = await client.post("/graphql", json=batch)
    assert response.status_code == 400
    ok = await client.post("/graphql", json=[{"query": "{ studies { id } }"}] * 2)
    assert ok.json() == [{"data": {"studies": []}}] * 2


async def test_bodies_over_the_limit_get_413(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql",
        content=b"{" + b" " * 1_100_000 + b"}",
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413
    assert _code(response.json()) == "PAYLOAD_TOO_LARGE"


async def test_the_console_works_offline_in_development(client: httpx.AsyncClient) -> None:
    page = await client.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert "Hearth GraphQL console" in page.text
    assert "http://" not in page.text  # no CDN, nothing remote
    assert "https://" not in page.text
    sdl = await client.get("/graphql/schema.graphql")
    assert "type Query" in sdl.text


@pytest.fixture
async def production(database: ScratchDatabase, key_file: Path) -> AsyncIterator[httpx.AsyncClient]:
    application: Starlette = create_app(
        make_settings(database, key_file, env=Environment.PRODUCTION), clock=CLOCK
    )
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://hearth.test") as http:
            yield http


async def test_production_hides_the_schema(production: httpx.AsyncClient) -> None:
    introspection = await production.post(
        "/graphql", json={"query": "{ __schema { types { name } } }"}
    )
    assert _code(introspection.json()) == "INTROSPECTION_DISABLED"
    typo = await production.post("/graphql", json={"query": "{ studie { id } }"})
    assert "Did you mean" not in typo.text
    page = await production.get("/graphql", headers={"accept": "text/html"})
    assert "console" not in page.text
    assert (await production.get("/graphql/schema.graphql")).status_code == 404


async def test_device_time_goes_into_the_audit_origin(
    client: httpx.AsyncClient, admin_token: str
) -> None:
    headers = {
        "authorization": f"Bearer {admin_token}",
        "x-device-time": "2026-03-29T02:30:00+02:00",
        "x-app-version": "ios-2.4.1",
        "x-device-id": "phone-7",
    }
    created = await client.post(
        "/graphql",
        json={
            "query": 'mutation { createStudy(input: {code: "E2E-DEV", title: "T"}) { __typename } }'
        },
        headers=headers,
    )
    assert created.json()["data"]["createStudy"]["__typename"] == "CreateStudySuccess"
    query = '{ auditTrail(filter: {entityType: "Study"}, newestFirst: true, first: 1) { edges { node { origin { appVersion deviceId deviceTime } } } } }'
    trail = await client.post(
        "/graphql", json={"query": query}, headers={"authorization": f"Bearer {admin_token}"}
    )
    origin = trail.json()["data"]["auditTrail"]["edges"][0]["node"]["origin"]
    assert origin == {
        "appVersion": "ios-2.4.1",
        "deviceId": "phone-7",
        "deviceTime": "2026-03-29T02:30:00+02:00",
    }
    bad = await client.post(
        "/graphql", json={"query": "{ studies { id } }"}, headers={"x-device-time": "yesterday"}
    )
    assert bad.status_code == 400
    assert _code(bad.json()) == "VALIDATION_FAILED"
