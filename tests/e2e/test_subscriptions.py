"""Subscriptions over graphql-transport-ws, in process (starlette's TestClient websocket):
a subscriber hears only what its grants let it see, is refused without a valid token, is
held to the query limits, and is cut off (4401 / 4403) when its session or grant ends.

Each test waits for its subscriptions to be listening (the subscription gauge of /metrics)
before it writes, so no event can be missed for want of a listener."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from api.app import build_runtime, create_app
from api.relay import from_global_id
from api.settings import Settings
from domain.actors import Grant, Role
from domain.ids import StudyId, UserId
from domain.services import users
from tests.clock import CLOCK
from tests.e2e.conftest import PASSWORD, create_user
from tests.e2e.live_trial import LOGOUT, RAISE, LiveTrial, build_live_trial
from tests.e2e.trial import LOGIN
from tests.factories import admin, caller

PROTOCOL = "graphql-transport-ws"
CHANGES = """
subscription Changes($kinds: [LiveKind!], $sites: [ID!]) {
  changes(kinds: $kinds, siteIds: $sites) {
    kind action siteId participantId
    record { __typename ... on DataQuery { id status question } }
  }
}"""


@pytest.fixture(scope="module")
def live_app(settings: Settings) -> Starlette:
    return create_app(settings, clock=CLOCK)


@pytest.fixture(scope="module")
def client(live_app: Starlette) -> Iterator[TestClient]:
    with TestClient(live_app) as running:
        yield running


@pytest.fixture(scope="module")
def trial(client: TestClient, settings: Settings) -> LiveTrial:

    def post(query: str, variables: dict[str, Any], token: str | None) -> dict[str, Any]:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        response = client.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    return build_live_trial(post, settings)


def subscriptions(client: TestClient) -> float:
    text = client.get("/metrics").text
    found = re.search(r"^hearth_subscriptions (\S+)$", text, re.MULTILINE)
    assert found is not None, text
    return float(found.group(1))


def until_listening(client: TestClient, count: float) -> None:
    """Wait (by asking the server) until `count` subscriptions stream."""
    for _ in range(2000):
        if subscriptions(client) >= count:
            return
    raise AssertionError(f"never {count} subscriptions streaming")


@contextlib.contextmanager
def open_socket(client: TestClient, token: str | None) -> Iterator[Any]:
    with client.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as session:
        payload = {"authorization": f"Bearer {token}"} if token else {}
        session.send_json({"type": "connection_init", "payload": payload})
        yield session


def sign_in(trial: LiveTrial, settings: Settings, grant: Grant) -> str:
    email = asyncio.run(create_user(settings, (grant,)))
    return str(trial.gql(None, LOGIN, e=email, p=PASSWORD)["data"]["login"]["accessToken"])


def subscribe(session: Any, id: str, **variables: Any) -> None:
    session.send_json(
        {"id": id, "type": "subscribe", "payload": {"query": CHANGES, "variables": variables}}
    )


def test_a_subscriber_hears_only_its_own_sites(client: TestClient, trial: LiveTrial) -> None:
    before = subscriptions(client)
    with (
        open_socket(client, trial.coordinators[0]) as a,
        open_socket(client, trial.coordinators[1]) as b,
    ):
        assert a.receive_json() == {"type": "connection_ack"}
        assert b.receive_json() == {"type": "connection_ack"}
        subscribe(a, "1", kinds=["DATA_QUERY"])
        subscribe(b, "1", kinds=["DATA_QUERY"])
        until_listening(client, before + 2)
        # Site B's query first: if A could hear it, it would be A's first message.
        at_b = trial.raise_query(1)
        at_a = trial.raise_query(0)
        heard_a = a.receive_json()
        heard_b = b.receive_json()
        assert heard_a["type"] == "next"
        assert heard_a["id"] == "1"
        event = heard_a["payload"]["data"]["changes"]
        assert event["kind"] == "DATA_QUERY"
        assert event["siteId"] == trial.sites[0]
        assert event["participantId"] == trial.participants[0]
        assert event["record"] == {
            "__typename": "DataQuery",
            "id": at_a,
            "status": "OPEN",
            "question": "Please confirm.",
        }
        assert heard_b["payload"]["data"]["changes"]["record"]["id"] == at_b
        for session in (a, b):
            session.send_json({"id": "1", "type": "complete"})


def test_asking_for_another_sites_events_is_refused(client: TestClient, trial: LiveTrial) -> None:
    with open_socket(client, trial.coordinators[0]) as a:
        assert a.receive_json()["type"] == "connection_ack"
        subscribe(a, "x", sites=[trial.sites[1]])
        refused = a.receive_json()
        assert refused["id"] == "x"
        assert refused["payload"]["errors"][0]["extensions"]["code"] == "NOT_FOUND"
        assert refused["payload"]["data"] is None
        assert a.receive_json() == {"id": "x", "type": "complete"}


def test_no_token_or_a_bad_one_closes_4401(client: TestClient) -> None:
    for token in (None, "not-a-token"):
        with open_socket(client, token) as session:
            with pytest.raises(WebSocketDisconnect) as closed:
                session.receive_json()
            assert closed.value.code == 4401


def test_subscriptions_keep_the_query_limits(client: TestClient, trial: LiveTrial) -> None:
    with open_socket(client, trial.coordinators[0]) as session:
        assert session.receive_json()["type"] == "connection_ack"
        aliases = " ".join(f"a{n}: kind" for n in range(30))
        session.send_json(
            {
                "id": "w",
                "type": "subscribe",
                "payload": {"query": f"subscription {{ changes {{ {aliases} }} }}"},
            }
        )
        refused = session.receive_json()
        assert refused["type"] == "error"
        assert refused["id"] == "w"
        assert "aliases" in refused["payload"][0]["message"].lower()


def test_subscriptions_are_not_served_over_http(trial: LiveTrial) -> None:
    body = trial.gql(trial.coordinators[0], CHANGES)
    assert body["errors"][0]["extensions"]["code"] == "INVALID_REQUEST"
    assert "graphql-transport-ws" in body["errors"][0]["message"]


def test_signing_out_closes_the_stream_4401(
    client: TestClient, trial: LiveTrial, settings: Settings
) -> None:
    token = sign_in(trial, settings, trial.coordinator_grant(0))
    before = subscriptions(client)
    with open_socket(client, token) as session:
        assert session.receive_json()["type"] == "connection_ack"
        subscribe(session, "1")
        until_listening(client, before + 1)
        trial.gql(token, LOGOUT)
        with pytest.raises(WebSocketDisconnect) as closed:
            session.receive_json()
        assert closed.value.code == 4401


def test_the_stream_ends_4401_when_its_access_token_expires(
    client: TestClient, trial: LiveTrial, settings: Settings
) -> None:
    token = sign_in(trial, settings, trial.coordinator_grant(0))
    before = subscriptions(client)
    with open_socket(client, token) as session:
        assert session.receive_json()["type"] == "connection_ack"
        subscribe(session, "1", kinds=["DATA_QUERY"])
        until_listening(client, before + 1)
        CLOCK.advance(minutes=settings.access_token_minutes + 1)
        # An event at the subscriber's site, by someone signed in now: the subscriber's token
        # has expired (its session has not), so the stream ends instead of carrying it.
        study = StudyId(from_global_id(trial.study)[1])
        manager = sign_in(trial, settings, Grant(Role.DATA_MANAGER, study))
        raised = trial.gql(manager, RAISE, r=trial.participants[0])
        assert raised["data"]["raiseQuery"]["__typename"] == "DataQuerySuccess"
        with pytest.raises(WebSocketDisconnect) as closed:
            session.receive_json()
        assert closed.value.code == 4401


def test_a_revoked_grant_closes_the_stream_4403(
    client: TestClient, trial: LiveTrial, settings: Settings
) -> None:
    grant = trial.coordinator_grant(0)
    token = sign_in(trial, settings, grant)
    user_id = trial.user_id(token)
    before = subscriptions(client)
    with open_socket(client, token) as session:
        assert session.receive_json()["type"] == "connection_ack"
        subscribe(session, "1", sites=[trial.sites[0]])
        until_listening(client, before + 1)

        async def revoke() -> None:
            runtime = build_runtime(settings, clock=CLOCK)
            try:
                await users.set_grants(
                    uow=runtime.services.uow(),
                    ctx=caller(admin()),
                    user_id=UserId(user_id),
                    remove=(grant,),
                )
            finally:
                await runtime.close()

        asyncio.run(revoke())
        with pytest.raises(WebSocketDisconnect) as closed:
            session.receive_json()
        assert closed.value.code == 4403


ALERTS = """
subscription Alerts {
  changes(kinds: [ALERT]) { kind siteId record { __typename ... on Alert { kind status } } }
}"""
SERIOUS_RULE = "mutation($s: ID!) { setAlertRule(input: {studyId: $s, kind: SERIOUS_ADVERSE_EVENT}) { __typename } }"
RECORD_SERIOUS = "mutation($p: ID!, $e: AdverseEventInput!) { recordAdverseEvent(input: {participantId: $p, event: $e}) { __typename } }"
SERIOUS = {
    "term": "Chest pain",
    "onset": "2026-06",
    "ongoing": True,
    "severity": "SEVERE",
    "relationship": "NOT_RELATED",
    "actionTaken": "DOSE_NOT_CHANGED",
    "outcome": "NOT_RECOVERED",
    "seriousness": ["HOSPITALISATION"],
}


def test_an_alert_reaches_its_sites_coordinator_at_once(
    client: TestClient, trial: LiveTrial
) -> None:
    ruled = trial.gql(trial.admin, SERIOUS_RULE, s=trial.study)
    assert ruled["data"]["setAlertRule"]["__typename"] == "AlertRuleSuccess", ruled
    before = subscriptions(client)
    with open_socket(client, trial.coordinators[0]) as a:
        assert a.receive_json() == {"type": "connection_ack"}
        a.send_json({"id": "1", "type": "subscribe", "payload": {"query": ALERTS}})
        until_listening(client, before + 1)
        # Site B's alert first: if A could hear it, it would be A's first message.
        for site in (1, 0):
            made = trial.gql(
                trial.coordinators[site], RECORD_SERIOUS, p=trial.participants[site], e=SERIOUS
            )
            assert made["data"]["recordAdverseEvent"]["__typename"] == "AdverseEventSuccess"
        heard = a.receive_json()
        assert heard["type"] == "next", heard
        assert heard["payload"]["data"]["changes"] == {
            "kind": "ALERT",
            "siteId": trial.sites[0],
            "record": {"__typename": "Alert", "kind": "SERIOUS_ADVERSE_EVENT", "status": "OPEN"},
        }
        a.send_json({"id": "1", "type": "complete"})
