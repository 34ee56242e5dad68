"""Part 11 signatures over HTTP: signing re-authenticates, and a signature shows its printed
name, time and meaning on the record, in its rendering and in the ODM export."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import odmlib
import pytest
import xmlschema
from starlette.applications import Starlette

from api.app import Worker
from api.relay import from_global_id
from api.settings import Settings
from domain.actors import Grant, Role
from domain.ids import SiteId, StudyId
from tests.e2e.conftest import PASSWORD, create_user
from tests.e2e.trial import LOGIN, AppTrial, build_app_trial, now

NS = {"odm": "http://www.cdisc.org/ns/odm/v1.3"}
ODM_XSD = Path(odmlib.__file__).parent / "schemas" / "odm" / "1.3.2" / "ODM1-3-2.xsd"
DEFINITION = 'mutation($s: ID!) { createVisitDefinition(input: {studyId: $s, code: "W1", name: "Week 1", day: 7, windowBefore: 2, windowAfter: 2, modes: [VIDEO]}) { ... on CreateVisitDefinitionSuccess { visitDefinition { id } } } }'
SCHEDULE = 'mutation($p: ID!, $d: ID!) { scheduleVisit(input: {participantId: $p, visitDefinitionId: $d, mode: VIDEO, localStart: "2026-06-17T10:00"}) { ... on VisitSuccess { visit { id } } } }'
SIGN = "mutation($r: ID!, $p: String!) { signRecord(input: {recordId: $r, meaning: REVIEW, password: $p}) { __typename ... on SignRecordSuccess { signature { id } } ... on MutationError { code field } } }"
SIGNATURES = "query($v: ID!) { node(id: $v) { ... on Visit { signatures { id printedName meaning meaningText signedAt valid manifestation } } } }"
START = "mutation($s: ID!) { startExport(input: {studyId: $s, format: ODM}) { ... on StartExportSuccess { export { id } } } }"
FOLLOW = (
    "query($id: ID!) { node(id: $id) { ... on ExportJob { status files { name downloadUrl } } } }"
)


@pytest.fixture
async def trial(app: Starlette, settings: Settings) -> AsyncIterator[AppTrial]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hearth.test") as http:
        yield await build_app_trial(http, settings)


async def _signer(trial: AppTrial, settings: Settings, role: Role) -> str:
    study = StudyId(from_global_id(trial.study, "Study")[1])
    site = None if role is Role.DATA_MANAGER else SiteId(from_global_id(trial.site, "Site")[1])
    email = await create_user(settings, (Grant(role, study, site),))
    body = await trial.gql(None, LOGIN, e=email, p=PASSWORD)
    token: str = body["data"]["login"]["accessToken"]
    return token


async def _visit(trial: AppTrial) -> str:
    made = await trial.gql(trial.admin, DEFINITION, s=trial.study)
    definition = made["data"]["createVisitDefinition"]["visitDefinition"]["id"]
    body = await trial.gql(trial.coordinator, SCHEDULE, p=trial.participant, d=definition)
    visit: str = body["data"]["scheduleVisit"]["visit"]["id"]
    return visit


async def _shown(trial: AppTrial, token: str, visit: str) -> list[dict[str, Any]]:
    body = await trial.gql(token, SIGNATURES, v=visit)
    shown: list[dict[str, Any]] = body["data"]["node"]["signatures"]
    return shown


async def test_signing_without_the_password_is_refused(trial: AppTrial, settings: Settings) -> None:
    """Requirement 15: no password, or a wrong one: no signature."""
    investigator = await _signer(trial, settings, Role.INVESTIGATOR)
    visit = await _visit(trial)
    for password in ("", "not my password at all"):
        refused = await trial.gql(investigator, SIGN, r=visit, p=password)
        assert refused["data"]["signRecord"] == {
            "__typename": "MutationError",
            "code": "INVALID_CREDENTIALS",
            "field": "password",
        }
    assert await _shown(trial, investigator, visit) == []
    signed = await trial.gql(investigator, SIGN, r=visit, p=PASSWORD)
    assert signed["data"]["signRecord"]["__typename"] == "SignRecordSuccess"
    assert len(await _shown(trial, investigator, visit)) == 1


async def _odm(trial: AppTrial, token: str) -> ET.Element:
    started = await trial.gql(token, START, s=trial.study)
    export = started["data"]["startExport"]["export"]["id"]
    for _ in range(300):
        job = (await trial.gql(token, FOLLOW, id=export))["data"]["node"]
        if job["status"] not in ("QUEUED", "RUNNING"):
            break
        await asyncio.sleep(0.1)
    assert job["status"] == "DONE", job
    (odm,) = [f for f in job["files"] if f["name"] == "odm.xml"]
    response = await trial.http.get(
        odm["downloadUrl"], headers={"authorization": f"Bearer {token}"}
    )
    root = ET.fromstring(response.content)
    xmlschema.XMLSchema(str(ODM_XSD)).validate(root)
    return root


def _one(element: ET.Element, path: str) -> ET.Element:
    found = element.find(path, NS)
    assert found is not None, path
    return found


async def test_a_signature_shows_name_time_and_meaning_everywhere(
    trial: AppTrial, settings: Settings, worker: Worker
) -> None:
    """Requirement 12: on the record, in its rendering and in the ODM export."""
    investigator = await _signer(trial, settings, Role.INVESTIGATOR)
    visit = await _visit(trial)
    signed = await trial.gql(investigator, SIGN, r=visit, p=PASSWORD)
    assert signed["data"]["signRecord"]["__typename"] == "SignRecordSuccess", signed
    (shown,) = await _shown(trial, trial.coordinator, visit)
    assert (shown["printedName"], shown["meaning"], shown["valid"]) == ("Test User", "REVIEW", True)
    assert shown["meaningText"] == "I have reviewed this record."
    signed_at = datetime.fromisoformat(shown["signedAt"])
    assert signed_at == now()
    assert shown["manifestation"] == (
        f"Test User, {signed_at.isoformat(timespec='seconds')}, I have reviewed this record."
    )
    root = await _odm(trial, await _signer(trial, settings, Role.DATA_MANAGER))
    repeat = from_global_id(visit)[1]
    event = _one(root, f".//odm:StudyEventData[@StudyEventRepeatKey='{repeat}']")
    signature = _one(event, "odm:Signature")
    user_oid = _one(signature, "odm:UserRef").attrib["UserOID"]
    user = _one(root, f".//odm:User[@OID='{user_oid}']")
    assert user.findtext("odm:FullName", namespaces=NS) == "Test User"
    meaning = _one(signature, "odm:SignatureRef").attrib["SignatureOID"]
    definition = _one(root, f".//odm:SignatureDef[@OID='{meaning}']")
    assert definition.findtext("odm:Meaning", namespaces=NS) == "I have reviewed this record."
    stamp = signature.findtext("odm:DateTimeStamp", namespaces=NS) or ""
    assert datetime.fromisoformat(stamp) == signed_at
