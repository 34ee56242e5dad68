"""Hostile requests to every route: any bytes in bodies, headers and query strings, and
clients that hang up mid-body. Never a 500; every refusal is the JSON error shape."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette

from api.logging import JsonFormatter
from api.settings import Settings
from tests.e2e.raw import Answer, call
from tests.e2e.trial import AppTrial, build_app_trial, heart_rate

ROUTES = [
    ("POST", "/graphql"),
    ("GET", "/graphql"),
    ("POST", "/ingest/readings"),
    ("GET", "/exports/00000000-0000-0000-0000-000000000000/DM.csv"),
    ("GET", "/exports/not-a-uuid/..%2F..%2Fkeys.json"),
    ("GET", "/healthz"),
    ("GET", "/graphql/schema.graphql"),
    ("PUT", "/graphql"),
    ("GET", "/nowhere"),
]
HEADER_NAMES = [
    b"content-type",
    b"accept",
    b"authorization",
    b"content-encoding",
    b"x-device-time",
    b"x-request-id",
    b"x-app-version",
    b"origin",
    b"content-length",
    b"x-forwarded-for",
]
CONTENT_TYPES = [
    b"application/json",
    b"application/x-ndjson",
    b"text/plain",
    b"",
    b"multipart/form-data",
]
BODIES = st.one_of(
    st.binary(max_size=600),
    st.sampled_from(
        [b"42", b"null", b"[]", b'{"query": 1}', b"[" * 3000, b'{"query": "{ __typename }"}']
    ),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
        ),
        max_leaves=12,
    ).map(lambda value: json.dumps(value).encode()),
)
HEADERS = st.lists(
    st.tuples(
        st.sampled_from(HEADER_NAMES),
        st.one_of(st.binary(max_size=60), st.sampled_from(CONTENT_TYPES)),
    ),
    max_size=5,
)


def _assert_safe(answer: Answer) -> None:
    assert answer.status < 500, answer.body[:300]
    if answer.status >= 400:
        body = answer.json()
        assert isinstance(body["errors"][0]["extensions"]["code"], str)


@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    route=st.sampled_from(ROUTES),
    query=st.binary(max_size=80),
    headers=HEADERS,
    body=BODIES,
    content_type=st.sampled_from(CONTENT_TYPES),
)
async def test_no_request_gets_a_500(
    app: Starlette,
    route: tuple[str, str],
    query: bytes,
    headers: list[tuple[bytes, bytes]],
    body: bytes,
    content_type: bytes,
) -> None:
    method, path = route
    sent = [(b"content-type", content_type), *headers]
    _assert_safe(await call(app, method, path, query=query, headers=sent, body=body))


@pytest.mark.parametrize(
    "query",
    [
        b"query=%7B%20__typename",
        b"query=%ff%fe&variables=%ff",
        b"query=%7B__typename%7D&variables=%5B1%5D",
        b"query=%7B__typename%7D&extensions=%7B%22persistedQuery%22%3A1%7D",
        b"\xff\xfe=\xff",
    ],
)
async def test_hostile_query_strings(app: Starlette, query: bytes) -> None:
    answer = await call(app, "GET", "/graphql", query=query)
    _assert_safe(answer)


@pytest.fixture
async def trial(app: Starlette, settings: Settings) -> AsyncIterator[AppTrial]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hearth.test") as http:
        yield await build_app_trial(http, settings)


READINGS = (
    "query($p: ID!) { node(id: $p) { ... on Participant { readings { edges { node { id } } } } } }"
)


async def _readings(trial: AppTrial) -> int:
    body = await trial.gql(trial.coordinator, READINGS, p=trial.participant)
    return len(body["data"]["node"]["readings"]["edges"])


async def test_an_upload_cut_off_midway_stores_nothing(
    app: Starlette, trial: AppTrial, caplog: pytest.LogCaptureFixture
) -> None:
    lines = b"".join(
        json.dumps(heart_rate(trial.device_uuid, 60 + n)).encode() + b"\n" for n in range(20)
    )
    headers = [
        (b"content-type", b"application/x-ndjson"),
        (b"authorization", f"Bearer {trial.app}".encode()),
    ]
    with caplog.at_level(logging.INFO, logger="hearth.http"):
        cut = await call(
            app, "POST", "/ingest/readings", headers=headers, chunks=[lines[:700]], disconnect=True
        )
    assert cut.status == 0  # nothing was answered: nobody was listening
    assert await _readings(trial) == 0
    (record,) = [r for r in caplog.records if r.getMessage() == "client disconnected"]
    assert record.levelno == logging.INFO
    assert record.status == 499  # type: ignore[attr-defined]
    whole = await call(app, "POST", "/ingest/readings", headers=headers, body=lines)
    assert whole.json()["accepted"] == 20
    assert await _readings(trial) == 20


async def test_a_graphql_request_cut_off_midway_is_499(
    app: Starlette, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        cut = await call(
            app,
            "POST",
            "/graphql",
            headers=[(b"content-type", b"application/json")],
            chunks=[b'{"query": "mutation { logout'],
            disconnect=True,
        )
    assert cut.status == 0
    assert [r.status for r in caplog.records if r.getMessage() == "client disconnected"] == [499]  # type: ignore[attr-defined]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_an_unexpected_failure_is_a_masked_json_500(
    app: Starlette,
    admin_token: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from domain.services import exports

    async def explode(**kwargs: object) -> None:
        raise RuntimeError("participant Jane Doe")

    monkeypatch.setattr(exports, "get", explode)
    auth = [(b"authorization", f"Bearer {admin_token}".encode())]
    with caplog.at_level(logging.INFO):
        answer = await call(
            app, "GET", "/exports/00000000-0000-0000-0000-000000000000/DM.csv", headers=auth
        )
    assert answer.status == 500
    assert answer.code == "INTERNAL_SERVER_ERROR"
    assert "Jane" not in answer.body.decode()
    formatted = [JsonFormatter().format(r) for r in caplog.records]
    assert any('"error_type": "RuntimeError"' in line for line in formatted)
    assert all("Jane" not in line for line in formatted)
