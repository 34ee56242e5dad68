"""Queries over HTTP: item codes round-trip unchanged; the monitor reopens with a reason."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from api.relay import from_global_id
from api.settings import Settings
from domain.actors import Grant, Role
from domain.ids import SiteId, StudyId
from tests.e2e.conftest import PASSWORD, create_user
from tests.e2e.trial import (
    LOGIN,
    SUBMIT_DIARY,
    AppTrial,
    build_app_trial,
    diary_entry,
    open_occurrence,
)

RAISE = 'mutation($r: ID!, $f: String) { raiseQuery(input: {recordId: $r, field: $f, question: "Is this right?"}) { __typename ... on DataQuerySuccess { query { id field status } } ... on MutationError { code field } } }'
ANSWER = (
    'mutation($q: ID!) { answerQuery(input: {queryId: $q, answer: "Checked."}) { __typename } }'
)
CLOSE = "mutation($q: ID!) { closeQuery(input: {queryId: $q}) { __typename } }"
REOPEN = "mutation($q: ID!, $r: String!) { reopenQuery(input: {queryId: $q, reason: $r}) { __typename ... on DataQuerySuccess { query { status closedAt } } ... on MutationError { code field } } }"
TRAIL = 'query($p: ID!) { auditTrail(filter: {participantId: $p, entityType: "DataQuery"}) { edges { node { action reason { state value } changes { field new { value } } } } } }'


@pytest.fixture
async def trial(client: httpx.AsyncClient, settings: Settings) -> AppTrial:
    return await build_app_trial(client, settings)


async def _monitor(trial: AppTrial, settings: Settings) -> str:
    grant = Grant(
        Role.MONITOR,
        StudyId(from_global_id(trial.study)[1]),
        SiteId(from_global_id(trial.site)[1]),
    )
    body = await trial.gql(None, LOGIN, e=await create_user(settings, (grant,)), p=PASSWORD)
    token: str = body["data"]["login"]["accessToken"]
    return token


async def _entry(trial: AppTrial) -> str:
    due = await open_occurrence(lambda q, **v: trial.gql(trial.app, q, **v), trial.participant)
    sent = await trial.gql(trial.app, SUBMIT_DIARY, e=[diary_entry(due)])
    entry: str = sent["data"]["submitDiaryEntries"]["results"][0]["entry"]["id"]
    return entry


def _changes(trail: dict[str, Any], action: str) -> list[dict[str, Any]]:
    edges = trail["data"]["auditTrail"]["edges"]
    return [e["node"] for e in edges if e["node"]["action"] == action]


async def test_item_codes_round_trip_through_the_api_and_the_trail(
    trial: AppTrial, settings: Settings
) -> None:
    monitor = await _monitor(trial, settings)
    entry = await _entry(trial)
    raised = await trial.gql(monitor, RAISE, r=entry, f="PAIN")
    assert raised["data"]["raiseQuery"]["query"]["field"] == "PAIN"
    path = await trial.gql(monitor, RAISE, r=entry, f="answers.PAIN")
    assert path["data"]["raiseQuery"]["query"]["field"] == "answers.PAIN"
    listed = await trial.gql(monitor, "{ dataQueries { edges { node { field } } } }")
    fields = {e["node"]["field"] for e in listed["data"]["dataQueries"]["edges"]}
    assert {"PAIN", "answers.PAIN"} <= fields
    trail = await trial.gql(trial.coordinator, TRAIL, p=trial.participant)
    logged = [
        c["new"]["value"]
        for node in _changes(trail, "created")
        for c in node["changes"]
        if c["field"] == "field"
    ]
    assert sorted(logged) == ["PAIN", "answers.PAIN"]
    bad = await trial.gql(monitor, RAISE, r=entry, f="PAIN SCORE")
    assert bad["data"]["raiseQuery"] == {
        "__typename": "MutationError",
        "code": "VALIDATION_FAILED",
        "field": "field",
    }


async def test_the_monitor_reopens_a_closed_query_with_a_reason(
    trial: AppTrial, settings: Settings
) -> None:
    monitor = await _monitor(trial, settings)
    raised = await trial.gql(monitor, RAISE, r=trial.participant, f="screeningNumber")
    query = raised["data"]["raiseQuery"]["query"]["id"]
    await trial.gql(trial.coordinator, ANSWER, q=query)
    await trial.gql(monitor, CLOSE, q=query)
    blank = await trial.gql(monitor, REOPEN, q=query, r=" ")
    assert blank["data"]["reopenQuery"] == {
        "__typename": "MutationError",
        "code": "REASON_REQUIRED",
        "field": "reason",
    }
    by_site = await trial.gql(trial.coordinator, REOPEN, q=query, r="Disagree")
    assert by_site["data"]["reopenQuery"]["code"] == "FORBIDDEN"
    reopened = await trial.gql(monitor, REOPEN, q=query, r="Source says S-002")
    assert reopened["data"]["reopenQuery"]["query"] == {"status": "OPEN", "closedAt": None}
    trail = await trial.gql(trial.coordinator, TRAIL, p=trial.participant)
    [event] = _changes(trail, "reopened")
    assert event["reason"] == {"state": "REVEALED", "value": "Source says S-002"}
