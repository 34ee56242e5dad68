"""Exports over HTTP: started from GraphQL, followed, downloaded with the bearer token."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from api import app as composition
from api.relay import from_global_id
from api.settings import Settings
from domain.actors import Grant, Role
from domain.ids import StudyId
from tests.e2e.conftest import PASSWORD, create_user
from tests.e2e.trial import LOGIN, SUBMIT_READINGS, AppTrial, build_app_trial, heart_rate

START = "mutation($s: ID!, $f: ExportFormat!) { startExport(input: {studyId: $s, format: $f}) { __typename ... on StartExportSuccess { export { id status } } ... on MutationError { code } } }"
FOLLOW = "query($id: ID!) { node(id: $id) { ... on ExportJob { status progress logPosition chainHead error manifestSha256 files { name rows sha256 downloadUrl } } } }"


@pytest.fixture
async def trial(app: Starlette, settings: Settings) -> AsyncIterator[AppTrial]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hearth.test") as http:
        yield await build_app_trial(http, settings)


async def _sponsor(trial: AppTrial, settings: Settings) -> str:
    study = StudyId(from_global_id(trial.study, "Study")[1])
    email = await create_user(settings, (Grant(Role.DATA_MANAGER, study),))
    body = await trial.gql(None, LOGIN, e=email, p=PASSWORD)
    token: str = body["data"]["login"]["accessToken"]
    return token


async def _finished(trial: AppTrial, token: str, export: str) -> dict[str, Any]:
    for _ in range(300):
        body = await trial.gql(token, FOLLOW, id=export)
        job: dict[str, Any] = body["data"]["node"]
        if job["status"] != "RUNNING":
            return job
        await asyncio.sleep(0.1)
    raise AssertionError("the export did not finish")


async def test_a_data_manager_exports_follows_and_downloads(
    trial: AppTrial, settings: Settings, tmp_path: Path
) -> None:
    await trial.gql(trial.app, SUBMIT_READINGS, i=[heart_rate(trial.device, 70)])
    sponsor = await _sponsor(trial, settings)
    refused = await trial.gql(trial.coordinator, START, s=trial.study, f="FHIR")
    assert refused["data"]["startExport"]["code"] == "FORBIDDEN"
    started = await trial.gql(sponsor, START, s=trial.study, f="FHIR")
    export = started["data"]["startExport"]["export"]["id"]
    job = await _finished(trial, sponsor, export)
    assert (job["status"], job["progress"], job["error"]) == ("DONE", 1.0, None)
    assert job["logPosition"] > 0
    names = {f["name"] for f in job["files"]}
    assert {"Observation.ndjson", "ResearchSubject.ndjson", "Provenance.ndjson"} <= names
    folder = tmp_path / "download"
    folder.mkdir()
    auth = {"authorization": f"Bearer {sponsor}"}
    for file in job["files"]:
        response = await trial.http.get(file["downloadUrl"], headers=auth)
        assert response.status_code == 200
        assert hashlib.sha256(response.content).hexdigest() == file["sha256"]
        (folder / file["name"]).write_bytes(response.content)
    for name in ("manifest.json", "manifest.sig"):
        response = await trial.http.get(
            f"/exports/{from_global_id(export)[1]}/{name}", headers=auth
        )
        (folder / name).write_bytes(response.content)
    pem = (await trial.gql(None, "{ exportSigningKey }"))["data"]["exportSigningKey"]
    assert composition.verify_exported(folder, settings, pem).ok
    url = job["files"][0]["downloadUrl"]
    assert (await trial.http.get(url)).status_code == 401
    coordinator = {"authorization": f"Bearer {trial.coordinator}"}
    assert (await trial.http.get(url, headers=coordinator)).status_code == 404  # not theirs
    unknown = f"/exports/{uuid.uuid4()}/Observation.ndjson"
    assert (await trial.http.get(unknown, headers=auth)).status_code == 404
    sneaky = f"/exports/{from_global_id(export)[1]}/..%2F..%2Fkeys.json"
    assert (await trial.http.get(sneaky, headers=auth)).status_code == 404
