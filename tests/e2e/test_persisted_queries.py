"""Persisted queries: Automatic Persisted Queries (Apollo's protocol) and the registered
operations allow-list."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from api.app import ConfigurationError, create_app
from api.settings import PersistedQueries
from tests.clock import CLOCK
from tests.conftest import ScratchDatabase
from tests.e2e.conftest import make_settings

REGISTERED = "query Viewer { viewer { kind } }"


def _hash(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


def _persisted(query: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": _hash(query)}}


def _code(response: httpx.Response) -> str:
    return response.json()["errors"][0]["extensions"]["code"]  # type: ignore[no-any-return]


async def test_automatic_persisted_queries(client: httpx.AsyncClient) -> None:
    query = "query Apq { __typename studies { id } }"
    unknown = await client.post("/graphql", json={"extensions": _persisted(query)})
    assert unknown.status_code == 200
    assert unknown.json()["errors"][0]["message"] == "PersistedQueryNotFound"
    assert _code(unknown) == "PERSISTED_QUERY_NOT_FOUND"
    first = await client.post("/graphql", json={"query": query, "extensions": _persisted(query)})
    assert first.json() == {"data": {"__typename": "Query", "studies": []}}
    again = await client.post("/graphql", json={"extensions": _persisted(query)})
    assert again.json() == first.json()
    by_get = await client.get("/graphql", params={"extensions": json.dumps(_persisted(query))})
    assert by_get.json() == first.json()


async def test_a_hash_that_is_not_the_query_s_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql", json={"query": "{ __typename }", "extensions": _persisted("{ studies { id } }")}
    )
    assert _code(response) == "PERSISTED_QUERY_MISMATCH"
    assert "data" not in response.json()


@pytest.mark.parametrize(
    "persisted",
    [{"version": 2, "sha256Hash": "0" * 64}, {"version": 1, "sha256Hash": "xyz"}, "nope"],
)
async def test_malformed_persisted_query_extensions_are_400(
    client: httpx.AsyncClient, persisted: object
) -> None:
    response = await client.post("/graphql", json={"extensions": {"persistedQuery": persisted}})
    assert response.status_code == 400
    assert _code(response) == "INVALID_REQUEST"


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    path = tmp_path / "persisted-query-manifest.json"
    operation = {"id": _hash(REGISTERED), "name": "Viewer", "type": "query", "body": REGISTERED}
    document = {
        "format": "apollo-persisted-query-manifest",
        "version": 1,
        "operations": [operation],
    }
    path.write_text(json.dumps(document))
    return path


@pytest.fixture
async def allow_list(
    database: ScratchDatabase, key_file: Path, manifest: Path
) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(
        database,
        key_file,
        persisted_queries=PersistedQueries.REGISTERED,
        persisted_queries_file=manifest,
    )
    application: Starlette = create_app(settings, clock=CLOCK)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://hearth.test") as http:
            yield http


async def test_only_registered_operations_run_in_registered_mode(
    allow_list: httpx.AsyncClient,
) -> None:
    by_hash = await allow_list.post("/graphql", json={"extensions": _persisted(REGISTERED)})
    assert by_hash.json() == {"data": {"viewer": {"kind": "ANONYMOUS"}}}
    by_text = await allow_list.post("/graphql", json={"query": REGISTERED})
    assert by_text.json() == by_hash.json()
    other = "{ studies { id } }"
    refused = await allow_list.post("/graphql", json={"query": other})
    assert _code(refused) == "PERSISTED_QUERY_REQUIRED"
    not_learnt = await allow_list.post(
        "/graphql", json={"query": other, "extensions": _persisted(other)}
    )
    assert _code(not_learnt) == "PERSISTED_QUERY_REQUIRED"
    unknown = await allow_list.post("/graphql", json={"extensions": _persisted(other)})
    assert _code(unknown) == "PERSISTED_QUERY_NOT_FOUND"


async def test_persisted_queries_can_be_turned_off(
    database: ScratchDatabase, key_file: Path
) -> None:
    settings = make_settings(database, key_file, persisted_queries=PersistedQueries.OFF)
    application = create_app(settings, clock=CLOCK)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://hearth.test") as http:
            response = await http.post("/graphql", json={"extensions": _persisted(REGISTERED)})
            assert _code(response) == "PERSISTED_QUERY_NOT_SUPPORTED"


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        '{"format": "something-else", "operations": []}',
        '{"format": "apollo-persisted-query-manifest", "operations": [{"id": "0", "body": "{ a }"}]}',
    ],
)
def test_a_bad_manifest_stops_the_start(
    database: ScratchDatabase, key_file: Path, tmp_path: Path, content: str
) -> None:
    path = tmp_path / "manifest.json"
    path.write_text(content)
    settings = make_settings(
        database,
        key_file,
        persisted_queries=PersistedQueries.REGISTERED,
        persisted_queries_file=path,
    )
    with pytest.raises(ConfigurationError):
        create_app(settings, clock=CLOCK)
