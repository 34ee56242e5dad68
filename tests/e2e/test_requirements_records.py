"""Requirements proven over HTTP: what the trail records, whose clock counts, who may change
submitted data, and what remote visits keep."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from api.relay import from_global_id
from api.settings import Settings
from domain.actors import Grant, Role
from domain.ids import SiteId, StudyId
from tests.clock import PinnedClock
from tests.e2e.conftest import PASSWORD, create_user
from tests.e2e.trial import (
    LOGIN,
    SUBMIT_DIARY,
    SUBMIT_READINGS,
    AppTrial,
    build_app_trial,
    diary_entry,
    heart_rate,
    now,
    open_occurrence,
)

DENIALS = {"FORBIDDEN", "NOT_FOUND", "UNAUTHENTICATED"}
CORRECT = "mutation($e: ID!, $c: JSON!, $r: String!) { correctDiaryEntry(input: {entryId: $e, changes: $c, reason: $r}) { __typename ... on CorrectDiaryEntrySuccess { entry { answers version } } ... on MutationError { code field } } }"
TRAIL = "query($e: String!) { auditTrail(filter: {entityId: $e}, newestFirst: true, first: 1) { edges { node { recordedAt action entityType entityId siteId participantId actor { kind id role } changes { field personal old { state value } new { state value } } reason { state value } origin { requestId appVersion deviceId deviceTime } } } } }"
ENTRY = "query($e: ID!) { node(id: $e) { ... on DiaryEntry { answers version receivedAt completedAt clockSkewed changeRequests { items reason } } } }"


@pytest.fixture
async def trial(app: Starlette, settings: Settings) -> AsyncIterator[AppTrial]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hearth.test") as http:
        yield await build_app_trial(http, settings)


async def _staff(trial: AppTrial, settings: Settings, role: Role) -> str:
    study = StudyId(from_global_id(trial.study, "Study")[1])
    site = None if role is Role.DATA_MANAGER else SiteId(from_global_id(trial.site, "Site")[1])
    email = await create_user(settings, (Grant(role, study, site),))
    body = await trial.gql(None, LOGIN, e=email, p=PASSWORD)
    token: str = body["data"]["login"]["accessToken"]
    return token


async def _post(
    trial: AppTrial, token: str, query: str, headers: dict[str, str], **variables: Any
) -> dict[str, Any]:
    response = await trial.http.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"authorization": f"Bearer {token}", **headers},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _submitted(trial: AppTrial, headers: dict[str, str] | None = None) -> str:
    """A diary entry the app sent for the open occurrence (PAIN 3); its global id."""
    due = await open_occurrence(lambda q, **v: trial.gql(trial.app, q, **v), trial.participant)
    entry = diary_entry(due)
    body = await _post(trial, trial.app, SUBMIT_DIARY, headers or {}, e=[entry])
    (result,) = body["data"]["submitDiaryEntries"]["results"]
    assert result["outcome"] == "ACCEPTED", result
    return str(result["entry"]["id"])


async def _last_event(trial: AppTrial, token: str, entity: str) -> dict[str, Any]:
    body = await trial.gql(token, TRAIL, e=str(from_global_id(entity)[1]))
    (edge,) = body["data"]["auditTrail"]["edges"]
    node: dict[str, Any] = edge["node"]
    return node


async def test_an_answer_update_records_who_what_when_why_and_where(
    trial: AppTrial, settings: Settings
) -> None:
    """Requirement 2: update an answer; the event holds who, what, when (and the device's
    clock with its offset), why and where."""
    entry = await _submitted(trial)
    device = {
        "x-device-time": "2026-06-10T11:29:10+02:00",
        "x-app-version": "console-1.2",
        "x-device-id": "desk-4",
        "x-request-id": "req-answer-update",
    }
    reason = "Participant misread the scale"
    fixed = await _post(trial, trial.coordinator, CORRECT, device, e=entry, c={"PAIN": 4}, r=reason)
    assert fixed["data"]["correctDiaryEntry"]["__typename"] == "CorrectDiaryEntrySuccess", fixed
    viewer = (await trial.gql(trial.coordinator, "{ viewer { id } }"))["data"]["viewer"]["id"]
    event = await _last_event(trial, trial.coordinator, entry)
    assert event["actor"] == {"kind": "STAFF", "id": viewer, "role": "COORDINATOR"}
    assert from_global_id(event["siteId"])[1] == from_global_id(trial.site)[1]
    assert from_global_id(event["participantId"])[1] == from_global_id(trial.participant)[1]
    assert (event["entityType"], event["action"]) == ("DiaryEntry", "corrected")
    assert event["entityId"] == str(from_global_id(entry)[1])
    assert event["changes"] == [
        {
            "field": "answers.PAIN",
            "personal": False,
            "old": {"state": "PLAIN", "value": 3},
            "new": {"state": "PLAIN", "value": 4},
        }
    ]
    assert datetime.fromisoformat(event["recordedAt"]) == now()
    assert event["recordedAt"].endswith("+00:00")
    assert event["reason"] == {"state": "REVEALED", "value": reason}
    assert event["origin"] == {
        "requestId": "req-answer-update",
        "appVersion": "console-1.2",
        "deviceId": "desk-4",
        "deviceTime": "2026-06-10T11:29:10+02:00",
    }


async def test_server_times_come_from_the_server_clock_not_the_client(
    trial: AppTrial, clock: PinnedClock
) -> None:
    """Requirement 17: a client that claims another time changes no server timestamp."""
    lying = {"x-device-time": "2020-01-01T00:00:00+05:00"}
    entry = await _submitted(trial, lying)
    shown = (await trial.gql(trial.coordinator, ENTRY, e=entry))["data"]["node"]
    assert datetime.fromisoformat(shown["receivedAt"]) == now()
    assert shown["receivedAt"].endswith("+00:00")
    event = await _last_event(trial, trial.coordinator, entry)
    assert datetime.fromisoformat(event["recordedAt"]) == now()
    assert event["origin"]["deviceTime"] == "2020-01-01T00:00:00+05:00"  # kept as a claim
    clock.advance(minutes=7)
    later = await _post(
        trial, trial.coordinator, CORRECT, lying, e=entry, c={"PAIN": 5}, r="Checked the source"
    )
    assert later["data"]["correctDiaryEntry"]["__typename"] == "CorrectDiaryEntrySuccess"
    corrected = await _last_event(trial, trial.coordinator, entry)
    assert datetime.fromisoformat(corrected["recordedAt"]) == now()
    naive = await trial.http.post(
        "/graphql",
        json={"query": "{ viewer { kind } }"},
        headers={"x-device-time": "2026-06-10T09:30:00"},
    )
    assert naive.status_code == 400  # a client time without an offset is refused outright


async def test_device_clock_skew_is_accepted_but_flagged(trial: AppTrial) -> None:
    """Requirement 20: readings and diaries from a device whose clock is off are kept, flagged."""
    skewed = heart_rate(trial.device, 70) | {"deviceTime": (now() - timedelta(hours=2)).isoformat()}
    on_time = heart_rate(trial.device, 71) | {"deviceTime": now().isoformat()}
    body = await trial.gql(trial.app, SUBMIT_READINGS, i=[skewed, on_time])
    assert [r["outcome"] for r in body["data"]["submitReadings"]["results"]] == ["ACCEPTED"] * 2
    listed = await trial.gql(
        trial.coordinator,
        "query($p: ID!) { node(id: $p) { ... on Participant { readings { edges { node { sourceId clockSkewed } } } } } }",
        p=trial.participant,
    )
    flags = {
        e["node"]["sourceId"]: e["node"]["clockSkewed"]
        for e in listed["data"]["node"]["readings"]["edges"]
    }
    assert flags == {skewed["sourceId"]: True, on_time["sourceId"]: False}
    behind = {"x-device-time": (now() - timedelta(minutes=40)).isoformat()}
    entry = await _submitted(trial, behind)
    assert (await trial.gql(trial.coordinator, ENTRY, e=entry))["data"]["node"]["clockSkewed"]


async def test_only_site_staff_change_submitted_diaries_and_only_with_a_reason(
    trial: AppTrial, settings: Settings
) -> None:
    """Requirement 25: sponsors, monitors, administrators and the app cannot change a
    submitted entry; site staff can, through a change request with a reason."""
    entry = await _submitted(trial)
    readers = [
        await _staff(trial, settings, Role.DATA_MANAGER),
        await _staff(trial, settings, Role.MONITOR),
        trial.admin,
        trial.app,
    ]
    for token in readers:
        refused = await trial.gql(token, CORRECT, e=entry, c={"PAIN": 9}, r="Looks wrong")
        assert refused["data"]["correctDiaryEntry"]["code"] in DENIALS, refused
    blank = await trial.gql(trial.coordinator, CORRECT, e=entry, c={"PAIN": 9}, r="  ")
    assert blank["data"]["correctDiaryEntry"] == {
        "__typename": "MutationError",
        "code": "REASON_REQUIRED",
        "field": "reason",
    }
    unchanged = (await trial.gql(trial.coordinator, ENTRY, e=entry))["data"]["node"]
    assert (unchanged["answers"], unchanged["version"], unchanged["changeRequests"]) == (
        {"PAIN": 3},
        1,
        [],
    )
    done = await trial.gql(trial.coordinator, CORRECT, e=entry, c={"PAIN": 4}, r="Misread scale")
    assert done["data"]["correctDiaryEntry"]["entry"] == {"answers": {"PAIN": 4}, "version": 2}
    shown = (await trial.gql(trial.coordinator, ENTRY, e=entry))["data"]["node"]
    assert shown["changeRequests"] == [{"items": ["PAIN"], "reason": "Misread scale"}]


CREATE_DEFINITION = 'mutation($s: ID!) { createVisitDefinition(input: {studyId: $s, code: "HV", name: "Home visit", day: 2, windowBefore: 1, windowAfter: 1, modes: [HOME_NURSE, PHONE]}) { ... on CreateVisitDefinitionSuccess { visitDefinition { id } } } }'
SCHEDULE = "mutation($p: ID!, $d: ID!, $m: ContactMode!, $t: String!) { scheduleVisit(input: {participantId: $p, visitDefinitionId: $d, mode: $m, localStart: $t}) { __typename ... on VisitSuccess { visit { id } } ... on MutationError { code field } } }"
COMPLETE = 'mutation($v: ID!, $o: VisitOutcome!) { completeVisit(input: {visitId: $v, outcome: $o, notes: "Blood drawn, scale broken"}) { __typename ... on MutationError { code } } }'
FIRST_EVENT = "query($e: String!) { auditTrail(filter: {entityId: $e}, first: 1) { edges { node { changes { field new { value } } } } } }"
VISIT = "query($v: ID!) { node(id: $v) { ... on Visit { mode status outcome completedAt } } }"


async def test_remote_visits_keep_their_contact_mode_and_outcome(trial: AppTrial) -> None:
    """Requirement 28: the contact mode and the outcome are recorded, shown and audited."""
    made = await trial.gql(trial.admin, CREATE_DEFINITION, s=trial.study)
    definition = made["data"]["createVisitDefinition"]["visitDefinition"]["id"]
    visits = {}
    for mode, day in (("HOME_NURSE", "2026-06-12T10:00"), ("PHONE", "2026-06-12T15:00")):
        body = await trial.gql(
            trial.coordinator, SCHEDULE, p=trial.participant, d=definition, m=mode, t=day
        )
        visits[mode] = body["data"]["scheduleVisit"]["visit"]["id"]
    unplanned = await trial.gql(
        trial.coordinator,
        SCHEDULE,
        p=trial.participant,
        d=definition,
        m="VIDEO",
        t="2026-06-12T11:00",
    )
    assert unplanned["data"]["scheduleVisit"]["__typename"] == "MutationError"
    outcomes = {"HOME_NURSE": "PARTIALLY_DONE", "PHONE": "PARTICIPANT_UNREACHABLE"}
    for mode, outcome in outcomes.items():
        done = await trial.gql(trial.coordinator, COMPLETE, v=visits[mode], o=outcome)
        assert done["data"]["completeVisit"]["__typename"] == "VisitSuccess", done
    for mode, outcome in outcomes.items():
        shown = (await trial.gql(trial.coordinator, VISIT, v=visits[mode]))["data"]["node"]
        assert (shown["mode"], shown["status"], shown["outcome"]) == (mode, "COMPLETED", outcome)
        assert datetime.fromisoformat(shown["completedAt"]) == now()
        event = await _last_event(trial, trial.coordinator, visits[mode])
        logged = {c["field"]: c["new"]["value"] for c in event["changes"]}
        assert logged["outcome"] == outcome
        created = await trial.gql(
            trial.coordinator, FIRST_EVENT, e=str(from_global_id(visits[mode])[1])
        )
        (scheduled,) = created["data"]["auditTrail"]["edges"]
        assert {"field": "mode", "new": {"value": mode}} in scheduled["node"]["changes"]
