"""Requirements of the HTTP surface: logs without secrets, page limits for signed-in callers,
masked errors in production, and write and sign-in limits per address and per account."""

from __future__ import annotations

import base64
import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from api import logging as hearth_logging
from api.app import create_app
from api.settings import Environment
from domain.actors import Grant, Role
from domain.services import studies
from tests.clock import CLOCK, PinnedClock
from tests.conftest import ScratchDatabase
from tests.e2e.conftest import PASSWORD, create_user, make_settings
from tests.e2e.trial import (
    ISSUE_CODE,
    LOGIN,
    SUBMIT_DIARY,
    AppTrial,
    build_app_trial,
    diary_entry,
    open_occurrence,
)

CONTACT = {
    "fullName": "Philippa Featherstonehaugh",
    "email": "philippa.f@example.org",
    "phone": "+44 20 7946 0123",
    "dateOfBirth": "1952-07-14",
    "address": "3 Quince Row, Bath",
}
SET_CONTACT = (
    "mutation($i: SetParticipantContactInput!) { setParticipantContact(input: $i) { __typename } }"
)
REFRESH = "mutation($t: String!, $i: String) { refreshSession(input: {refreshToken: $t, installationId: $i}) { __typename ... on RefreshSessionSuccess { accessToken refreshToken } } }"
ENROLLED = 'mutation($c: String!) { enrolParticipant(input: {code: $c, installation: {platform: IOS, model: "P", osVersion: "1", appVersion: "1"}}) { ... on EnrolParticipantSuccess { accessToken refreshToken installationId } } }'
FREE_TEXT = "Told Dr. Haverford about the lump under my left arm"


def _code(body: dict[str, Any]) -> str:
    return str(body["errors"][0]["extensions"]["code"])


@pytest.fixture
def production_logs() -> Iterator[io.StringIO]:
    """The server's own log configuration (JSON lines), at its most verbose, into a buffer."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    quiet = {
        n: logging.getLogger(n).level
        for n in ("uvicorn.access", "sqlalchemy.engine", "strawberry.execution")
    }
    hearth_logging.configure("DEBUG")
    written = io.StringIO()
    (handler,) = root.handlers
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(written)
    try:
        yield written
    finally:
        root.handlers[:], root.level = handlers, level
        for name, was in quiet.items():
            logging.getLogger(name).setLevel(was)


@pytest.fixture
async def trial(app: Starlette, settings: Any) -> AsyncIterator[AppTrial]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hearth.test") as http:
        yield await build_app_trial(http, settings)


def _key_material(key_file: Path) -> list[str]:
    document = json.loads(key_file.read_text())
    encoded = [document["root_secret"], *(k["key"] for k in document["keks"])]
    return encoded + [base64.b64decode(k).hex() for k in encoded]


async def test_logs_hold_no_personal_data_tokens_or_keys(
    trial: AppTrial,
    production_logs: io.StringIO,
    key_file: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Requirement 34: sign in, record contact details, enrol, refresh, write free text and
    fail unexpectedly with personal data in the exception: none of it reaches the log."""
    wrong = await trial.gql(None, LOGIN, e="philippa.f@example.org", p="Featherstonehaugh1952")
    assert wrong["data"]["login"]["__typename"] == "MutationError"
    contact = await trial.gql(
        trial.coordinator, SET_CONTACT, i={"participantId": trial.participant, **CONTACT}
    )
    assert contact["data"]["setParticipantContact"]["__typename"] == "ContactSuccess"
    due = await open_occurrence(lambda q, **v: trial.gql(trial.app, q, **v), trial.participant)
    entry = diary_entry(due) | {"answers": {"PAIN": 2, "NOTE": FREE_TEXT}}
    sent = await trial.gql(trial.app, SUBMIT_DIARY, e=[entry])
    assert sent["data"]["submitDiaryEntries"]["results"][0]["outcome"] == "ACCEPTED"
    issued = await trial.gql(trial.coordinator, ISSUE_CODE, p=trial.participant)
    code = issued["data"]["issueEnrolmentCode"]["enrolment"]["code"]
    phone = (await trial.gql(None, ENROLLED, c=code))["data"]["enrolParticipant"]
    renewed = await trial.gql(None, REFRESH, t=phone["refreshToken"], i=phone["installationId"])
    tokens = renewed["data"]["refreshSession"]

    async def explode(**kwargs: object) -> None:
        raise RuntimeError(f"no studies for {CONTACT['fullName']}, token {phone['accessToken']}")

    monkeypatch.setattr(studies, "list_studies", explode)
    failed = await trial.gql(trial.admin, "{ studies { id } }")
    assert _code(failed) == "INTERNAL_SERVER_ERROR"
    written = production_logs.getvalue()
    lines = [json.loads(line) for line in written.splitlines()]
    assert len(lines) >= 8  # a line per request at least, and the failure
    assert any(line.get("error_type") == "RuntimeError" for line in lines)
    secrets = [
        *CONTACT.values(),
        "Featherstonehaugh",
        FREE_TEXT,
        PASSWORD,
        code,
        code.replace("-", ""),
        trial.app,
        trial.coordinator,
        trial.admin,
        phone["accessToken"],
        phone["refreshToken"],
        tokens["accessToken"],
        tokens["refreshToken"],
        *_key_material(key_file),
    ]
    leaked = [s for s in secrets if s.lower() in written.lower()]
    assert leaked == []


async def test_oversized_pages_are_refused_for_callers_who_may_read(trial: AppTrial) -> None:
    """Requirement 53: `first` over 100 is refused with a stable code, also when allowed."""
    over = await trial.gql(
        trial.coordinator,
        "query($s: ID!) { node(id: $s) { ... on Site { participants(first: 101) { edges { cursor } } } } }",
        s=trial.site,
    )
    assert _code(over) == "PAGE_SIZE_EXCEEDED"
    trail = await trial.gql(trial.coordinator, "{ auditTrail(first: 101) { edges { cursor } } }")
    assert _code(trail) == "PAGE_SIZE_EXCEEDED"
    fits = await trial.gql(trial.coordinator, "{ auditTrail(first: 100) { edges { cursor } } }")
    assert "errors" not in fits
    assert fits["data"]["auditTrail"]["edges"]


async def _client(application: Starlette, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=application, client=(address, 4711))
    return httpx.AsyncClient(transport=transport, base_url="http://hearth.test")


@pytest.fixture
async def production(database: ScratchDatabase, key_file: Path) -> AsyncIterator[Starlette]:
    application = create_app(
        make_settings(database, key_file, env=Environment.PRODUCTION), clock=CLOCK
    )
    async with application.router.lifespan_context(application):
        yield application


async def test_production_masks_unexpected_errors_and_keeps_stable_codes(
    production: Starlette, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Requirement 54: in production an unexpected error says nothing but its code; every
    expected error keeps its own code; no IDE and no field suggestions."""

    async def explode(**kwargs: object) -> None:
        raise RuntimeError("patient Jane Doe, born 1970-01-01")

    async with await _client(production, "198.51.100.4") as http:

        async def ask(query: str) -> dict[str, Any]:
            body: dict[str, Any] = (await http.post("/graphql", json={"query": query})).json()
            return body

        assert _code(await ask('{ node(id: "%%%") { id } }')) == "INVALID_ID"
        assert _code(await ask("{ studies { ")) == "GRAPHQL_PARSE_FAILED"
        typo = await ask("{ studies { titel } }")
        assert _code(typo) == "GRAPHQL_VALIDATION_FAILED"
        assert "Did you mean" not in json.dumps(typo)
        monkeypatch.setattr(studies, "list_studies", explode)
        masked = await ask("{ studies { id } }")
        assert masked["errors"][0]["message"] == "Unexpected error."
        assert _code(masked) == "INTERNAL_SERVER_ERROR"
        assert "Jane" not in json.dumps(masked)
        page = await http.get("/graphql", headers={"accept": "text/html"})
        assert "console" not in page.text.lower()


@pytest.fixture
async def limited(database: ScratchDatabase, key_file: Path) -> AsyncIterator[Starlette]:
    settings = make_settings(database, key_file, write_limit_per_ip=4, login_limit_per_account=2)
    application = create_app(settings, clock=CLOCK)
    async with application.router.lifespan_context(application):
        yield application


CREATE = 'mutation($c: String!) { createStudy(input: {code: $c, title: "T"}) { __typename } }'


async def _login(http: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await http.post(
        "/graphql", json={"query": LOGIN, "variables": {"e": email, "p": password}}
    )


async def test_writes_are_limited_per_address_across_callers(
    limited: Starlette, settings: Any, clock: PinnedClock
) -> None:
    """Requirement 57: two accounts behind one address share its write allowance (429)."""
    first, second = [await create_user(settings, (Grant(Role.ADMIN),)) for _ in range(2)]
    async with await _client(limited, "192.0.2.77") as http:
        tokens = [
            (await _login(http, email)).json()["data"]["login"]["accessToken"]
            for email in (first, second)
        ]  # two writes: signing in is a mutation too
        statuses = []
        for n, token in enumerate(tokens * 2):
            response = await http.post(
                "/graphql",
                json={"query": CREATE, "variables": {"c": f"IP-{n}-{token[-6:]}"}},
                headers={"authorization": f"Bearer {token}"},
            )
            statuses.append(response.status_code)
        assert statuses == [200, 200, 429, 429]
        assert 1 <= int(response.headers["retry-after"]) <= 60
        assert _code(response.json()) == "RATE_LIMITED"
        assert (
            await http.post("/graphql", json={"query": "{ studies { id } }"})
        ).status_code == 200
    async with await _client(limited, "192.0.2.78") as elsewhere:  # another address: its own
        assert (await _login(elsewhere, first)).status_code == 200
    clock.advance(timedelta(minutes=1, seconds=1))
    async with await _client(limited, "192.0.2.77") as http:
        assert (await _login(http, second)).status_code == 200  # the minute has passed


async def test_sign_ins_are_limited_per_account_across_addresses(
    limited: Starlette, settings: Any
) -> None:
    """Requirement 57: guessing one account's password from many addresses is stopped too."""
    email = await create_user(settings, (Grant(Role.ADMIN),))
    statuses = []
    for n in range(3):
        async with await _client(limited, f"203.0.113.{100 + n}") as http:
            response = await _login(http, email, "a wrong password guess")
            statuses.append(response.status_code)
    assert statuses == [200, 200, 429]
    assert response.json()["data"]["login"]["code"] == "RATE_LIMITED"
    assert 1 <= int(response.headers["retry-after"]) <= 300
