"""The participant's data download over HTTP: asked for in GraphQL, built by the worker's
task, fetched once by its link without signing in; every step in the audit trail."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import AsyncIterator

import httpx
import pytest
from fhir.resources.R4B import get_fhir_model_class
from starlette.applications import Starlette

from api.relay import from_global_id
from api.settings import Settings
from domain.services import data_downloads as cases
from infra.db.uow import SqlUnitOfWorkFactory
from infra.exports.fhir.my_data import FhirMyData
from tests.e2e.trial import AppTrial, build_app_trial
from tests.factories import caller

ASK = "mutation($p: ID!) { downloadMyData(input: {participantId: $p}) { __typename ... on DownloadMyDataSuccess { downloadId url expiresAt } ... on MutationError { code } } }"
TRAIL = "query($id: String!) { auditTrail(filter: {entityId: $id}) { edges { node { action } } } }"


@pytest.fixture(scope="module")
async def trial(app: Starlette, settings: Settings) -> AsyncIterator[AppTrial]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hearth.test") as http:
        yield await build_app_trial(http, settings)


async def test_the_app_asks_the_worker_builds_the_link_works_once(
    trial: AppTrial, committing_uow: SqlUnitOfWorkFactory
) -> None:
    asked = (await trial.gql(trial.app, ASK, p=trial.participant))["data"]["downloadMyData"]
    assert asked["__typename"] == "DownloadMyDataSuccess"
    url = asked["url"]
    waiting = await trial.http.get(url)
    assert waiting.status_code == 409
    assert waiting.json()["errors"][0]["extensions"]["code"] == "DOWNLOAD_NOT_READY"

    download_id = from_global_id(asked["downloadId"], "DataDownload")[1]
    await cases.build(
        uows=committing_uow, renderer=FhirMyData(), ctx=caller(), download_id=download_id
    )
    got = await trial.http.get(url)
    assert got.status_code == 200
    assert got.headers["content-type"] == "application/zip"
    assert got.headers["cache-control"] == "no-store"
    with zipfile.ZipFile(io.BytesIO(got.content)) as archive:
        bundle = json.loads(archive.read("bundle.json"))
        assert b"<html" in archive.read("index.html")
    get_fhir_model_class("Bundle").model_validate(bundle)
    assert bundle["type"] == "collection"

    again = await trial.http.get(url)
    assert again.status_code == 410
    assert again.json()["errors"][0]["extensions"]["code"] == "DOWNLOAD_EXPIRED"
    assert (await trial.http.get("/my-data/not-a-token")).status_code == 404

    trail = await trial.gql(trial.coordinator, TRAIL, id=str(download_id))
    actions = [e["node"]["action"] for e in trail["data"]["auditTrail"]["edges"]]
    assert actions == ["created", "built", "downloaded"]


async def test_the_site_asks_for_the_participant(trial: AppTrial) -> None:
    asked = (await trial.gql(trial.coordinator, ASK, p=trial.participant))["data"]
    assert asked["downloadMyData"]["__typename"] == "DownloadMyDataSuccess"
    refused = (await trial.gql(None, ASK, p=trial.participant))["data"]["downloadMyData"]
    assert refused["code"] in {"UNAUTHENTICATED", "NOT_FOUND"}
