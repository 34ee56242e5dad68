"""Visit rules over HTTP: reschedule keeps the assignee unless told, start-time rules refuse."""

from __future__ import annotations

import uuid

import httpx
import pytest

from api.relay import to_global_id
from api.settings import Settings
from tests.clock import PinnedClock
from tests.e2e.trial import AppTrial, build_app_trial

DEFINE = 'mutation($s: ID!, $d: Int!) { createVisitDefinition(input: {studyId: $s, code: "V", name: "Visit", day: $d, windowBefore: 1, windowAfter: 1, modes: [VIDEO]}) { ... on CreateVisitDefinitionSuccess { visitDefinition { id } } } }'
SCHEDULE = "mutation($p: ID!, $d: ID!, $t: String!, $a: ID, $r: String) { scheduleVisit(input: {participantId: $p, visitDefinitionId: $d, mode: VIDEO, localStart: $t, assigneeId: $a, reason: $r}) { __typename ... on VisitSuccess { visit { id assigneeId localStart } } ... on MutationError { code field } } }"
MOVE = 'mutation($v: ID!, $t: String!) { rescheduleVisit(input: {visitId: $v, localStart: $t, reason: "asked"}) { __typename ... on VisitSuccess { visit { assigneeId localStart } } ... on MutationError { code field } } }'
MOVE_UNASSIGNED = 'mutation($v: ID!, $t: String!) { rescheduleVisit(input: {visitId: $v, localStart: $t, assigneeId: null, reason: "nurse away"}) { __typename ... on VisitSuccess { visit { assigneeId localStart } } ... on MutationError { code field } } }'


@pytest.fixture
async def trial(client: httpx.AsyncClient, settings: Settings) -> AppTrial:
    return await build_app_trial(client, settings)


async def _definition(trial: AppTrial, day: int) -> str:
    made = await trial.gql(trial.admin, DEFINE, s=trial.study, d=day)
    return str(made["data"]["createVisitDefinition"]["visitDefinition"]["id"])


async def test_reschedule_keeps_the_assignee_unless_told_otherwise(trial: AppTrial) -> None:
    viewer = await trial.gql(trial.coordinator, "{ viewer { id } }")
    me = to_global_id("StaffUser", uuid.UUID(viewer["data"]["viewer"]["id"]))
    definition = await _definition(trial, 7)
    made = await trial.gql(
        trial.coordinator, SCHEDULE, p=trial.participant, d=definition, t="2026-06-17T10:00", a=me
    )
    visit = made["data"]["scheduleVisit"]["visit"]
    assert visit["assigneeId"] == me
    moved = await trial.gql(trial.coordinator, MOVE, v=visit["id"], t="2026-06-18T10:00")
    assert moved["data"]["rescheduleVisit"]["visit"] == {
        "assigneeId": me,
        "localStart": "2026-06-18T10:00:00",
    }
    cleared = await trial.gql(
        trial.coordinator, MOVE_UNASSIGNED, v=visit["id"], t="2026-06-18T11:00"
    )
    assert cleared["data"]["rescheduleVisit"]["visit"]["assigneeId"] is None


async def test_start_times_the_timeline_rules_out_are_refused(
    trial: AppTrial, clock: PinnedClock
) -> None:
    """The participant was registered and enrolled at the pinned time, 2026-06-10 11:30 in
    Berlin; the day-7 definition keeps its day-based rules for the unit tests."""
    definition = await _definition(trial, 7)

    async def schedule(when: str, reason: str | None = None) -> dict[str, str]:
        body = await trial.gql(
            trial.coordinator, SCHEDULE, p=trial.participant, d=definition, t=when, r=reason
        )
        result: dict[str, str] = body["data"]["scheduleVisit"]
        return result

    before = await schedule("2026-06-09T10:00", reason="entered late")
    assert (before["code"], before["field"]) == ("VISIT_BEFORE_REGISTRATION", "localStart")
    clock.advance(minutes=10)  # 11:40 in Berlin: a visit at 11:35 is in the past
    past = await schedule("2026-06-10T11:35")
    assert (past["code"], past["field"]) == ("REASON_REQUIRED", "reason")
    recorded = await schedule("2026-06-10T11:35", reason="Held by phone, entered afterwards")
    assert recorded["__typename"] == "VisitSuccess"
    listed = await trial.gql(
        trial.coordinator,
        "query($p: ID!) { node(id: $p) { ... on Participant { visits { edges { node { localStart } } } } } }",
        p=trial.participant,
    )
    edges = listed["data"]["node"]["visits"]["edges"]
    assert [e["node"]["localStart"] for e in edges] == ["2026-06-10T11:35:00"]
