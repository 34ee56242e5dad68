"""GraphQL over HTTP: media types, status codes, request errors, batches, and what cannot be
read: every refusal is the JSON error shape with a stable code, never a 500."""

from __future__ import annotations

import json

import httpx
import pytest
from starlette.applications import Starlette

from tests.e2e.raw import call

GQL = "application/graphql-response+json"
JSON_BODY = {"content-type": "application/json"}


def _code(response: httpx.Response) -> str:
    return response.json()["errors"][0]["extensions"]["code"]  # type: ignore[no-any-return]


async def test_a_body_that_is_not_utf8_is_400(app: Starlette) -> None:
    answer = await call(
        app,
        "POST",
        "/graphql",
        headers=[(b"content-type", b"application/json")],
        body=b'{"query": "{ __typename \xff\xfe }"}',
    )
    assert answer.status == 400
    assert answer.code == "INVALID_ENCODING"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("42", "INVALID_REQUEST"),
        ("null", "INVALID_REQUEST"),
        ('"{ __typename }"', "INVALID_REQUEST"),
        ("[]", "INVALID_REQUEST"),
        ("[42]", "INVALID_REQUEST"),
        ('{"query": 7}', "INVALID_REQUEST"),
        ('{"query": "{ __typename }", "variables": [1]}', "INVALID_REQUEST"),
        ('{"query": "{ __typename }", "operationName": false}', "INVALID_REQUEST"),
        ('{"query": "{ __typename }", "extensions": "x"}', "INVALID_REQUEST"),
        ('{"qeury": "{ __typename }"}', "INVALID_REQUEST"),
        ('{ "not a JSON', "INVALID_JSON"),
        ("[" * 5000 + "]" * 5000, "INVALID_JSON"),
        ("", "INVALID_REQUEST"),
    ],
)
async def test_bodies_that_are_no_graphql_request_are_400(
    client: httpx.AsyncClient, body: str, code: str
) -> None:
    response = await client.post("/graphql", content=body.encode(), headers=JSON_BODY)
    assert response.status_code == 400
    assert _code(response) == code
    assert response.headers["content-type"].startswith("application/json")


async def test_the_connection_stays_usable_after_a_bad_body(client: httpx.AsyncClient) -> None:
    assert (await client.post("/graphql", content=b"null", headers=JSON_BODY)).status_code == 400
    ok = await client.post("/graphql", json={"query": "{ __typename }"})
    assert ok.json() == {"data": {"__typename": "Query"}}


async def test_media_types_and_status_codes(client: httpx.AsyncClient) -> None:
    plain = await client.post("/graphql", json={"query": "{ __typename }"})
    assert plain.headers["content-type"] == "application/json; charset=utf-8"
    spec = await client.post("/graphql", json={"query": "{ __typename }"}, headers={"accept": GQL})
    assert spec.status_code == 200
    assert spec.headers["content-type"].startswith(GQL)
    both = await client.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"accept": f"application/json, {GQL}"}
    )
    assert both.headers["content-type"].startswith(GQL)
    star = await client.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"accept": "*/*"}
    )
    assert star.headers["content-type"].startswith("application/json")
    refused = await client.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"accept": "text/plain"}
    )
    assert refused.status_code == 406
    assert _code(refused) == "NOT_ACCEPTABLE"


@pytest.mark.parametrize(
    ("query", "variables", "code"),
    [
        ("{", None, "GRAPHQL_PARSE_FAILED"),
        ("{ studies { nope } }", None, "GRAPHQL_VALIDATION_FAILED"),
        ("query Q($id: ID!) { __typename }", {"id": None}, "GRAPHQL_VALIDATION_FAILED"),
    ],
)
async def test_request_errors_are_400_without_data_for_the_spec_media_type(
    client: httpx.AsyncClient, query: str, variables: dict[str, object] | None, code: str
) -> None:
    body = {"query": query, "variables": variables}
    spec = await client.post("/graphql", json=body, headers={"accept": GQL})
    assert spec.status_code == 400
    assert "data" not in spec.json()
    assert _code(spec) == code
    legacy = await client.post("/graphql", json=body, headers={"accept": "application/json"})
    assert legacy.status_code == 200
    assert _code(legacy) == code


async def test_several_operations_need_an_operation_name(client: httpx.AsyncClient) -> None:
    document = "query A { __typename } query B { studies { id } }"
    unnamed = await client.post("/graphql", json={"query": document}, headers={"accept": GQL})
    assert unnamed.status_code == 400
    assert _code(unnamed) == "OPERATION_NAME_REQUIRED"
    assert "data" not in unnamed.json()
    unknown = await client.post("/graphql", json={"query": document, "operationName": "C"})
    assert _code(unknown) == "OPERATION_NOT_FOUND"
    named = await client.post("/graphql", json={"query": document, "operationName": "A"})
    assert named.json() == {"data": {"__typename": "Query"}}


async def test_mutations_over_get_are_405(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/graphql", params={"query": "mutation { logout { __typename } }"}, headers={"accept": GQL}
    )
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert _code(response) == "METHOD_NOT_ALLOWED"
    hidden = "query A { __typename } mutation B { logout { __typename } }"
    response = await client.get("/graphql", params={"query": hidden, "operationName": "B"})
    assert response.status_code == 405


async def test_get_queries_with_variables(client: httpx.AsyncClient) -> None:
    query = "query Q($n: String!) { __type(name: $n) { name } }"
    ok = await client.get("/graphql", params={"query": query, "variables": '{"n": "Study"}'})
    assert ok.json() == {"data": {"__type": {"name": "Study"}}}
    bad = await client.get("/graphql", params={"query": query, "variables": "{nope"})
    assert bad.status_code == 400
    assert _code(bad) == "INVALID_REQUEST"


async def test_post_needs_the_json_media_type(client: httpx.AsyncClient) -> None:
    body = json.dumps({"query": "{ __typename }"}).encode()
    for content_type in (None, "text/plain", "application/json; charset=latin-1"):
        headers = {"content-type": content_type} if content_type else {}
        response = await client.post("/graphql", content=body, headers=headers)
        assert response.status_code == 415
        assert _code(response) == "UNSUPPORTED_MEDIA_TYPE"
    utf8 = await client.post(
        "/graphql", content=body, headers={"content-type": "application/json; charset=UTF-8"}
    )
    assert utf8.status_code == 200


async def test_batch_errors_are_json_with_a_code(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", json=[{"query": "{ __typename }"}] * 11)
    assert response.status_code == 400
    assert _code(response) == "TOO_MANY_OPERATIONS"
    mixed = await client.post("/graphql", json=[{"query": "{ __typename }"}, {"query": "{"}])
    first, second = mixed.json()
    assert first == {"data": {"__typename": "Query"}}
    assert second["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"


async def test_unknown_routes_and_methods_are_json(client: httpx.AsyncClient) -> None:
    missing = await client.get("/nope")
    assert missing.status_code == 404
    assert _code(missing) == "NOT_FOUND"
    wrong = await client.delete("/graphql")
    assert wrong.status_code == 405
    assert _code(wrong) == "METHOD_NOT_ALLOWED"
