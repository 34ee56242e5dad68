"""Coded reasons for change over GraphQL: a reschedule and a cancellation carry the code a
client sends, or OTHER when an older client sends only the free text; monitors see the code
in the audit trail, the free text stays sealed and site-only; an unknown code is refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from api.relay import from_global_id
from api.settings import Settings
from domain.actors import Grant, Role
from domain.ids import SiteId, StudyId
from tests.e2e.conftest import PASSWORD, create_user
from tests.e2e.trial import LOGIN, AppTrial, build_app_trial

DEFINE = 'mutation($s: ID!) { createVisitDefinition(input: {studyId: $s, code: "RC", name: "Week 1", day: 7, windowBefore: 1, windowAfter: 1, modes: [VIDEO]}) { ... on CreateVisitDefinitionSuccess { visitDefinition { id } } } }'
SCHEDULE = 'mutation($p: ID!, $d: ID!) { scheduleVisit(input: {participantId: $p, visitDefinitionId: $d, mode: VIDEO, localStart: "2026-06-17T10:00"}) { ... on VisitSuccess { visit { id } } } }'
MOVE_CODED = 'mutation($v: ID!) { rescheduleVisit(input: {visitId: $v, localStart: "2026-06-18T10:00", reason: "She asked for Thursday", reasonCode: PARTICIPANT_CLARIFICATION}) { __typename ... on MutationError { code } } }'
MOVE_TEXT_ONLY = 'mutation($v: ID!) { rescheduleVisit(input: {visitId: $v, localStart: "2026-06-17T11:00", reason: "Nurse late"}) { __typename ... on MutationError { code } } }'
MOVE_BAD = 'mutation($v: ID!) { rescheduleVisit(input: {visitId: $v, localStart: "2026-06-17T12:00", reason: "x", reasonCode: BECAUSE}) { __typename } }'
CANCEL = 'mutation($v: ID!) { cancelVisit(input: {visitId: $v, reason: "Tablet broken", reasonCode: DEVICE_ERROR}) { __typename ... on MutationError { code } } }'
TRAIL = "query($id: String!) { auditTrail(filter: {entityId: $id}) { edges { node { action reasonCode reason { state value } } } } }"


@pytest.fixture(scope="module")
async def trial(app: Starlette, settings: Settings) -> AsyncIterator[AppTrial]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hearth.test") as http:
        yield await build_app_trial(http, settings)


async def _monitor(trial: AppTrial, settings: Settings) -> str:
    study = StudyId(from_global_id(trial.study, "Study")[1])
    site = SiteId(from_global_id(trial.site, "Site")[1])
    email = await create_user(settings, (Grant(Role.MONITOR, study, site),))
    body = await trial.gql(None, LOGIN, e=email, p=PASSWORD)
    token: str = body["data"]["login"]["accessToken"]
    return token


def _events(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["node"] for e in body["data"]["auditTrail"]["edges"]]


async def test_codes_go_with_every_change_and_the_free_text_stays_site_only(
    trial: AppTrial, settings: Settings
) -> None:
    defined = await trial.gql(trial.admin, DEFINE, s=trial.study)
    definition = defined["data"]["createVisitDefinition"]["visitDefinition"]["id"]
    made = await trial.gql(trial.coordinator, SCHEDULE, p=trial.participant, d=definition)
    visit = made["data"]["scheduleVisit"]["visit"]["id"]

    for mutation in (MOVE_CODED, MOVE_TEXT_ONLY, CANCEL):
        body = await trial.gql(trial.coordinator, mutation, v=visit)
        name = next(iter(body["data"]))
        assert body["data"][name]["__typename"] == "VisitSuccess", body
    refused = await trial.gql(trial.coordinator, MOVE_BAD, v=visit)
    assert "errors" in refused  # not one of the study's codes

    entity = str(from_global_id(visit)[1])
    monitor = _events(await trial.gql(await _monitor(trial, settings), TRAIL, id=entity))
    assert [(e["action"], e["reasonCode"]) for e in monitor] == [
        ("created", None),
        ("rescheduled", "PARTICIPANT_CLARIFICATION"),
        ("rescheduled", "OTHER"),  # an older client: free text only
        ("cancelled", "DEVICE_ERROR"),
    ]
    assert all(e["reason"] is None or e["reason"]["state"] == "WITHHELD" for e in monitor)
    site = _events(await trial.gql(trial.coordinator, TRAIL, id=entity))
    assert [e["reason"]["value"] for e in site[1:]] == [
        "She asked for Thursday",
        "Nurse late",
        "Tablet broken",
    ]


SET_CODES = 'mutation($s: ID!, $c: [ReasonCode!]!) { setStudyReasonCodes(input: {studyId: $s, reasonCodes: $c, reason: "SOP v2"}) { __typename ... on StudySuccess { study { reasonCodes } } ... on MutationError { code field } } }'
STUDY_CODES = "query($s: ID!) { study(id: $s) { reasonCodes } }"
DEFINE_OTHER = 'mutation($s: ID!) { createVisitDefinition(input: {studyId: $s, code: "RD", name: "Week 2", day: 14, windowBefore: 1, windowAfter: 1, modes: [VIDEO]}) { ... on CreateVisitDefinitionSuccess { visitDefinition { id } } } }'
SCHEDULE_OTHER = 'mutation($p: ID!, $d: ID!) { scheduleVisit(input: {participantId: $p, visitDefinitionId: $d, mode: VIDEO, localStart: "2026-06-24T10:00"}) { ... on VisitSuccess { visit { id } } } }'
MOVE = 'mutation($v: ID!, $c: ReasonCode!) { rescheduleVisit(input: {visitId: $v, localStart: "2026-06-25T10:00", reason: "Clinic closed", reasonCode: $c}) { __typename ... on MutationError { code field } } }'
VISIT = "query($v: ID!) { node(id: $v) { ... on Visit { localStart version } } }"
CHANGES = "query($id: String!) { auditTrail(filter: {entityId: $id}) { edges { node { action changes { field } } } } }"
DEFAULT = ["TRANSCRIPTION_ERROR", "PARTICIPANT_CLARIFICATION", "DEVICE_ERROR", "OTHER"]


async def _staff(trial: AppTrial, settings: Settings, role: Role) -> str:
    study = StudyId(from_global_id(trial.study, "Study")[1])
    site = SiteId(from_global_id(trial.site, "Site")[1])
    email = await create_user(settings, (Grant(role, study, site),))
    body = await trial.gql(None, LOGIN, e=email, p=PASSWORD)
    token: str = body["data"]["login"]["accessToken"]
    return token


async def test_a_study_allows_its_own_list_and_refuses_other_codes(
    trial: AppTrial, settings: Settings
) -> None:
    shown = await trial.gql(trial.coordinator, STUDY_CODES, s=trial.study)
    assert shown["data"]["study"]["reasonCodes"] == DEFAULT  # what every study had before

    for codes, error in (
        ([], "REASON_CODES_EMPTY"),
        (["SITE_REQUEST", "SITE_REQUEST", "OTHER"], "REASON_CODE_REPEATED"),
        (["SITE_REQUEST"], "REASON_CODE_OTHER_REQUIRED"),
    ):
        refused = await trial.gql(trial.coordinator, SET_CODES, s=trial.study, c=codes)
        result = refused["data"]["setStudyReasonCodes"]
        assert (result["code"], result["field"]) == (error, "reasonCodes"), refused
    for role in (Role.INVESTIGATOR, Role.MONITOR):
        token = await _staff(trial, settings, role)
        denied = await trial.gql(token, SET_CODES, s=trial.study, c=["OTHER"])
        assert denied["data"]["setStudyReasonCodes"]["code"] == "FORBIDDEN", denied

    body = await trial.gql(trial.coordinator, SET_CODES, s=trial.study, c=["OTHER", "SITE_REQUEST"])
    study = body["data"]["setStudyReasonCodes"]["study"]
    assert study["reasonCodes"] == ["SITE_REQUEST", "OTHER"]  # the catalogue's order
    study_id = str(from_global_id(trial.study, "Study")[1])
    trail = _events(await trial.gql(trial.admin, CHANGES, id=study_id))
    assert [e["action"] for e in trail] == ["created", "reason_codes_set"]
    assert trail[-1]["changes"] == [{"field": "reasonCodes"}]

    defined = await trial.gql(trial.admin, DEFINE_OTHER, s=trial.study)
    definition = defined["data"]["createVisitDefinition"]["visitDefinition"]["id"]
    made = await trial.gql(trial.coordinator, SCHEDULE_OTHER, p=trial.participant, d=definition)
    visit = made["data"]["scheduleVisit"]["visit"]["id"]
    before = await trial.gql(trial.coordinator, VISIT, v=visit)

    refused = await trial.gql(trial.coordinator, MOVE, v=visit, c="TRANSCRIPTION_ERROR")
    result = refused["data"]["rescheduleVisit"]
    assert (result["code"], result["field"]) == ("VALIDATION_FAILED", "reasonCode"), refused
    assert await trial.gql(trial.coordinator, VISIT, v=visit) == before  # nothing stored
    entity = str(from_global_id(visit)[1])
    assert [
        e["action"] for e in _events(await trial.gql(trial.coordinator, CHANGES, id=entity))
    ] == ["created"]

    moved = await trial.gql(trial.coordinator, MOVE, v=visit, c="SITE_REQUEST")
    assert moved["data"]["rescheduleVisit"]["__typename"] == "VisitSuccess", moved
    monitor = _events(await trial.gql(await _monitor(trial, settings), TRAIL, id=entity))
    assert [(e["action"], e["reasonCode"]) for e in monitor] == [
        ("created", None),
        ("rescheduled", "SITE_REQUEST"),
    ]

    restored = await trial.gql(trial.admin, SET_CODES, s=trial.study, c=DEFAULT)
    assert restored["data"]["setStudyReasonCodes"]["study"]["reasonCodes"] == DEFAULT
