"""Concomitant medications over GraphQL: reported by the participant, confirmed and coded by
the site, corrected with a reason code, signed, queried; bad input refused with a field."""

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

FIELDS = "id status reportedByParticipant name drugCode codedName dose doseUnit route frequency start end ongoing indication reasonCode version"
RESULT = f"__typename ... on MedicationSuccess {{ medication {{ {FIELDS} }} }} ... on MutationError {{ code field }}"
REPORT = f"mutation($p: ID!, $m: MedicationInput!) {{ reportMedication(input: {{participantId: $p, medication: $m}}) {{ {RESULT} }} }}"
RECORD = f"mutation($p: ID!, $m: MedicationInput!) {{ recordMedication(input: {{participantId: $p, medication: $m}}) {{ {RESULT} }} }}"
CONFIRM = f"mutation($a: ID!, $v: Int!, $m: MedicationInput!) {{ confirmMedication(input: {{medicationId: $a, version: $v, medication: $m}}) {{ {RESULT} }} }}"
CORRECT = f"mutation($a: ID!, $v: Int!, $m: MedicationInput!, $c: ReasonCode!, $r: String) {{ correctMedication(input: {{medicationId: $a, version: $v, medication: $m, reasonCode: $c, reason: $r}}) {{ {RESULT} }} }}"
NODE = f"query($a: ID!) {{ node(id: $a) {{ ... on ConcomitantMedication {{ {FIELDS} }} }} }}"
LIST = "query($p: ID!) { concomitantMedications(participantId: $p) { id name } }"
SIGN = "mutation($r: ID!, $p: String!) { signRecord(input: {recordId: $r, meaning: RESPONSIBILITY, password: $p}) { __typename ... on MutationError { code field } } }"
SIGNATURES = "query($a: ID!) { node(id: $a) { ... on ConcomitantMedication { signatures { meaning valid recordVersion } } } }"
RAISE = 'mutation($r: ID!) { raiseQuery(input: {recordId: $r, field: "dose", question: "500 mg or 1 g?"}) { __typename ... on DataQuerySuccess { query { recordType field status } } ... on MutationError { code } } }'
TRAIL = "query($id: String!) { auditTrail(filter: {entityId: $id}) { edges { node { action reason { state value } changes { field new { value } } } } } }"

AS_TOLD = {
    "name": "paracetamol",
    "dose": "500",
    "doseUnit": "mg",
    "start": "2026-05",
    "ongoing": True,
}
CODED = {
    **AS_TOLD,
    "drugCode": "000200010010",
    "codedName": "PARACETAMOL",
    "route": "ORAL",
    "frequency": "PRN",
    "indication": "Headache",
}


@pytest.fixture(scope="module")
async def trial(app: Starlette, settings: Settings) -> AsyncIterator[AppTrial]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hearth.test") as http:
        yield await build_app_trial(http, settings)


async def _staff(trial: AppTrial, settings: Settings, role: Role) -> str:
    study = StudyId(from_global_id(trial.study, "Study")[1])
    site = SiteId(from_global_id(trial.site, "Site")[1])
    email = await create_user(settings, (Grant(role, study, site),))
    body = await trial.gql(None, LOGIN, e=email, p=PASSWORD)
    token: str = body["data"]["login"]["accessToken"]
    return token


def _medication(body: dict[str, Any], name: str) -> dict[str, Any]:
    result: dict[str, Any] = body["data"][name]
    assert result["__typename"] == "MedicationSuccess", body
    medication: dict[str, Any] = result["medication"]
    return medication


async def test_participant_reports_site_codes_corrects_signs_and_a_monitor_queries(
    trial: AppTrial, settings: Settings
) -> None:
    told = {**AS_TOLD, "drugCode": "999"}  # the app cannot code: the site does
    reported = _medication(
        await trial.gql(trial.app, REPORT, p=trial.participant, m=told), "reportMedication"
    )
    assert (reported["status"], reported["reportedByParticipant"]) == ("REPORTED", True)
    assert (reported["name"], reported["dose"], reported["doseUnit"]) == (
        "paracetamol",
        "500",
        "mg",
    )
    assert reported["drugCode"] is None

    confirmed = _medication(
        await trial.gql(trial.coordinator, CONFIRM, a=reported["id"], v=1, m=CODED),
        "confirmMedication",
    )
    assert confirmed["status"] == "RECORDED"
    assert (confirmed["drugCode"], confirmed["codedName"], confirmed["route"]) == (
        "000200010010",
        "PARACETAMOL",
        "ORAL",
    )
    assert confirmed["version"] == 2

    again = await trial.gql(trial.coordinator, CONFIRM, a=reported["id"], v=2, m=CODED)
    assert again["data"]["confirmMedication"]["code"] == "INVALID_TRANSITION"
    stale = await trial.gql(
        trial.coordinator, CORRECT, a=reported["id"], v=1, m=CODED, c="OTHER", r=None
    )
    assert stale["data"]["correctMedication"]["code"] == "STALE_VERSION"

    corrected = _medication(
        await trial.gql(
            trial.coordinator,
            CORRECT,
            a=reported["id"],
            v=2,
            m={**CODED, "dose": "1000", "ongoing": False, "end": "2026-06-10"},
            c="PARTICIPANT_CLARIFICATION",
            r="She takes two tablets",
        ),
        "correctMedication",
    )
    assert (corrected["dose"], corrected["end"], corrected["ongoing"]) == (
        "1000",
        "2026-06-10",
        False,
    )
    assert (corrected["reasonCode"], corrected["version"]) == ("PARTICIPANT_CLARIFICATION", 3)

    node = await trial.gql(trial.coordinator, NODE, a=reported["id"])
    assert node["data"]["node"]["dose"] == "1000"
    listed = await trial.gql(trial.coordinator, LIST, p=trial.participant)
    assert {"id": reported["id"], "name": "paracetamol"} in listed["data"]["concomitantMedications"]

    investigator = await _staff(trial, settings, Role.INVESTIGATOR)
    signed = await trial.gql(investigator, SIGN, r=reported["id"], p=PASSWORD)
    assert signed["data"]["signRecord"]["__typename"] == "SignRecordSuccess", signed
    shown = await trial.gql(investigator, SIGNATURES, a=reported["id"])
    assert shown["data"]["node"]["signatures"] == [
        {"meaning": "RESPONSIBILITY", "valid": True, "recordVersion": 3}
    ]

    monitor = await _staff(trial, settings, Role.MONITOR)
    raised = await trial.gql(monitor, RAISE, r=reported["id"])
    assert raised["data"]["raiseQuery"]["query"] == {
        "recordType": "ConcomitantMedication",
        "field": "dose",
        "status": "OPEN",
    }
    refused = await trial.gql(monitor, CORRECT, a=reported["id"], v=3, m=CODED, c="OTHER", r=None)
    assert refused["data"]["correctMedication"]["code"] == "FORBIDDEN"

    trail = await trial.gql(monitor, TRAIL, id=str(from_global_id(reported["id"])[1]))
    events = [e["node"] for e in trail["data"]["auditTrail"]["edges"]]
    assert [e["action"] for e in events] == ["created", "confirmed", "corrected", "signed"]
    correction = events[2]
    codes = [c["new"]["value"] for c in correction["changes"] if c["field"] == "reasonCode"]
    assert codes == ["PARTICIPANT_CLARIFICATION"]
    assert correction["reason"]["state"] == "WITHHELD"  # sealed free text: site-only
    site_trail = await trial.gql(
        trial.coordinator, TRAIL, id=str(from_global_id(reported["id"])[1])
    )
    assert site_trail["data"]["auditTrail"]["edges"][2]["node"]["reason"]["value"] == (
        "She takes two tablets"
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": "  "}, "name"),
        ({"dose": "five"}, "dose"),
        ({"doseUnit": "milli grams"}, "doseUnit"),
        ({"dose": None}, "dose"),
        ({"drugCode": "PARA-1"}, "drugCode"),
        ({"start": "2026-13"}, "start"),
        ({"end": "2026-04"}, "end"),  # before the start, and it is still taken
        ({"ongoing": False, "end": "2026-04-30"}, "end"),
    ],
)
async def test_bad_input_is_refused_with_a_field_and_stores_nothing(
    trial: AppTrial, change: dict[str, Any], field: str
) -> None:
    before = await trial.gql(trial.coordinator, LIST, p=trial.participant)
    body = await trial.gql(trial.coordinator, RECORD, p=trial.participant, m={**CODED, **change})
    assert body["data"]["recordMedication"] == {
        "__typename": "MutationError",
        "code": "VALIDATION_FAILED",
        "field": field,
    }
    after = await trial.gql(trial.coordinator, LIST, p=trial.participant)
    assert after == before
