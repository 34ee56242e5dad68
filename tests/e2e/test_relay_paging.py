"""Relay paging over HTTP on every connection: forward and backward walks list the same items.

Each connection is walked a few items at a time with `first`/`after` and again from the end
with `last`/`before`; both must give the one-page listing, with `hasPreviousPage`,
`hasNextPage`, `startCursor` and `endCursor` true to where each page sits.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from api.relay import encode_cursor, from_global_id
from api.settings import Settings
from domain.actors import Grant, Role
from domain.ids import SiteId, StudyId
from tests.e2e.conftest import PASSWORD, create_user
from tests.e2e.trial import (
    DUE,
    LOGIN,
    REGISTER,
    SUBMIT_DIARY,
    SUBMIT_READINGS,
    AppTrial,
    build_app_trial,
    diary_entry,
    heart_rate,
    now,
)

PAGE = "$first: Int, $after: String, $last: Int, $before: String"
ARGS = "first: $first, after: $after, last: $last, before: $before"
INFO = "pageInfo { hasNextPage hasPreviousPage startCursor endCursor }"
DEFINE = 'mutation($s: ID!) { createVisitDefinition(input: {studyId: $s, code: "BL", name: "Baseline", day: 0, windowBefore: 0, windowAfter: 30, modes: [VIDEO]}) { ... on CreateVisitDefinitionSuccess { visitDefinition { id } } } }'
SCHEDULE = "mutation($p: ID!, $d: ID!, $t: String!) { scheduleVisit(input: {participantId: $p, visitDefinitionId: $d, mode: VIDEO, localStart: $t}) { __typename } }"
RAISE = (
    'mutation($r: ID!) { raiseQuery(input: {recordId: $r, question: "Source?"}) { __typename } }'
)


@dataclass(frozen=True)
class Listing:
    """A connection: the query (with $p the participant, $s the site), where the connection
    sits in the answer, who reads it, and how it names its items."""

    query: str
    path: tuple[str, ...]
    reader: str
    item: str = "id"


def _on_participant(field: str, item: str = "id") -> str:
    return f"query($p: ID!, {PAGE}) {{ node(id: $p) {{ ... on Participant {{ {field}({ARGS}) {{ edges {{ cursor node {{ {item} }} }} {INFO} }} }} }} }}"


LISTINGS = {
    "visits": Listing(
        f"query($p: ID!, {PAGE}) {{ visits(filter: {{participantId: $p}}, {ARGS}) {{ edges {{ cursor node {{ id }} }} {INFO} }} }}",
        ("visits",),
        "coordinator",
    ),
    "participant visits": Listing(_on_participant("visits"), ("node", "visits"), "coordinator"),
    "diary entries": Listing(
        _on_participant("diaryEntries"), ("node", "diaryEntries"), "coordinator"
    ),
    "readings": Listing(_on_participant("readings"), ("node", "readings"), "coordinator"),
    "site participants": Listing(
        f"query($s: ID!, {PAGE}) {{ node(id: $s) {{ ... on Site {{ participants({ARGS}) {{ edges {{ cursor node {{ id }} }} {INFO} }} }} }} }}",
        ("node", "participants"),
        "coordinator",
    ),
    "data queries": Listing(
        f"query($p: ID!, {PAGE}) {{ dataQueries(filter: {{participantId: $p}}, {ARGS}) {{ edges {{ cursor node {{ id }} }} {INFO} }} }}",
        ("dataQueries",),
        "monitor",
    ),
    "audit trail": Listing(
        f"query($p: ID!, {PAGE}) {{ auditTrail(filter: {{participantId: $p}}, {ARGS}) {{ edges {{ cursor node {{ position }} }} {INFO} }} }}",
        ("auditTrail",),
        "coordinator",
        "position",
    ),
    "audit trail, newest first": Listing(
        f"query($p: ID!, {PAGE}) {{ auditTrail(filter: {{participantId: $p}}, newestFirst: true, {ARGS}) {{ edges {{ cursor node {{ position }} }} {INFO} }} }}",
        ("auditTrail",),
        "coordinator",
        "position",
    ),
    "staff users": Listing(
        f"query({PAGE}) {{ staffUsers({ARGS}) {{ edges {{ cursor node {{ id }} }} {INFO} }} }}",
        ("staffUsers",),
        "admin",
    ),
}


@dataclass
class World:
    trial: AppTrial
    tokens: dict[str, str]

    async def page(self, listing: Listing, **paging: Any) -> dict[str, Any]:
        variables = {"p": self.trial.participant, "s": self.trial.site} | paging
        used = {k: v for k, v in variables.items() if f"${k}" in listing.query}
        body = await self.trial.gql(self.tokens[listing.reader], listing.query, **used)
        assert "errors" not in body, body
        value: Any = body["data"]
        for step in listing.path:
            value = value[step]
        return dict(value)


async def _fill(trial: AppTrial, monitor: str) -> None:
    """Several items in every connection, some with equal sort times (the id breaks ties)."""
    for n in range(4):
        await trial.gql(trial.coordinator, REGISTER, s=trial.site, n=f"PAGE-{n}")
    made = await trial.gql(trial.admin, DEFINE, s=trial.study)
    definition = made["data"]["createVisitDefinition"]["visitDefinition"]["id"]
    for day in (12, 11, 13, 11, 14):
        sent = await trial.gql(
            trial.coordinator, SCHEDULE, p=trial.participant, d=definition, t=f"2026-06-{day}T09:00"
        )
        assert sent["data"]["scheduleVisit"]["__typename"] == "VisitSuccess", sent
    for _ in range(5):
        await trial.gql(monitor, RAISE, r=trial.participant)
    moment = now()
    due = await trial.gql(
        trial.app,
        DUE,
        p=trial.participant,
        s=(moment - timedelta(hours=3)).isoformat(),
        e=(moment + timedelta(minutes=30)).isoformat(),
    )
    entries = [diary_entry(d) for d in due["data"]["node"]["diaryDue"]]
    await trial.gql(trial.app, SUBMIT_DIARY, e=entries)
    readings = [heart_rate(trial.device, beats) for beats in (60, 61, 62, 63, 64)]
    await trial.gql(trial.app, SUBMIT_READINGS, i=readings)


@pytest.fixture(scope="module")
async def world(app: Starlette, settings: Settings) -> AsyncIterator[World]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hearth.test") as http:
        trial = await build_app_trial(http, settings)
        grant = Grant(
            Role.MONITOR,
            StudyId(from_global_id(trial.study)[1]),
            SiteId(from_global_id(trial.site)[1]),
        )
        signed_in = await trial.gql(
            None, LOGIN, e=await create_user(settings, (grant,)), p=PASSWORD
        )
        monitor = signed_in["data"]["login"]["accessToken"]
        await _fill(trial, monitor)
        yield World(
            trial, {"admin": trial.admin, "coordinator": trial.coordinator, "monitor": monitor}
        )


def _items(listing: Listing, page: dict[str, Any]) -> list[Any]:
    return [e["node"][listing.item] for e in page["edges"]]


def _check_ends(page: dict[str, Any]) -> None:
    edges, info = page["edges"], page["pageInfo"]
    assert info["startCursor"] == (edges[0]["cursor"] if edges else None)
    assert info["endCursor"] == (edges[-1]["cursor"] if edges else None)


async def _forward(world: World, listing: Listing, size: int) -> list[list[Any]]:
    pages: list[list[Any]] = []
    after = None
    while True:
        page = await world.page(listing, first=size, after=after)
        _check_ends(page)
        assert page["pageInfo"]["hasPreviousPage"] == bool(pages)
        pages.append(_items(listing, page))
        if not page["pageInfo"]["hasNextPage"]:
            return pages
        after = page["pageInfo"]["endCursor"]


async def _backward(world: World, listing: Listing, size: int) -> list[list[Any]]:
    pages: list[list[Any]] = []
    before = None
    while True:
        page = await world.page(listing, last=size, before=before)
        _check_ends(page)
        assert page["pageInfo"]["hasNextPage"] == bool(pages)
        pages.insert(0, _items(listing, page))
        if not page["pageInfo"]["hasPreviousPage"]:
            return pages
        before = page["pageInfo"]["startCursor"]


@pytest.mark.parametrize("name", sorted(LISTINGS))
async def test_forward_and_backward_walks_list_the_same_items(world: World, name: str) -> None:
    listing = LISTINGS[name]
    # Everything, in pages of the largest size (staff users: the whole suite's, often > 100).
    whole = [i for page in await _forward(world, listing, 100) for i in page]
    size = max(2, len(whole) // 3)  # three pages or more
    forward = await _forward(world, listing, size)
    backward = await _backward(world, listing, size)
    flat = [i for page in forward for i in page]
    assert len(whole) >= 3, whole
    assert flat == whole
    assert [i for page in backward for i in page] == whole
    assert all(len(p) == size for p in forward[:-1])
    assert all(len(p) == size for p in backward[1:])


async def test_a_range_between_two_cursors(world: World) -> None:
    listing = LISTINGS["visits"]
    whole = await world.page(listing, first=100)
    cursors = [e["cursor"] for e in whole["edges"]]
    inner = await world.page(listing, after=cursors[0], before=cursors[-1])
    assert _items(listing, inner) == _items(listing, whole)[1:-1]
    assert inner["pageInfo"]["hasPreviousPage"]
    tail = await world.page(listing, last=2, after=cursors[0], before=cursors[-1])
    assert _items(listing, tail) == _items(listing, whole)[-3:-1]
    assert tail["pageInfo"]["hasPreviousPage"]
    assert tail["pageInfo"]["hasNextPage"]


async def _error(world: World, listing: Listing, **paging: Any) -> dict[str, Any]:
    variables = {"p": world.trial.participant} | paging
    body = await world.trial.gql(world.tokens[listing.reader], listing.query, **variables)
    [error] = body["errors"]
    return dict(error["extensions"])


async def test_bad_paging_arguments_get_stable_codes(world: World) -> None:
    listing = LISTINGS["visits"]
    assert await _error(world, listing, first=2, last=2) == {
        "code": "PAGE_ARGUMENTS_CONFLICT",
        "field": "last",
    }
    assert await _error(world, listing, last=101) == {"code": "PAGE_SIZE_EXCEEDED", "field": "last"}
    foreign = encode_cursor("participant", str(uuid.uuid4()))  # another connection's cursor
    naive = encode_cursor("visit", "2026-06-12T09:00:00", str(uuid.uuid4()))  # no offset
    for cursor in (foreign, naive, "not a cursor", ""):
        for argument in ("before", "after"):
            if not cursor and argument == "after":
                continue  # an empty `after` means "from the start"
            found = await _error(world, listing, **{argument: cursor or "=", "last": 1})
            assert found == {"code": "INVALID_CURSOR", "field": argument}, (cursor, argument)


async def test_diary_entries_page_on_from_a_cursor(world: World) -> None:
    """Regression: entry cursors held only the id while the list is keyed by (due time, id),
    so asking for the page after one failed with INTERNAL_SERVER_ERROR."""
    listing = LISTINGS["diary entries"]
    first = await world.page(listing, first=1)
    rest = await world.page(listing, first=100, after=first["pageInfo"]["endCursor"])
    whole = await world.page(listing, first=100)
    assert _items(listing, first) + _items(listing, rest) == _items(listing, whole)
