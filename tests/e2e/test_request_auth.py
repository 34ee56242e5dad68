"""Every request reads its caller afresh (session and grants in one statement): a logout,
a grant taken away or a disabled account counts on the very next request, in any server
process, not only the one that made the change."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from api.app import create_app
from api.settings import Settings
from tests.clock import CLOCK
from tests.e2e.conftest import Gql, login

VIEWER = "{ viewer { kind grants { role } } }"
CREATE = """mutation($e: String!) {
  createStaffUser(input: {email: $e, name: "Sam Ple", password: "a long passphrase",
                          grants: [{role: ADMIN}]}) {
    ... on StaffUserSuccess { user { id } }
    ... on MutationError { code message }
  }
}"""


@pytest.fixture
async def other(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A second server process's app on the same database: nothing is shared in memory."""
    application: Starlette = create_app(settings, clock=CLOCK)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://hearth.test") as http:
            yield http


async def _viewer(http: httpx.AsyncClient, token: str) -> httpx.Response:
    return await http.post(
        "/graphql", json={"query": VIEWER}, headers={"authorization": f"Bearer {token}"}
    )


async def _staff(gql: Gql, admin_token: str) -> tuple[str, str]:
    """An admin of their own: their global id and a signed-in token."""
    email = f"sam-{uuid.uuid4().hex[:8]}@example.org"
    made = await gql(CREATE, {"e": email}, admin_token)
    assert "user" in made["data"]["createStaffUser"], made
    user_id: str = made["data"]["createStaffUser"]["user"]["id"]
    return user_id, await login(gql, email, "a long passphrase")


def _roles(body: dict[str, Any]) -> list[str]:
    return sorted(g["role"] for g in body["data"]["viewer"]["grants"])


async def test_a_logout_ends_the_session_in_every_process(
    gql: Gql, admin_token: str, other: httpx.AsyncClient
) -> None:
    _, token = await _staff(gql, admin_token)
    before = await _viewer(other, token)
    assert before.status_code == 200
    assert _roles(before.json()) == ["ADMIN"]
    done = await gql("mutation { logout { __typename } }", token=token)
    assert done["data"]["logout"]["__typename"] == "Done"
    after = await _viewer(other, token)
    assert after.status_code == 401
    assert after.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_grant_taken_away_counts_on_the_next_request_anywhere(
    gql: Gql, admin_token: str, other: httpx.AsyncClient
) -> None:
    user_id, token = await _staff(gql, admin_token)
    assert _roles((await _viewer(other, token)).json()) == ["ADMIN"]
    taken = await gql(
        "mutation($u: ID!) { setStaffGrants(input: {userId: $u, remove: [{role: ADMIN}]}) {"
        " ... on StaffUserSuccess { user { id } } ... on MutationError { code } } }",
        {"u": user_id},
        admin_token,
    )
    assert taken["data"]["setStaffGrants"]["user"]["id"] == user_id
    assert _roles((await _viewer(other, token)).json()) == []
    # The admin role is gone for what it guards too, not only in what the viewer shows.
    listing = await other.post(
        "/graphql",
        json={"query": "{ staffUsers(first: 1) { edges { node { id } } } }"},
        headers={"authorization": f"Bearer {token}"},
    )
    assert listing.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_a_disabled_account_is_refused_on_the_next_request_anywhere(
    gql: Gql, admin_token: str, other: httpx.AsyncClient
) -> None:
    user_id, token = await _staff(gql, admin_token)
    assert (await _viewer(other, token)).status_code == 200
    disabled = await gql(
        'mutation($u: ID!) { setStaffUserStatus(input: {userId: $u, status: DISABLED, reason: "left"}) {'
        " ... on StaffUserSuccess { user { status } } } }",
        {"u": user_id},
        admin_token,
    )
    assert disabled["data"]["setStaffUserStatus"]["user"]["status"] == "DISABLED"
    assert (await _viewer(other, token)).status_code == 401
