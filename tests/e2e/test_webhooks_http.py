"""Webhook endpoints over GraphQL: registered by data managers for their study (stable codes
for bad input), delivered by a real worker to a real receiver, followed through
`deliveries`, replayed; another study's data manager can neither see nor touch them."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from api.app import Worker
from api.relay import from_global_id
from api.settings import Settings
from domain.actors import Grant, Role
from domain.ids import StudyId
from tests.clock import PinnedClock
from tests.e2e.conftest import Gql, create_user, login
from tests.e2e.trial import CREATE_SITE, CREATE_STUDY, REGISTER
from tests.webhook_receiver import Receiver, receiving, verify

CREATE = "mutation($s: ID!, $u: String!, $t: [String!]!) { createWebhookEndpoint(input: {studyId: $s, url: $u, eventTypes: $t}) { __typename ... on WebhookSecretSuccess { secret endpoint { id url eventTypes enabled logPosition } } ... on MutationError { code field } } }"
ENDPOINTS = "query($id: ID!) { node(id: $id) { ... on Study { webhookEndpoints { id url } } } }"
NODE = "query($id: ID!) { node(id: $id) { ... on WebhookEndpoint { id url enabled } } }"
DELIVERIES = "query($id: ID!) { node(id: $id) { ... on WebhookEndpoint { deliveries { messageId logPosition eventType status replay attempts { number statusCode latencyMs outcome nextTryAt } } } } }"
REPLAY = "mutation($e: ID!, $p: Int!) { replayWebhooks(input: {endpointId: $e, fromPosition: $p}) { __typename ... on ReplayWebhooksSuccess { queued lastPosition } ... on MutationError { code field } } }"
UPDATE = "mutation($e: ID!, $u: String) { updateWebhookEndpoint(input: {endpointId: $e, url: $u}) { __typename ... on WebhookEndpointSuccess { endpoint { url } } ... on MutationError { code field } } }"
ENABLE = "mutation($e: ID!, $on: Boolean!) { setWebhookEndpointEnabled(input: {endpointId: $e, enabled: $on}) { __typename ... on WebhookEndpointSuccess { endpoint { enabled } } ... on MutationError { code } } }"
ROTATE = "mutation($e: ID!, $m: Int!) { rotateWebhookSecret(input: {endpointId: $e, overlapMinutes: $m}) { __typename ... on WebhookSecretSuccess { secret } ... on MutationError { code field } } }"
DELETE = "mutation($e: ID!) { deleteWebhookEndpoint(input: {endpointId: $e}) { __typename ... on DeleteWebhookEndpointSuccess { deletedId } ... on MutationError { code } } }"


async def _study(gql: Gql, admin_token: str) -> str:
    made = await gql(CREATE_STUDY, {"c": f"WH{uuid.uuid4().hex[:6]}"}, admin_token)
    gid: str = made["data"]["createStudy"]["study"]["id"]
    return gid


async def _data_manager(gql: Gql, settings: Settings, study: str) -> str:
    grant = Grant(Role.DATA_MANAGER, StudyId(from_global_id(study, "Study")[1]))
    return await login(gql, await create_user(settings, (grant,)))


async def _until(receiver: Receiver, count: int) -> None:
    for _ in range(600):
        if len(receiver.received) >= count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"received {len(receiver.received)} of {count}")


async def _recorded(gql: Gql, token: str, endpoint: str) -> list[dict[str, Any]]:
    """The deliveries once the worker has logged their outcome (it answers the receiver's
    response only after the receiver has recorded the request)."""
    for _ in range(600):
        body = await gql(DELIVERIES, {"id": endpoint}, token)
        found: list[dict[str, Any]] = body["data"]["node"]["deliveries"]
        if found and all(d["status"] != "PENDING" for d in found):
            return found
        await asyncio.sleep(0.05)
    raise AssertionError("the delivery was never logged")


async def test_bad_input_gets_stable_codes_and_nothing_is_stored(
    gql: Gql, settings: Settings, admin_token: str
) -> None:
    study = await _study(gql, admin_token)
    manager = await _data_manager(gql, settings, study)
    cases = [
        ("ftp://example.org/hook", ["visit.changed"], "INVALID_WEBHOOK_URL", "url"),
        ("https://user:pw@example.org/hook", ["visit.changed"], "INVALID_WEBHOOK_URL", "url"),
        ("/relative", ["visit.changed"], "INVALID_WEBHOOK_URL", "url"),
        ("https://example.org/hook", ["visit.deleted"], "UNKNOWN_EVENT_TYPE", "eventTypes"),
        ("https://example.org/hook", [], "UNKNOWN_EVENT_TYPE", "eventTypes"),
    ]
    for url, types, code, field in cases:
        body = await gql(CREATE, {"s": study, "u": url, "t": types}, manager)
        assert body["data"]["createWebhookEndpoint"] == {
            "__typename": "MutationError",
            "code": code,
            "field": field,
        }, url
    listed = await gql(ENDPOINTS, {"id": study}, manager)
    assert listed["data"]["node"]["webhookEndpoints"] == []
    made = await gql(
        CREATE, {"s": study, "u": "https://example.org/h", "t": ["visit.changed"]}, manager
    )
    endpoint = made["data"]["createWebhookEndpoint"]["endpoint"]["id"]
    rotated = await gql(ROTATE, {"e": endpoint, "m": 10**9}, manager)
    assert rotated["data"]["rotateWebhookSecret"]["code"] == "VALIDATION_FAILED"
    replayed = await gql(REPLAY, {"e": endpoint, "p": 0}, manager)
    assert replayed["data"]["replayWebhooks"]["code"] == "VALIDATION_FAILED"
    changed = await gql(UPDATE, {"e": endpoint, "u": "gopher://x"}, manager)
    assert changed["data"]["updateWebhookEndpoint"]["code"] == "INVALID_WEBHOOK_URL"
    paused = await gql(ENABLE, {"e": endpoint, "on": False}, manager)
    assert paused["data"]["setWebhookEndpointEnabled"]["endpoint"]["enabled"] is False
    replayed = await gql(REPLAY, {"e": endpoint, "p": 1}, manager)
    assert replayed["data"]["replayWebhooks"]["code"] == "INVALID_TRANSITION"
    listed = await gql(NODE, {"id": endpoint}, manager)
    assert listed["data"]["node"]["url"] == "https://example.org/h"  # nothing changed


async def test_another_studys_data_manager_cannot_see_or_touch_an_endpoint(
    gql: Gql, settings: Settings, admin_token: str
) -> None:
    study_a, study_b = await _study(gql, admin_token), await _study(gql, admin_token)
    manager_a = await _data_manager(gql, settings, study_a)
    manager_b = await _data_manager(gql, settings, study_b)
    made = await gql(
        CREATE, {"s": study_a, "u": "https://example.org/a", "t": ["visit.changed"]}, manager_a
    )
    endpoint = made["data"]["createWebhookEndpoint"]["endpoint"]["id"]
    refused = await gql(
        CREATE, {"s": study_a, "u": "https://example.org/b", "t": ["visit.changed"]}, manager_b
    )
    assert refused["data"]["createWebhookEndpoint"]["code"] == "FORBIDDEN"
    assert (await gql(NODE, {"id": endpoint}, manager_b))["data"]["node"] is None
    listed = await gql(ENDPOINTS, {"id": study_a}, manager_b)
    assert listed["data"]["node"] is None or listed["data"]["node"]["webhookEndpoints"] is None
    for query, variables, name in (
        (REPLAY, {"e": endpoint, "p": 1}, "replayWebhooks"),
        (UPDATE, {"e": endpoint, "u": "https://evil.example/"}, "updateWebhookEndpoint"),
        (ENABLE, {"e": endpoint, "on": False}, "setWebhookEndpointEnabled"),
        (ROTATE, {"e": endpoint, "m": 5}, "rotateWebhookSecret"),
        (DELETE, {"e": endpoint}, "deleteWebhookEndpoint"),
    ):
        body = await gql(query, variables, manager_b)
        assert body["data"][name]["code"] == "NOT_FOUND", name
    # Untouched: the owner still sees it as it was.
    mine = await gql(NODE, {"id": endpoint}, manager_a)
    assert mine["data"]["node"] == {"id": endpoint, "url": "https://example.org/a", "enabled": True}
    listed = await gql(ENDPOINTS, {"id": study_a}, admin_token)
    assert [e["id"] for e in listed["data"]["node"]["webhookEndpoints"]] == [endpoint]
    gone = await gql(DELETE, {"e": endpoint}, manager_a)
    assert gone["data"]["deleteWebhookEndpoint"]["deletedId"] == endpoint
    assert (await gql(NODE, {"id": endpoint}, manager_a))["data"]["node"] is None


async def test_registered_over_graphql_delivered_by_the_worker_and_replayed(
    gql: Gql, settings: Settings, admin_token: str, worker: Worker, clock: PinnedClock
) -> None:
    study = await _study(gql, admin_token)
    manager = await _data_manager(gql, settings, study)
    async with receiving() as receiver:
        made = await gql(
            CREATE, {"s": study, "u": receiver.url, "t": ["participant.changed"]}, manager
        )
        created: dict[str, Any] = made["data"]["createWebhookEndpoint"]
        secret, endpoint = created["secret"], created["endpoint"]["id"]
        assert secret.startswith("whsec_")
        site = await gql(CREATE_SITE, {"s": study, "c": "S1"}, admin_token)
        site_id = site["data"]["createSite"]["site"]["id"]
        coordinator = await login(
            gql,
            await create_user(
                settings,
                (
                    Grant(
                        Role.COORDINATOR,
                        StudyId(from_global_id(study)[1]),
                        from_global_id(site_id)[1],  # type: ignore[arg-type]
                    ),
                ),
            ),
        )
        registered = await gql(REGISTER, {"s": site_id, "n": "SCR-WH-1"}, coordinator)
        assert (
            registered["data"]["registerParticipant"]["__typename"] == "RegisterParticipantSuccess"
        )
        await _until(receiver, 1)
        first = receiver.received[0]
        message = verify(secret, clock, first)
        assert message["type"] == "participant.changed"
        assert "SCR-WH-1" not in first.body
        position = message["data"]["logPosition"]
        (delivery,) = await _recorded(gql, manager, endpoint)
        assert delivery["messageId"] == first.headers["webhook-id"]
        assert delivery["status"] == "DELIVERED"
        assert delivery["attempts"][0]["statusCode"] == 204
        assert delivery["attempts"][0]["outcome"] == "DELIVERED"
        replayed = await gql(REPLAY, {"e": endpoint, "p": position}, manager)
        assert replayed["data"]["replayWebhooks"] == {
            "__typename": "ReplayWebhooksSuccess",
            "queued": 1,
            "lastPosition": position,
        }
        await _until(receiver, 2)
    again = receiver.received[1]
    assert again.headers["webhook-id"] == first.headers["webhook-id"]
    assert verify(secret, clock, again) == message
