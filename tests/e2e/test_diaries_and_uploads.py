"""Diaries and readings over HTTP: the app's GraphQL calls, the bulk upload and its limits."""

from __future__ import annotations

import asyncio
import gzip
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from api.app import create_app
from api.settings import Settings
from tests.clock import CLOCK
from tests.conftest import ScratchDatabase
from tests.e2e.conftest import make_settings
from tests.e2e.trial import (
    SUBMIT_DIARY,
    SUBMIT_READINGS,
    AppTrial,
    build_app_trial,
    diary_entry,
    heart_rate,
    now,
    open_occurrence,
)

UPLOAD = "/ingest/readings"
NDJSON = {"content-type": "application/x-ndjson"}


@pytest.fixture
async def trial(app: Starlette, settings: Settings) -> AsyncIterator[AppTrial]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hearth.test") as http:
        yield await build_app_trial(http, settings)


def _ndjson(items: Sequence[object]) -> bytes:
    return b"".join(json.dumps(i).encode() + b"\n" for i in items)


async def _upload(
    trial: AppTrial, body: bytes, token: str | None = None, **headers: str
) -> httpx.Response:
    auth = {"authorization": f"Bearer {token or trial.app}"}
    return await trial.http.post(UPLOAD, content=body, headers={**NDJSON, **auth, **headers})


async def test_the_app_submits_a_diary_once_however_often_it_retries(trial: AppTrial) -> None:
    due = await open_occurrence(lambda q, **v: trial.gql(trial.app, q, **v), trial.participant)
    entry = diary_entry(due)
    sent = await asyncio.gather(*(trial.gql(trial.app, SUBMIT_DIARY, e=[entry]) for _ in range(8)))
    outcomes = sorted(b["data"]["submitDiaryEntries"]["results"][0]["outcome"] for b in sent)
    assert outcomes == ["ACCEPTED"] + ["DUPLICATE"] * 7
    ids = {b["data"]["submitDiaryEntries"]["results"][0]["entry"]["id"] for b in sent}
    assert len(ids) == 1
    listed = await trial.gql(
        trial.coordinator,
        "query($p: ID!) { node(id: $p) { ... on Participant { diaryEntries { edges { node { id answers freeText timeliness } } } compliance { expected } } } }",
        p=trial.participant,
    )
    (edge,) = listed["data"]["node"]["diaryEntries"]["edges"]
    assert edge["node"]["answers"] == {"PAIN": 3}
    assert edge["node"]["freeText"] == {"NOTE": "Knee hurts"}
    assert edge["node"]["timeliness"] == "ON_TIME"


async def test_bulk_upload_answers_every_line(trial: AppTrial) -> None:
    good = [heart_rate(trial.device_uuid, 60 + i % 40) for i in range(1000)]
    stranger = heart_rate(str(uuid.uuid4()))
    lines = [*good, good[0], stranger, {"kind": "HEART_RATE"}]
    body = _ndjson(lines[:500]) + b"{not json\n\n" + _ndjson(lines[500:])
    response = await _upload(trial, gzip.compress(body), **{"content-encoding": "gzip"})
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["accepted"], report["duplicates"], report["rejected"]) == (1000, 1, 3)
    assert len(report["results"]) == len(lines) + 1  # the broken line is answered too
    broken = report["results"][500]
    assert (broken["line"], broken["code"]) == (501, "INVALID_JSON")
    by_code = {r["code"] for r in report["results"] if r["outcome"] == "REJECTED"}
    assert by_code == {"INVALID_JSON", "UNKNOWN_DEVICE", "MISSING_SOURCE_ID"}
    again = (await _upload(trial, body)).json()
    assert (again["accepted"], again["duplicates"]) == (0, 1001)
    page = await trial.gql(
        trial.app,
        "query($p: ID!) { node(id: $p) { ... on Participant { readings(kind: HEART_RATE, first: 100) { edges { node { id components { value unit originalUnit } } } pageInfo { hasNextPage } } } } }",
        p=trial.participant,
    )
    readings = page["data"]["node"]["readings"]
    assert len(readings["edges"]) == 100
    assert readings["pageInfo"]["hasNextPage"]
    assert readings["edges"][0]["node"]["components"][0]["unit"] == "/min"
    today = now().date()  # the participant's local day is within a day of UTC's
    summary = await trial.gql(
        trial.coordinator,
        "query($p: ID!, $a: Date!, $b: Date!) { node(id: $p) { ... on Participant { readingSummaries(kind: HEART_RATE, fromDay: $a, toDay: $b) { count minimum maximum } } } }",
        p=trial.participant,
        a=(today - timedelta(days=1)).isoformat(),
        b=(today + timedelta(days=1)).isoformat(),
    )
    days = summary["data"]["node"]["readingSummaries"]
    assert sum(d["count"] for d in days) == 1000
    assert min(Decimal(d["minimum"]) for d in days) == 60
    assert max(Decimal(d["maximum"]) for d in days) == 99


async def test_the_graphql_path_gives_the_same_outcomes(trial: AppTrial) -> None:
    items = [heart_rate(trial.device, 70), heart_rate(trial.device, 5)]
    body = await trial.gql(trial.app, SUBMIT_READINGS, i=items)
    results = body["data"]["submitReadings"]["results"]
    assert [(r["outcome"], r["code"]) for r in results] == [
        ("ACCEPTED", None),
        ("REJECTED", "IMPLAUSIBLE_VALUE"),
    ]
    too_many = await trial.gql(trial.app, SUBMIT_READINGS, i=[items[0]] * 1001)
    assert too_many["data"]["submitReadings"]["code"] == "VALIDATION_FAILED"


async def test_uploads_refuse_the_wrong_caller_and_media_type(trial: AppTrial) -> None:
    body = _ndjson([heart_rate(trial.device_uuid)])
    anonymous = await trial.http.post(UPLOAD, content=body, headers=NDJSON)
    assert anonymous.status_code == 401
    staff = await _upload(trial, body, token=trial.coordinator)
    assert (staff.status_code, staff.json()["errors"][0]["extensions"]["code"]) == (
        403,
        "FORBIDDEN",
    )
    wrong = await _upload(trial, body, **{"content-type": "application/json"})
    assert wrong.status_code == 415
    broken = await _upload(trial, b"\x1f\x8b not gzip", **{"content-encoding": "gzip"})
    assert (broken.status_code, broken.json()["errors"][0]["extensions"]["code"]) == (
        400,
        "INVALID_GZIP",
    )


@pytest.fixture
async def tight(database: ScratchDatabase, key_file: Path) -> AsyncIterator[AppTrial]:
    """An app with small upload and write limits and room for one upload at a time."""
    settings = make_settings(
        database,
        key_file,
        ingest_max_bytes=64_000,
        ingest_concurrency=1,
        write_limit_per_caller=8,
    )
    application = create_app(settings, clock=CLOCK)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://hearth.test") as http:
            yield await build_app_trial(http, settings)


async def test_uploads_over_the_limits_get_413_and_busy_servers_429(tight: AppTrial) -> None:
    item = heart_rate(tight.device_uuid)
    big = _ndjson([item] * 400)  # about 90 kB
    assert len(big) > 64_000
    assert (await _upload(tight, big)).status_code == 413
    bomb = gzip.compress(b" " * 10_000_000)  # 10 MB of blanks in 10 kB
    assert len(bomb) < 64_000
    response = await _upload(tight, bomb, **{"content-encoding": "gzip"})
    assert (response.status_code, response.json()["errors"][0]["extensions"]["code"]) == (
        413,
        "PAYLOAD_TOO_LARGE",
    )
    release, reading = asyncio.Event(), asyncio.Event()

    async def slow_body() -> AsyncIterator[bytes]:
        yield b"\n"
        reading.set()  # the server asks for more of the body: it holds the upload slot
        await release.wait()
        yield _ndjson([item])

    slow = asyncio.create_task(
        tight.http.post(
            UPLOAD,
            content=slow_body(),
            headers={**NDJSON, "authorization": f"Bearer {tight.app}"},
        )
    )
    await asyncio.wait_for(reading.wait(), timeout=10)
    busy = await _upload(tight, _ndjson([item]))
    release.set()
    assert busy.status_code == 429
    assert busy.headers["retry-after"] == "2"
    assert busy.json()["errors"][0]["extensions"]["code"] == "SERVER_BUSY"
    assert (await slow).status_code == 200


async def test_writes_are_rate_limited_per_caller(tight: AppTrial) -> None:
    item = heart_rate(tight.device)
    statuses = []
    for _ in range(10):
        response = await tight.http.post(
            "/graphql",
            json={"query": SUBMIT_READINGS, "variables": {"i": [item]}},
            headers={"authorization": f"Bearer {tight.app}"},
        )
        statuses.append(response.status_code)
    limited = response
    assert 429 in statuses
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    body: dict[str, Any] = limited.json()
    assert body["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    reads = await tight.http.post(
        "/graphql",
        json={"query": "{ viewer { kind } }"},
        headers={"authorization": f"Bearer {tight.app}"},
    )
    assert reads.status_code == 200  # reading is not writing


async def test_hostile_uploads_are_answered_not_crashed_on(trial: AppTrial) -> None:
    many = gzip.compress(b"{}\n" * 50_001)  # 150 kB of empty objects in a few hundred bytes
    response = await _upload(trial, many, **{"content-encoding": "gzip"})
    assert (response.status_code, response.json()["errors"][0]["extensions"]["code"]) == (
        413,
        "TOO_MANY_ITEMS",
    )
    deep = b"[" * 100_000 + b"]" * 100_000
    precise = json.dumps(heart_rate(trial.device_uuid)).replace('"value": 72', '"value": 72.50')
    report = (await _upload(trial, deep + b"\n" + precise.encode() + b"\n")).json()
    assert [(r["line"], r["code"]) for r in report["results"]] == [(1, "INVALID_JSON"), (2, None)]
    reading = await trial.gql(
        trial.app,
        "query($p: ID!) { node(id: $p) { ... on Participant { readings { edges { node { components { originalValue } } } } } } }",
        p=trial.participant,
    )
    values = [
        e["node"]["components"][0]["originalValue"]
        for e in reading["data"]["node"]["readings"]["edges"]
    ]
    assert values == ["72.50"]  # exactly as sent: numbers are parsed as decimals
