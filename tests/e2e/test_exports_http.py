"""Exports over HTTP: queued through GraphQL, run by a real worker, followed, cancelled,
downloaded with the bearer token; readiness says whether a worker runs."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from starlette.applications import Starlette

from api import app as composition
from api.app import Worker, create_app
from api.relay import from_global_id
from api.settings import Settings
from domain.actors import Grant, Role
from domain.ids import StudyId
from infra.db.engine import create_engine
from tests.clock import CLOCK
from tests.conftest import ScratchDatabase
from tests.e2e.conftest import PASSWORD, create_user
from tests.e2e.trial import LOGIN, SUBMIT_READINGS, AppTrial, build_app_trial, heart_rate

START = "mutation($s: ID!, $f: ExportFormat!) { startExport(input: {studyId: $s, format: $f}) { __typename ... on StartExportSuccess { export { id status attempts } } ... on MutationError { code message } } }"
CANCEL = "mutation($e: ID!) { cancelExport(input: {exportId: $e}) { __typename ... on CancelExportSuccess { export { id status finishedAt } } ... on MutationError { code message } } }"
FOLLOW = "query($id: ID!) { node(id: $id) { ... on ExportJob { status progress attempts startedAt retryAt filesDeletedAt logPosition chainHead error manifestSha256 files { name rows sha256 downloadUrl } } } }"


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


async def _job(trial: AppTrial, token: str, export: str) -> dict[str, Any]:
    job: dict[str, Any] = (await trial.gql(token, FOLLOW, id=export))["data"]["node"]
    return job


async def _until(
    trial: AppTrial, token: str, export: str, done: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    for _ in range(600):
        job = await _job(trial, token, export)
        if done(job):
            return job
        await asyncio.sleep(0.05)
    raise AssertionError(f"the export never got there: {job}")


def _ended(job: dict[str, Any]) -> bool:
    return job["status"] not in ("QUEUED", "RUNNING")


async def test_a_data_manager_exports_follows_and_downloads(
    trial: AppTrial, settings: Settings, tmp_path: Path, worker: Worker
) -> None:
    await trial.gql(trial.app, SUBMIT_READINGS, i=[heart_rate(trial.device, 70)])
    sponsor = await _sponsor(trial, settings)
    refused = await trial.gql(trial.coordinator, START, s=trial.study, f="FHIR")
    assert refused["data"]["startExport"]["code"] == "FORBIDDEN"
    started = await trial.gql(sponsor, START, s=trial.study, f="FHIR")
    export = started["data"]["startExport"]["export"]["id"]
    assert started["data"]["startExport"]["export"]["status"] == "QUEUED"
    job = await _until(trial, sponsor, export, _ended)
    assert (job["status"], job["progress"], job["error"], job["attempts"]) == ("DONE", 1.0, None, 1)
    assert job["logPosition"] > 0
    assert job["startedAt"] is not None
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
    again = await trial.gql(sponsor, CANCEL, e=export)
    assert again["data"]["cancelExport"]["code"] == "INVALID_TRANSITION"


async def _queue_row(database: ScratchDatabase, export: str) -> tuple[str, bool]:
    engine = create_engine(database.owner_url, pool_size=1)
    try:
        async with engine.connect() as connection:
            row = (
                await connection.execute(
                    text("SELECT status, abort_requested FROM procrastinate_jobs WHERE lock = :k"),
                    {"k": f"export:{from_global_id(export)[1]}"},
                )
            ).one()
    finally:
        await engine.dispose()
    return str(row.status), bool(row.abort_requested)


async def test_without_a_worker_the_export_waits_visibly_and_can_be_cancelled(
    trial: AppTrial, settings: Settings, database: ScratchDatabase
) -> None:
    ready = await trial.http.get("/readyz")
    assert ready.status_code == 200  # the server works; only the jobs wait
    assert ready.json()["checks"] == {
        "database": True,
        "migrations": True,
        "keys": True,
        "worker": False,
    }
    sponsor = await _sponsor(trial, settings)
    export = (await trial.gql(sponsor, START, s=trial.study, f="SDTM"))["data"]["startExport"][
        "export"
    ]["id"]
    CLOCK.advance(minutes=10)  # however long nobody picks it up: queued, never "running"
    job = await _job(trial, sponsor, export)
    assert (job["status"], job["attempts"], job["startedAt"]) == ("QUEUED", 0, None)
    assert await _queue_row(database, export) == ("todo", False)
    cancelled = await trial.gql(sponsor, CANCEL, e=export)
    assert cancelled["data"]["cancelExport"]["export"]["status"] == "CANCELLED"
    assert await _queue_row(database, export) == ("cancelled", True)
    trail = await trial.gql(
        trial.admin,
        "query($id: String!) { auditTrail(filter: {entityId: $id}) { edges { node { action } } } }",
        id=str(from_global_id(export)[1]),
    )
    actions = [e["node"]["action"] for e in trail["data"]["auditTrail"]["edges"]]
    assert actions == ["created", "cancelled"]


async def test_readiness_counts_a_running_worker(trial: AppTrial, worker: Worker) -> None:
    for _ in range(100):
        checks = (await trial.http.get("/readyz")).json()["checks"]
        if checks["worker"]:
            break
        await asyncio.sleep(0.05)
    assert checks == {"database": True, "migrations": True, "keys": True, "worker": True}


class _Held:
    """The signatures table locked by the schema owner: an export started now blocks in its
    snapshot (it stays RUNNING) while the rest of the app carries on. (Not the participants
    table: every request's caller lookup and the worker's replanning read it.)"""

    def __init__(self, database: ScratchDatabase) -> None:
        self.engine = create_engine(database.owner_url, pool_size=1)

    async def __aenter__(self) -> _Held:
        self.connection = await self.engine.connect()
        await self.connection.begin()
        await self.connection.execute(text("LOCK TABLE signatures IN ACCESS EXCLUSIVE MODE"))
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.connection.rollback()
        await self.connection.close()
        await self.engine.dispose()


async def test_cancelling_a_running_export_stops_it_and_keeps_no_files(
    trial: AppTrial, settings: Settings, database: ScratchDatabase, worker: Worker
) -> None:
    sponsor = await _sponsor(trial, settings)
    async with _Held(database):
        started = await trial.gql(sponsor, START, s=trial.study, f="ODM")
        export = started["data"]["startExport"]["export"]["id"]
        running = await _until(trial, sponsor, export, lambda j: j["status"] == "RUNNING")
        assert running["attempts"] == 1
        cancelled = await trial.gql(sponsor, CANCEL, e=export)
        assert cancelled["data"]["cancelExport"]["export"]["status"] == "CANCELLED"
        # The worker gets the abort through NOTIFY and stops the job while it is blocked.
        for _ in range(200):
            status, _aborting = await _queue_row(database, export)
            if status != "doing":
                break
            await asyncio.sleep(0.05)
        assert status in ("failed", "aborted")
    job = await _job(trial, sponsor, export)
    assert (job["status"], job["files"], job["manifestSha256"]) == ("CANCELLED", [], None)
    assert not (settings.export_path / str(from_global_id(export)[1])).exists()


async def test_capacity_is_checked_only_after_authorization(
    trial: AppTrial, settings: Settings
) -> None:
    """Issue 17: startExport answered SERVER_BUSY to anyone, even signed out."""
    busy = settings.model_copy(update={"exports_per_study": 1})
    application = create_app(busy, clock=CLOCK)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://hearth.test") as http:
            sponsor = await _sponsor(trial, settings)
            run = _runner(http)
            first = await run(sponsor, START, s=trial.study, f="SDTM")
            assert first["data"]["startExport"]["__typename"] == "StartExportSuccess"
            codes = [
                (await run(who, START, s=trial.study, f="ODM"))["data"]["startExport"]["code"]
                for who in (None, trial.coordinator, sponsor)
            ]
            assert codes == ["UNAUTHENTICATED", "FORBIDDEN", "SERVER_BUSY"]
            queued = first["data"]["startExport"]["export"]["id"]
            await run(sponsor, CANCEL, e=queued)
            again = await run(sponsor, START, s=trial.study, f="ODM")
            assert again["data"]["startExport"]["__typename"] == "StartExportSuccess"
            await run(sponsor, CANCEL, e=again["data"]["startExport"]["export"]["id"])


def _runner(http: httpx.AsyncClient) -> Callable[..., Awaitable[dict[str, Any]]]:
    async def run(token: str | None, query: str, **variables: Any) -> dict[str, Any]:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        response = await http.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
        body: dict[str, Any] = response.json()
        return body

    return run
