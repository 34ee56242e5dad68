"""A participant's app that lost a refresh answer asks again and gets the same pair."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from api.settings import Settings
from tests.clock import PinnedClock
from tests.e2e.conftest import Gql
from tests.e2e.trial import ISSUE_CODE, build_app_trial

ENROL = 'mutation($c: String!) { enrolParticipant(input: {code: $c, installation: {platform: ANDROID, model: "P", osVersion: "16", appVersion: "1"}}) { ... on EnrolParticipantSuccess { refreshToken installationId } } }'
REFRESH = "mutation($t: String!, $i: String) { refreshSession(input: {refreshToken: $t, installationId: $i}) { __typename ... on RefreshSessionSuccess { accessToken refreshToken refreshExpiresAt expiresAt } ... on MutationError { code message field } } }"


async def test_a_lost_refresh_answer_does_not_lock_the_participant_out(
    client: httpx.AsyncClient, settings: Settings, gql: Gql, clock: PinnedClock
) -> None:
    trial = await build_app_trial(client, settings)
    issued = await trial.gql(trial.coordinator, ISSUE_CODE, p=trial.participant)
    code = issued["data"]["issueEnrolmentCode"]["enrolment"]["code"]
    phone = (await gql(ENROL, {"c": code}))["data"]["enrolParticipant"]

    async def refresh(token: str, installation: str | None) -> dict[str, Any]:
        body = await gql(REFRESH, {"t": token, "i": installation})
        result: dict[str, Any] = body["data"]["refreshSession"]
        return result

    lost = await refresh(phone["refreshToken"], phone["installationId"])
    assert lost["__typename"] == "RefreshSessionSuccess"
    clock.advance(seconds=30)
    again = await refresh(phone["refreshToken"], phone["installationId"])
    assert again == lost  # the very same access and refresh token
    me = await gql("{ viewer { kind } }", token=again["accessToken"])
    assert me["data"]["viewer"]["kind"] == "PARTICIPANT"
    onwards = await refresh(again["refreshToken"], phone["installationId"])
    assert onwards["__typename"] == "RefreshSessionSuccess"
    copied = await refresh(phone["refreshToken"], phone["installationId"])
    assert copied["code"] == "INVALID_REFRESH_TOKEN"
    assert "new enrolment code" in copied["message"]
    ended = await refresh(onwards["refreshToken"], phone["installationId"])
    assert ended["code"] == "INVALID_REFRESH_TOKEN"  # reuse ended the whole session
    malformed = await refresh(onwards["refreshToken"], "not-a-uuid")
    assert (malformed["code"], malformed["field"]) == ("VALIDATION_FAILED", "installationId")


async def test_two_refreshes_at_once_from_the_app_get_one_pair(
    client: httpx.AsyncClient, settings: Settings, gql: Gql
) -> None:
    """An app that fires its refresh twice (a retry racing the first) keeps its session."""
    trial = await build_app_trial(client, settings)
    issued = await trial.gql(trial.coordinator, ISSUE_CODE, p=trial.participant)
    code = issued["data"]["issueEnrolmentCode"]["enrolment"]["code"]
    phone = (await gql(ENROL, {"c": code}))["data"]["enrolParticipant"]
    variables = {"t": phone["refreshToken"], "i": phone["installationId"]}
    bodies = await asyncio.gather(*(gql(REFRESH, variables) for _ in range(2)))
    first, second = (b["data"]["refreshSession"] for b in bodies)
    assert first["__typename"] == "RefreshSessionSuccess", first
    assert second == first
    onwards = await gql(REFRESH, {"t": first["refreshToken"], "i": phone["installationId"]})
    assert onwards["data"]["refreshSession"]["__typename"] == "RefreshSessionSuccess"
