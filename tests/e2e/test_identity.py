"""Identity over HTTP: sessions, refresh rotation, reuse detection, enrolment, rate limits."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from api.app import create_app
from api.relay import from_global_id
from api.settings import Settings
from domain.actors import Grant, Role
from domain.ids import SiteId
from tests.clock import CLOCK
from tests.conftest import ScratchDatabase
from tests.e2e.conftest import PASSWORD, Gql, create_user, login, make_settings
from tests.e2e.test_graphql_slice import REGISTER, _study_and_site

LOGIN = """mutation($e: String!, $p: String!) { login(input: {email: $e, password: $p}) {
  __typename ... on LoginSuccess { accessToken refreshToken expiresAt refreshExpiresAt } ... on MutationError { code message } } }"""
REFRESH = """mutation($t: String!, $i: String) { refreshSession(input: {refreshToken: $t, installationId: $i}) {
  __typename ... on RefreshSessionSuccess { accessToken refreshToken } ... on MutationError { code } } }"""
ENROL = """mutation($c: String!) { enrolParticipant(input: {code: $c, installation: {platform: IOS, model: "iPhone 17", osVersion: "26.1", appVersion: "2.4.1"}}) {
  __typename ... on EnrolParticipantSuccess { accessToken refreshToken installationId participantId } ... on MutationError { code message } } }"""
ISSUE = """mutation($p: ID!) { issueEnrolmentCode(input: {participantId: $p}) {
  __typename ... on IssueEnrolmentCodeSuccess { enrolment { code expiresAt deepLink } } ... on MutationError { code } } }"""


async def test_staff_sessions_rotate_and_reuse_ends_them(
    gql: Gql, settings: Settings, client: httpx.AsyncClient
) -> None:
    email = await create_user(settings, (Grant(Role.ADMIN),))
    first = (await gql(LOGIN, {"e": email, "p": PASSWORD}))["data"]["login"]
    assert first["__typename"] == "LoginSuccess"
    assert len(first["refreshToken"]) >= 43
    second = (await gql(REFRESH, {"t": first["refreshToken"]}))["data"]["refreshSession"]
    assert second["__typename"] == "RefreshSessionSuccess"
    assert (await gql("{ viewer { kind } }", token=second["accessToken"]))["data"]["viewer"][
        "kind"
    ] == "STAFF"
    reused = (await gql(REFRESH, {"t": first["refreshToken"]}))["data"]["refreshSession"]
    assert reused == {"__typename": "MutationError", "code": "INVALID_REFRESH_TOKEN"}
    response = await client.post(
        "/graphql",
        json={"query": "{ viewer { kind } }"},
        headers={"authorization": f"Bearer {second['accessToken']}"},
    )
    assert response.status_code == 401  # the family was revoked: its access tokens too
    trail = await gql(
        '{ auditTrail(filter: {entityType: "StaffUser"}, newestFirst: true, first: 5) { edges { node { action } } } }',
        token=await login(gql, email),
    )
    assert "refresh_token_reused" in [
        e["node"]["action"] for e in trail["data"]["auditTrail"]["edges"]
    ]


async def test_logout_ends_the_session_now(
    gql: Gql, settings: Settings, client: httpx.AsyncClient
) -> None:
    token = await login(gql, await create_user(settings, (Grant(Role.ADMIN),)))
    done = await gql("mutation { logout { __typename } }", token=token)
    assert done["data"]["logout"]["__typename"] == "Done"
    response = await client.post(
        "/graphql",
        json={"query": "{ studies { id } }"},
        headers={"authorization": f"Bearer {token}"},
    )
    assert response.status_code == 401


async def test_wrong_passwords_lock_the_account_without_saying_so(
    gql: Gql, settings: Settings
) -> None:
    email = await create_user(settings, (Grant(Role.ADMIN),))
    answers = [
        (await gql(LOGIN, {"e": email, "p": "wrong password!"}))["data"]["login"] for _ in range(5)
    ]
    locked = (await gql(LOGIN, {"e": email, "p": PASSWORD}))["data"]["login"]
    unknown = (await gql(LOGIN, {"e": "nobody@example.org", "p": PASSWORD}))["data"]["login"]
    assert {a["message"] for a in [*answers, locked, unknown]} == {locked["message"]}
    assert locked["code"] == "INVALID_CREDENTIALS"


async def test_participants_enrol_and_see_only_themselves(
    gql: Gql, settings: Settings, admin_token: str
) -> None:
    study_id, site_id = await _study_and_site(gql, admin_token, "E2E-ENROL")
    coordinator = await login(
        gql,
        await create_user(
            settings, (Grant(Role.COORDINATOR, site_id=SiteId(from_global_id(site_id, "Site")[1])),)
        ),
    )
    ids = []
    for number in ("E-1", "E-2"):
        made = await gql(REGISTER, {"site": site_id, "number": number}, coordinator)
        ids.append(made["data"]["registerParticipant"]["participant"]["id"])
    await gql(
        'mutation($p: ID!) { setParticipantContact(input: {participantId: $p, fullName: "Greta Lund", email: "greta@example.org"}) { __typename } }',
        {"p": ids[0]},
        coordinator,
    )
    issued = (await gql(ISSUE, {"p": ids[0]}, coordinator))["data"]["issueEnrolmentCode"][
        "enrolment"
    ]
    assert issued["deepLink"] == f"hearth://enrol?code={issued['code']}"
    phone = (await gql(ENROL, {"c": issued["code"]}))["data"]["enrolParticipant"]
    assert phone["participantId"] == ids[0]
    again = (await gql(ENROL, {"c": issued["code"]}))["data"]["enrolParticipant"]
    assert again["code"] == "ENROLMENT_CODE_USED"
    me = await gql(
        "{ viewer { kind participant { id subjectId contact { fullName } } } studies { id } }",
        token=phone["accessToken"],
    )
    assert me["data"]["viewer"]["kind"] == "PARTICIPANT"
    assert me["data"]["viewer"]["participant"]["contact"] == {"fullName": "Greta Lund"}
    assert me["data"]["studies"] == [{"id": study_id}]  # their own study only
    other = await gql(
        "query($id: ID!) { node(id: $id) { id } }", {"id": ids[1]}, phone["accessToken"]
    )
    assert other == {"data": {"node": None}}
    denied = await gql(REGISTER, {"site": site_id, "number": "E-3"}, phone["accessToken"])
    assert denied["data"]["registerParticipant"]["code"] in ("FORBIDDEN", "NOT_FOUND")
    # Refresh needs the installation; without it the token is refused.
    bare = (await gql(REFRESH, {"t": phone["refreshToken"]}))["data"]["refreshSession"]
    assert bare["code"] == "INVALID_REFRESH_TOKEN"
    bound = (await gql(REFRESH, {"t": phone["refreshToken"], "i": phone["installationId"]}))[
        "data"
    ]["refreshSession"]
    assert bound["__typename"] == "RefreshSessionSuccess"


async def test_admins_manage_users_through_graphql(gql: Gql, admin_token: str) -> None:
    created = await gql(
        'mutation { createStaffUser(input: {email: "Mon.Itor@example.org", name: "Mo Nitor", password: "a long passphrase", grants: []}) { __typename ... on StaffUserSuccess { user { id email status grants { role } } } ... on MutationError { code field message } } }',
        token=admin_token,
    )
    user = created["data"]["createStaffUser"]["user"]
    assert user["email"] == "mon.itor@example.org"
    weak = await gql(
        'mutation { createStaffUser(input: {email: "x@example.org", name: "X", password: "short", grants: []}) { ... on MutationError { code field } } }',
        token=admin_token,
    )
    assert weak["data"]["createStaffUser"] == {"code": "VALIDATION_FAILED", "field": "password"}
    session = await login(gql, "mon.itor@example.org", "a long passphrase")
    disabled = await gql(
        'mutation($u: ID!) { setStaffUserStatus(input: {userId: $u, status: DISABLED, reason: "left the study"}) { ... on StaffUserSuccess { user { status } } } }',
        {"u": user["id"]},
        admin_token,
    )
    assert disabled["data"]["setStaffUserStatus"]["user"]["status"] == "DISABLED"
    gone = await gql(LOGIN, {"e": "mon.itor@example.org", "p": "a long passphrase"})
    assert gone["data"]["login"]["code"] == "INVALID_CREDENTIALS"
    del session
    edges: list[dict[str, Any]] = []
    after: str | None = None
    while True:  # every page: other tests of the session add staff users too
        listing = await gql(
            "query($a: String) { staffUsers(first: 100, after: $a) { edges { node { email } } pageInfo { hasNextPage endCursor } } }",
            {"a": after},
            admin_token,
        )
        page = listing["data"]["staffUsers"]
        edges += page["edges"]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert {"node": {"email": "mon.itor@example.org"}} in edges


async def test_malformed_cursors_are_bad_input(gql: Gql, admin_token: str) -> None:
    import base64

    def cursor(text: str) -> str:
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    for bad in (
        "not-base64!!",
        cursor("c1"),
        cursor("c1\x1faudit\x1fnot-a-number"),
        cursor("c1\x1fparticipant\x1f12"),
    ):
        body = await gql(
            "query($a: String) { auditTrail(after: $a) { edges { cursor } } }",
            {"a": bad},
            admin_token,
        )
        assert body["errors"][0]["extensions"]["code"] == "INVALID_CURSOR", bad


@pytest.fixture
async def strict(database: ScratchDatabase, key_file: Path) -> AsyncIterator[httpx.AsyncClient]:
    application: Starlette = create_app(
        make_settings(database, key_file, login_limit_per_ip=3, enrol_limit_per_ip=2),
        clock=CLOCK,
    )
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, client=("203.0.113.9", 4711))
        async with httpx.AsyncClient(transport=transport, base_url="http://hearth.test") as http:
            yield http


async def test_too_many_attempts_get_429_with_retry_after(strict: httpx.AsyncClient) -> None:
    attempt = {"query": LOGIN, "variables": {"e": "x@example.org", "p": "whatever it is"}}
    responses = [await strict.post("/graphql", json=attempt) for _ in range(4)]
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    last = responses[-1]
    assert 1 <= int(last.headers["retry-after"]) <= 60
    assert last.json()["data"]["login"]["code"] == "RATE_LIMITED"
    enrol = [
        await strict.post(
            "/graphql", json={"query": ENROL, "variables": {"c": "ABCDE-FGHJK-MNPQR-STVWX"}}
        )
        for _ in range(3)
    ]
    assert [r.status_code for r in enrol] == [200, 200, 429]
