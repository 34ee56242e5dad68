"""The offline-sync story over HTTP: collected under consent v2, v3 published, synced later:
kept and flagged; readings before an assignment quarantined and reviewed; withdrawal scope."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta, timezone
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from api.settings import Settings
from tests.clock import CLOCK
from tests.e2e.trial import (
    DUE,
    PUBLISH,
    REGISTER_DEVICE,
    SIGN_CONSENT,
    SUBMIT_DIARY,
    AppTrial,
    build_app_trial,
    diary_entry,
    heart_rate,
    open_occurrence,
)

READINGS = "mutation($i: [ReadingInput!]!) { submitReadings(input: {items: $i}) { __typename ... on SubmitReadingsSuccess { accepted quarantined results { outcome code readingId } } ... on MutationError { code } } }"
ENTRY = (
    "query($e: ID!) { node(id: $e) { ... on DiaryEntry { status consentSuperseded completedAt } } }"
)
LATEST = "query($p: ID!) { node(id: $p) { ... on Participant { subjectId readings { edges { node { id status consentSuperseded deviceTime } } } } } }"
QUARANTINED = "query($s: ID!) { quarantinedReadings(siteId: $s) { edges { node { id status quarantineCode } } } }"
ACCEPT = "mutation($r: ID!, $why: String!) { acceptQuarantinedReading(input: {readingId: $r, reason: $why}) { __typename ... on ReviewReadingSuccess { reading { status reviewedAt } } ... on MutationError { code field } } }"
WITHDRAW = 'mutation($p: ID!) { changeParticipantStatus(input: {participantId: $p, status: WITHDRAWN, reason: "No longer wants her data used", coversCollectedData: true}) { __typename ... on MutationError { code } } }'
CONSENT = "query($p: ID!) { node(id: $p) { ... on Participant { consent { current withdrawal { coversCollectedData } } } } }"


@pytest.fixture
async def trial(app: Starlette, settings: Settings) -> AsyncIterator[AppTrial]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hearth.test") as http:
        yield await build_app_trial(http, settings)


async def _publish_and_sign(trial: AppTrial, *, sign: bool = True) -> None:
    published = await trial.gql(trial.admin, PUBLISH, s=trial.study)
    version = published["data"]["publishConsentVersion"]["consentVersion"]["id"]
    if sign:
        signed = await trial.gql(trial.app, SIGN_CONSENT, v=version)
        assert signed["data"]["signConsent"]["__typename"] == "SignConsentSuccess", signed


async def _due(trial: AppTrial) -> dict[str, Any]:
    start = CLOCK.now() - timedelta(hours=2)
    return await trial.gql(
        trial.app, DUE, p=trial.participant, s=start.isoformat(), e=CLOCK.now().isoformat()
    )


async def test_collected_under_v2_synced_after_v3_is_kept_and_flagged(trial: AppTrial) -> None:
    await _publish_and_sign(trial)  # the participant signs v2
    CLOCK.advance(minutes=5)
    # Offline: she answers the open diary and her watch takes a reading; nothing is sent.
    due = await open_occurrence(lambda q, **v: trial.gql(trial.app, q, **v), trial.participant)
    entry = diary_entry(due)
    reading = heart_rate(trial.device, 66)
    reading["deviceTime"] = CLOCK.now().astimezone(timezone(timedelta(hours=2))).isoformat()
    # (Minutes, not hours: access tokens last 15 minutes.)
    CLOCK.advance(minutes=3)
    await _publish_and_sign(trial, sign=False)  # v3 is published while her phone is offline
    CLOCK.advance(minutes=4)
    reading["deviceTime"] = CLOCK.now().astimezone(timezone(timedelta(hours=2))).isoformat()
    sent = await trial.gql(trial.app, SUBMIT_DIARY, e=[entry])
    (result,) = sent["data"]["submitDiaryEntries"]["results"]
    assert (result["outcome"], result["code"]) == ("ACCEPTED", "RECONSENT_REQUIRED"), sent
    stored = await trial.gql(trial.coordinator, ENTRY, e=result["entry"]["id"])
    assert stored["data"]["node"]["consentSuperseded"] is True
    assert stored["data"]["node"]["status"] == "ACCEPTED"
    uploaded = await trial.gql(trial.app, READINGS, i=[reading])
    (outcome,) = uploaded["data"]["submitReadings"]["results"]
    assert (outcome["outcome"], outcome["code"]) == ("ACCEPTED", "RECONSENT_REQUIRED"), uploaded
    listed = await trial.gql(trial.coordinator, LATEST, p=trial.participant)
    (edge,) = listed["data"]["node"]["readings"]["edges"]
    assert edge["node"]["consentSuperseded"] is True
    assert edge["node"]["deviceTime"].endswith("+02:00")  # the device's offset, kept
    # What is due now needs the new consent first, and says so.
    refused = await _due(trial)
    assert refused["data"]["node"]["diaryDue"] is None
    assert [e["extensions"]["code"] for e in refused["errors"]] == ["CONSENT_REQUIRED"]
    await _publish_and_sign(trial)
    assert (await _due(trial))["data"]["node"]["diaryDue"] is not None


async def test_a_watch_set_up_before_its_assignment_is_reviewed_by_the_site(
    trial: AppTrial,
) -> None:
    made = await trial.gql(trial.coordinator, REGISTER_DEVICE, t=trial.site, n="SPARE-7")
    spare = made["data"]["registerDevice"]["device"]["id"]
    line = json.dumps(heart_rate(spare, 71)).encode() + b"\n"
    response = await trial.http.post(
        "/ingest/readings",
        content=line,
        headers={"content-type": "application/x-ndjson", "authorization": f"Bearer {trial.app}"},
    )
    report = response.json()
    assert (report["accepted"], report["quarantined"], report["rejected"]) == (0, 1, 0), report
    (item,) = report["results"]
    assert (item["outcome"], item["code"]) == ("QUARANTINED", "OUTSIDE_ASSIGNMENT")
    held = await trial.gql(trial.coordinator, QUARANTINED, s=trial.site)
    (edge,) = held["data"]["quarantinedReadings"]["edges"]
    assert edge["node"] == {
        "id": item["readingId"],
        "status": "QUARANTINED",
        "quarantineCode": "OUTSIDE_ASSIGNMENT",
    }
    denied = await trial.gql(trial.app, QUARANTINED, s=trial.site)
    assert denied["errors"][0]["extensions"]["code"] == "NOT_FOUND"  # not a site she can see
    blank = await trial.gql(trial.coordinator, ACCEPT, r=item["readingId"], why=" ")
    assert blank["data"]["acceptQuarantinedReading"]["code"] == "REASON_REQUIRED"
    done = await trial.gql(
        trial.coordinator, ACCEPT, r=item["readingId"], why="Set up before the assignment"
    )
    assert done["data"]["acceptQuarantinedReading"]["reading"]["status"] == "ACCEPTED", done
    after = await trial.gql(trial.coordinator, QUARANTINED, s=trial.site)
    assert after["data"]["quarantinedReadings"]["edges"] == []


async def test_a_withdrawal_covering_collected_data_is_shown_and_applied(trial: AppTrial) -> None:
    CLOCK.advance(minutes=5)
    due = await open_occurrence(lambda q, **v: trial.gql(trial.app, q, **v), trial.participant)
    entry = diary_entry(due)  # answered offline, before the withdrawal
    CLOCK.advance(minutes=5)
    withdrawn = await trial.gql(trial.coordinator, WITHDRAW, p=trial.participant)
    assert withdrawn["data"]["changeParticipantStatus"]["__typename"] != "MutationError"
    shown = await trial.gql(trial.coordinator, CONSENT, p=trial.participant)
    assert shown["data"]["node"]["consent"]["withdrawal"] == {"coversCollectedData": True}
    sent = await trial.gql(trial.app, SUBMIT_DIARY, e=[entry])
    (result,) = sent["data"]["submitDiaryEntries"]["results"]
    assert (result["outcome"], result["code"]) == ("REJECTED", "PARTICIPANT_WITHDRAWN")
