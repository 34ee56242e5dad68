"""Protocol deviations over GraphQL: recorded by staff, resolved, reclassified with a reason
code; raised automatically when a visit is completed out of its window or without its
assessments, once per visit, in the visit's own transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from api.relay import from_global_id
from api.settings import Settings
from tests.e2e.trial import AppTrial, build_app_trial

FIELDS = "id category severity term occurredOn source triggerType triggerId status resolution resolvedAt reasonCode version participantId"
RESULT = f"__typename ... on DeviationSuccess {{ deviation {{ {FIELDS} }} }} ... on MutationError {{ code field }}"
RECORD = f"mutation($p: ID!, $c: DeviationCategory!, $s: DeviationSeverity!, $t: String!, $o: String) {{ recordDeviation(input: {{participantId: $p, category: $c, severity: $s, term: $t, occurredOn: $o}}) {{ {RESULT} }} }}"
RESOLVE = f"mutation($d: ID!, $v: Int!, $r: String!) {{ resolveDeviation(input: {{deviationId: $d, version: $v, resolution: $r}}) {{ {RESULT} }} }}"
RECLASSIFY = f"mutation($d: ID!, $v: Int!, $c: DeviationCategory!, $s: DeviationSeverity!, $rc: ReasonCode!, $r: String) {{ reclassifyDeviation(input: {{deviationId: $d, version: $v, category: $c, severity: $s, reasonCode: $rc, reason: $r}}) {{ {RESULT} }} }}"
LIST = f"query($p: ID!) {{ protocolDeviations(participantId: $p) {{ {FIELDS} }} }}"
NODE = "query($d: ID!) { node(id: $d) { ... on ProtocolDeviation { id term } } }"
DEFINE = 'mutation($s: ID!, $c: String!) { createVisitDefinition(input: {studyId: $s, code: $c, name: "Week 1", day: 7, windowBefore: 1, windowAfter: 1, modes: [VIDEO]}) { ... on CreateVisitDefinitionSuccess { visitDefinition { id } } } }'
SCHEDULE = 'mutation($p: ID!, $d: ID!, $t: String!) { scheduleVisit(input: {participantId: $p, visitDefinitionId: $d, mode: VIDEO, localStart: $t, reason: "participant away"}) { __typename ... on VisitSuccess { visit { id } } ... on MutationError { code field } } }'
COMPLETE = "mutation($v: ID!, $o: VisitOutcome!) { completeVisit(input: {visitId: $v, outcome: $o}) { __typename ... on MutationError { code } } }"
TRAIL = "query($id: String!) { auditTrail(filter: {entityId: $id}) { edges { node { action reason { state value } changes { field new { value } } } } } }"


@pytest.fixture(scope="module")
async def trial(app: Starlette, settings: Settings) -> AsyncIterator[AppTrial]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hearth.test") as http:
        yield await build_app_trial(http, settings)


def _deviation(body: dict[str, Any], name: str) -> dict[str, Any]:
    result: dict[str, Any] = body["data"][name]
    assert result["__typename"] == "DeviationSuccess", body
    found: dict[str, Any] = result["deviation"]
    return found


async def _listed(trial: AppTrial) -> list[dict[str, Any]]:
    body = await trial.gql(trial.coordinator, LIST, p=trial.participant)
    found: list[dict[str, Any]] = body["data"]["protocolDeviations"]
    return found


async def test_staff_record_resolve_and_reclassify_with_a_reason_code(trial: AppTrial) -> None:
    made = _deviation(
        await trial.gql(
            trial.coordinator,
            RECORD,
            p=trial.participant,
            c="STUDY_PROCEDURE",
            s="MINOR",
            t="Blood pressure taken seated instead of supine",
            o="2026-06",
        ),
        "recordDeviation",
    )
    assert (made["source"], made["status"], made["occurredOn"]) == ("STAFF", "OPEN", "2026-06")
    assert made["triggerType"] is None
    node = await trial.gql(trial.coordinator, NODE, d=made["id"])
    assert node["data"]["node"]["term"] == "Blood pressure taken seated instead of supine"

    resolved = _deviation(
        await trial.gql(
            trial.coordinator, RESOLVE, d=made["id"], v=1, r="Site retrained on the procedure"
        ),
        "resolveDeviation",
    )
    assert (resolved["status"], resolved["resolution"]) == (
        "RESOLVED",
        "Site retrained on the procedure",
    )
    assert resolved["resolvedAt"] is not None
    again = await trial.gql(trial.coordinator, RESOLVE, d=made["id"], v=2, r="Again")
    assert again["data"]["resolveDeviation"]["code"] == "INVALID_TRANSITION"
    stale = await trial.gql(
        trial.coordinator, RECLASSIFY, d=made["id"], v=1, c="OTHER", s="MAJOR", rc="OTHER", r=None
    )
    assert stale["data"]["reclassifyDeviation"]["code"] == "STALE_VERSION"

    changed = _deviation(
        await trial.gql(
            trial.coordinator,
            RECLASSIFY,
            d=made["id"],
            v=2,
            c="STUDY_PROCEDURE",
            s="MAJOR",
            rc="TRANSCRIPTION_ERROR",
            r="Severity mistyped",
        ),
        "reclassifyDeviation",
    )
    assert (changed["severity"], changed["reasonCode"], changed["version"]) == (
        "MAJOR",
        "TRANSCRIPTION_ERROR",
        3,
    )
    trail = await trial.gql(trial.admin, TRAIL, id=str(from_global_id(made["id"])[1]))
    events = [e["node"] for e in trail["data"]["auditTrail"]["edges"]]
    assert [e["action"] for e in events] == ["created", "resolved", "reclassified"]
    codes = [c["new"]["value"] for c in events[2]["changes"] if c["field"] == "reasonCode"]
    assert codes == ["TRANSCRIPTION_ERROR"]


@pytest.mark.parametrize(
    ("change", "field"),
    [({"t": "  "}, "term"), ({"o": "2026-02-30"}, "occurredOn")],
)
async def test_bad_input_is_refused_with_a_field_and_stores_nothing(
    trial: AppTrial, change: dict[str, Any], field: str
) -> None:
    before = await _listed(trial)
    given = {"p": trial.participant, "c": "OTHER", "s": "MINOR", "t": "Late", "o": None, **change}
    body = await trial.gql(trial.coordinator, RECORD, **given)
    assert body["data"]["recordDeviation"] == {
        "__typename": "MutationError",
        "code": "VALIDATION_FAILED",
        "field": field,
    }
    assert await _listed(trial) == before


async def test_a_visit_completed_out_of_window_and_not_done_raises_both_once(
    trial: AppTrial,
) -> None:
    """Enrolled 2026-06-10: a day-7 visit with a one-day window belongs on 06-16..06-18."""
    defined = await trial.gql(trial.admin, DEFINE, s=trial.study, c="W1")
    definition = defined["data"]["createVisitDefinition"]["visitDefinition"]["id"]
    late = await trial.gql(
        trial.coordinator, SCHEDULE, p=trial.participant, d=definition, t="2026-06-25T10:00"
    )
    visit = late["data"]["scheduleVisit"]["visit"]["id"]
    before = await _listed(trial)
    done = await trial.gql(trial.coordinator, COMPLETE, v=visit, o="NOT_DONE")
    assert done["data"]["completeVisit"]["__typename"] == "VisitSuccess", done
    raised = [d for d in await _listed(trial) if d not in before]
    assert {(d["category"], d["severity"]) for d in raised} == {
        ("VISIT_WINDOW", "MINOR"),
        ("MISSED_ASSESSMENT", "MAJOR"),
    }
    for d in raised:
        assert (d["source"], d["status"], d["occurredOn"]) == ("AUTOMATIC", "OPEN", "2026-06-25")
        assert (d["triggerType"], d["triggerId"]) == ("Visit", visit)
    again = await trial.gql(trial.coordinator, COMPLETE, v=visit, o="DONE")
    assert again["data"]["completeVisit"]["code"] == "INVALID_TRANSITION"
    assert len(await _listed(trial)) == len(before) + 2
    window = next(d for d in raised if d["category"] == "VISIT_WINDOW")
    trail = await trial.gql(trial.admin, TRAIL, id=str(from_global_id(window["id"])[1]))
    assert [e["node"]["action"] for e in trail["data"]["auditTrail"]["edges"]] == ["raised"]


async def test_a_visit_done_in_its_window_raises_nothing(trial: AppTrial) -> None:
    defined = await trial.gql(trial.admin, DEFINE, s=trial.study, c="W1B")
    definition = defined["data"]["createVisitDefinition"]["visitDefinition"]["id"]
    on_time = await trial.gql(
        trial.coordinator, SCHEDULE, p=trial.participant, d=definition, t="2026-06-17T10:00"
    )
    visit = on_time["data"]["scheduleVisit"]["visit"]["id"]
    before = await _listed(trial)
    done = await trial.gql(trial.coordinator, COMPLETE, v=visit, o="DONE")
    assert done["data"]["completeVisit"]["__typename"] == "VisitSuccess", done
    assert await _listed(trial) == before
