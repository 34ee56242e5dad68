"""The cost limit (before execution, pages multiplying), for single operations and batches as
a whole, and the per-caller read budget (429 with Retry-After)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from api.app import create_app
from tests.clock import CLOCK, PinnedClock
from tests.conftest import ScratchDatabase
from tests.e2e.conftest import make_settings

SITE = "U2l0ZTowMDAwMDAwMC0wMDAwLTAwMDAtMDAwMC0wMDAwMDAwMDAwMDA"
# The request of the report: aliases of participants -> diaryEntries and readings(first: 100)
ALIAS = (
    'NAME: node(id: "' + SITE + '") { ... on Site { participants(first: 100) { edges { node {'
    " diaryEntries(first: 100) { edges { node { id } } }"
    " readings(first: 100) { edges { node { id } } } } } } } }"
)
HEAVY = "{ " + " ".join(ALIAS.replace("NAME", f"a{i}") for i in range(20)) + " }"
PAGED = (
    'query($n: Int) { node(id: "'
    + SITE
    + '") { ... on Site { participants(first: $n) { edges { node { id } } } } } }'
)


def _code(body: object) -> str:
    return body["errors"][0]["extensions"]["code"]  # type: ignore[index,no-any-return]


async def test_a_costly_request_is_refused_before_it_runs(
    client: httpx.AsyncClient, admin_token: str
) -> None:
    headers = {"authorization": f"Bearer {admin_token}"}
    response = await client.post("/graphql", json={"query": HEAVY}, headers=headers)
    assert response.status_code == 200
    body = response.json()
    assert "data" not in body
    assert _code(body) == "QUERY_TOO_COSTLY"
    spec = await client.post(
        "/graphql",
        json={"query": HEAVY},
        headers=headers | {"accept": "application/graphql-response+json"},
    )
    assert spec.status_code == 400


async def test_page_sizes_from_variables_count(client: httpx.AsyncClient) -> None:
    small = await client.post("/graphql", json={"query": PAGED, "variables": {"n": 5}})
    assert small.json()["data"] == {"node": None}  # ran (and answered for a stranger)
    nested = PAGED.replace("{ id }", "{ id diaryEntries(first: 100) { edges { node { id } } } }")
    large = await client.post("/graphql", json={"query": nested, "variables": {"n": 100}})
    assert _code(large.json()) == "QUERY_TOO_COSTLY"


async def test_a_batch_is_priced_as_a_whole(client: httpx.AsyncClient) -> None:
    nested = PAGED.replace("{ id }", "{ id diaryEntries(first: 100) { edges { node { id } } } }")
    one = {"query": nested, "variables": {"n": 20}}  # about 2,000 points: fine alone
    assert (await client.post("/graphql", json=[one])).status_code == 200
    batch = await client.post("/graphql", json=[one] * 8)
    assert batch.status_code == 400
    assert _code(batch.json()) == "QUERY_TOO_COSTLY"


@pytest.fixture
async def frugal(database: ScratchDatabase, key_file: Path) -> AsyncIterator[Starlette]:
    settings = make_settings(database, key_file, read_limit_per_caller=500)
    application = create_app(settings, clock=CLOCK)
    async with application.router.lifespan_context(application):
        yield application


async def test_reads_are_limited_per_caller(frugal: Starlette, clock: PinnedClock) -> None:
    transport = httpx.ASGITransport(app=frugal, client=("192.0.2.44", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://hearth.test") as http:
        query = {"query": PAGED, "variables": {"n": 100}}  # 1 + 1 + 1 + 100 = 103 points
        answers = [await http.post("/graphql", json=query) for _ in range(5)]
        assert [a.status_code for a in answers] == [200, 200, 200, 200, 429]
        assert _code(answers[-1].json()) == "RATE_LIMITED"
        assert 1 <= int(answers[-1].headers["retry-after"]) <= 60
        free = await http.post("/graphql", json={"query": "{ __typename }"})
        assert free.status_code == 200  # nothing to read costs nothing
        clock.advance(minutes=1)
        assert (await http.post("/graphql", json=query)).status_code == 200
