"""Device readings per second end to end over HTTP, against raw COPY of the same rows.

    TEST_DATABASE_URL=postgresql+asyncpg://... python -m bench.ingest [--readings 20000]
        [--rounds 3] [--batch 500] [--lines 10000]

The real app (`create_app`) serves under uvicorn in this process on 127.0.0.1; httpx sends
over TCP with the participant's app token, one request after another (a phone uploading its
backlog), the same number of heart-rate readings on each path:

- GraphQL: `submitReadings` in batches of --batch (500) items;
- bulk: POST /ingest/readings with NDJSON bodies of --lines (10,000) lines, plain and gzip;
- baseline: asyncpg `copy_records_to_table` of rows shaped as the app stores them, straight
  into the same `device_readings` table (same indexes and unique key), --lines rows a
  transaction, on a connection opened beforehand.

Request bodies (and the COPY records) are built before the clock starts; the time includes
sending, the server's parsing, validation, the audit event, the database work and the
response. The paths take turns for --rounds rounds, --readings readings each a round, and
the median rate is printed, with the ratio to raw COPY. Every response is checked: all
readings must come back ACCEPTED, and the table must hold exactly the readings sent. A
scratch database is made for the run and dropped after it; rate limits are lifted for it.
Client and server share one process and event loop (uvloop, as uvicorn picks by default):
the client's work, small with prebuilt bodies, takes its share of the server's core.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import asyncpg
import httpx

from api.app import create_app
from api.relay import from_global_id
from bench.common import (
    NO_RATE_LIMITS,
    asyncpg_dsn,
    machine,
    owner_url,
    run,
    scratch_settings,
    serving,
)
from bench.world import (
    FAILED,
    BenchError,
    Participant,
    Trial,
    create_trial,
    enrol,
    heart_rate_watch,
)
from infra.db.readings import READING_COLUMNS

SUBMIT_READINGS = (
    """mutation($i: [ReadingInput!]!) {
  submitReadings(input: {items: $i}) {
    __typename ... on SubmitReadingsSuccess { results { outcome code } } ...Failed
  }
}"""
    + FAILED
)
NDJSON = "application/x-ndjson"
OFFSET = timezone(timedelta(hours=2))  # the watch's local offset, stored as given
COMPONENTS = json.dumps(
    {
        "heart_rate": {
            "value": "72.000",
            "unit": "/min",
            "original_value": "72",
            "original_unit": "beats/min",
        }
    }
)


class Moments:
    """Distinct past effective times for readings, all after the watch was assigned (the
    app takes a reading only from a device its participant held at that time)."""

    def __init__(self) -> None:
        self.last = datetime.now(OFFSET)  # made once assignDevice has answered

    def take(self, count: int) -> list[datetime]:
        """`count` times spread evenly between the last one taken and now."""
        room = datetime.now(OFFSET) - self.last
        if room < timedelta(microseconds=count + 1):  # rarely: a few milliseconds, untimed
            time.sleep((timedelta(microseconds=count + 1) - room).total_seconds())
            room = datetime.now(OFFSET) - self.last
        step = room / (count + 1)
        taken = [self.last + step * (n + 1) for n in range(count)]
        self.last = taken[-1] if taken else self.last
        return taken


def heart_rate(device: str, moment: datetime) -> dict[str, Any]:
    return {
        "deviceId": device,
        "kind": "HEART_RATE",
        "sourceId": f"hr-{uuid.uuid4().hex}",
        "body": {
            "heart_rate": {"value": 72, "unit": "beats/min"},
            "effective_time_frame": {"date_time": moment.isoformat()},
        },
    }


def chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass(frozen=True)
class Setup:
    http: httpx.AsyncClient
    trial: Trial
    participant: Participant
    device: str  # global id
    moments: Moments

    @property
    def device_uuid(self) -> str:
        return str(from_global_id(self.device, "Device")[1])

    def auth(self, content_type: str, **extra: str) -> dict[str, str]:
        return {
            "authorization": f"Bearer {self.participant.app}",
            "content-type": content_type,
            **extra,
        }


@dataclass(frozen=True)
class Timing:
    rate: float  # readings a second
    busy: float  # CPU this process (client and server) used, as a share of the wall time


async def timed(count: int, action: Awaitable[None]) -> Timing:
    """`count` readings moved by `action`, a coroutine not started yet."""
    started, cpu = time.perf_counter(), time.process_time()
    await action
    seconds = time.perf_counter() - started
    return Timing(count / seconds, (time.process_time() - cpu) / seconds)


# GraphQL ------------------------------------------------------------------------------------


def graphql_bodies(setup: Setup, count: int, batch: int) -> list[tuple[int, bytes]]:
    items = [heart_rate(setup.device, moment) for moment in setup.moments.take(count)]
    return [
        (len(part), json.dumps({"query": SUBMIT_READINGS, "variables": {"i": part}}).encode())
        for part in chunks(items, batch)
    ]


async def graphql(setup: Setup, bodies: list[tuple[int, bytes]]) -> None:
    headers = setup.auth("application/json")
    responses = [
        (size, await setup.http.post("/graphql", content=body, headers=headers))
        for size, body in bodies
    ]
    for size, response in responses:
        if response.status_code != 200:
            raise BenchError(f"submitReadings: HTTP {response.status_code} {response.text[:300]}")
        payload = response.json()
        result = (payload.get("data") or {}).get("submitReadings") or {}
        if result.get("__typename") != "SubmitReadingsSuccess":
            raise BenchError(f"submitReadings: {payload}")
        check_outcomes("submitReadings", size, result["results"])


# Bulk upload --------------------------------------------------------------------------------


def bulk_bodies(setup: Setup, count: int, lines: int, *, zipped: bool) -> list[tuple[int, bytes]]:
    device = setup.device_uuid
    items = [heart_rate(device, moment) for moment in setup.moments.take(count)]
    bodies = []
    for part in chunks(items, lines):
        body = "".join(json.dumps(item) + "\n" for item in part).encode()
        bodies.append((len(part), gzip.compress(body, compresslevel=6) if zipped else body))
    return bodies


async def bulk(setup: Setup, bodies: list[tuple[int, bytes]], *, zipped: bool) -> None:
    headers = setup.auth(NDJSON, **({"content-encoding": "gzip"} if zipped else {}))
    responses = [
        (size, await setup.http.post("/ingest/readings", content=body, headers=headers))
        for size, body in bodies
    ]
    for size, response in responses:
        if response.status_code != 200:
            raise BenchError(f"/ingest/readings: HTTP {response.status_code} {response.text[:300]}")
        report = response.json()
        check_outcomes("/ingest/readings", size, report["results"])
        if (report["accepted"], report["duplicates"], report["rejected"]) != (size, 0, 0):
            raise BenchError(f"/ingest/readings: counts {report['accepted']=} of {size}")


def check_outcomes(path: str, expected: int, results: list[dict[str, Any]]) -> None:
    refused = [r for r in results if r["outcome"] != "ACCEPTED"]
    if len(results) != expected or refused:
        raise BenchError(
            f"{path}: {len(results)} results for {expected} readings, "
            f"{len(refused)} not ACCEPTED, e.g. {refused[:2]}"
        )


# Raw COPY baseline --------------------------------------------------------------------------


def copy_records(setup: Setup, count: int, lines: int) -> list[list[tuple[Any, ...]]]:
    """Rows as SqlReadingRepository stores a 72/min reading, --lines a transaction."""
    participant, device = setup.participant.uuid, uuid.UUID(setup.device_uuid)
    study, site = setup.trial.study_uuid, setup.trial.site_uuid
    received = datetime.now(UTC)

    def row(moment: datetime, batch: uuid.UUID) -> tuple[Any, ...]:
        return (
            uuid.uuid4(),
            participant,
            device,
            study,
            site,
            "HEART_RATE",
            moment,
            None,
            moment.isoformat()[-6:],
            f"hr-{uuid.uuid4().hex}",
            COMPONENTS,
            Decimal("72.000"),
            received,
            None,
            False,
            batch,
            1,
        )

    batches = []
    for part in chunks(setup.moments.take(count), lines):
        batch = uuid.uuid4()
        batches.append([row(moment, batch) for moment in part])
    return batches


async def raw_copy(connection: Any, batches: list[list[tuple[Any, ...]]]) -> None:
    for records in batches:
        async with connection.transaction():
            await connection.copy_records_to_table(
                "device_readings", records=records, columns=READING_COLUMNS
            )


# The run ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Path:
    label: str
    prepare: Callable[[Setup, int], Any]  # untimed: bodies or records for `count` readings
    send: Callable[[Setup, Any], Awaitable[None]]  # timed


def paths(batch: int, lines: int, connection: Any) -> list[Path]:
    return [
        Path(
            f"raw asyncpg COPY, {lines:,} rows a transaction",
            lambda setup, count: copy_records(setup, count, lines),
            lambda _setup, records: raw_copy(connection, records),
        ),
        Path(
            f"graphql submitReadings, batches of {batch:,}",
            lambda setup, count: graphql_bodies(setup, count, batch),
            graphql,
        ),
        Path(
            f"POST /ingest/readings, NDJSON, {lines:,} lines a request",
            lambda setup, count: bulk_bodies(setup, count, lines, zipped=False),
            lambda setup, bodies: bulk(setup, bodies, zipped=False),
        ),
        Path(
            f"POST /ingest/readings, gzip NDJSON, {lines:,} lines a request",
            lambda setup, count: bulk_bodies(setup, count, lines, zipped=True),
            lambda setup, bodies: bulk(setup, bodies, zipped=True),
        ),
    ]


async def stored(connection: Any) -> int:
    count: int = await connection.fetchval("SELECT count(*) FROM device_readings")
    return count


async def main(readings: int, batch: int, lines: int, rounds: int) -> None:
    host = machine()
    overrides = NO_RATE_LIMITS | {"ingest_max_bytes": 256_000_000, "access_token_minutes": 60}
    async with (
        scratch_settings(pool_size=10, **overrides) as settings,
        serving(create_app(settings)) as url,
        httpx.AsyncClient(base_url=url, timeout=300) as http,
    ):
        trial = await create_trial(http, settings)
        participant = await enrol(trial, "S-001")
        device = await heart_rate_watch(trial, participant)
        setup = Setup(http, trial, participant, device, Moments())
        # Warm up the app's paths (schema, pools, statement caches): not timed.
        await graphql(setup, graphql_bodies(setup, 10, batch))
        await bulk(setup, bulk_bodies(setup, 10, lines, zipped=False), zipped=False)
        await bulk(setup, bulk_bodies(setup, 10, lines, zipped=True), zipped=True)

        connection = await asyncpg.connect(asyncpg_dsn(owner_url(settings)))
        try:
            before = await stored(connection)
            measured = paths(batch, lines, connection)
            timings: dict[str, list[Timing]] = {p.label: [] for p in measured}
            for _ in range(rounds):  # interleaved, so that a growing table weighs on all
                for path in measured:
                    work = path.prepare(setup, readings)
                    timings[path.label].append(await timed(readings, path.send(setup, work)))
            after = await stored(connection)
        finally:
            await connection.close()
        expected = len(measured) * rounds * readings
        if after - before != expected:
            raise BenchError(f"{after - before:,} readings stored, expected {expected:,}")

    print(
        f"Device readings end to end: uvicorn in-process on 127.0.0.1, httpx over TCP, one "
        f"client; {readings:,} readings a path a round, median of {rounds} rounds [min-max]"
    )
    print(f"machine at the start: {host}")
    baseline = statistics.median(t.rate for t in timings[measured[0].label])
    for path in measured:
        rates = [t.rate for t in timings[path.label]]
        rate = statistics.median(rates)
        ratio = "baseline" if path is measured[0] else f"{rate / baseline:.2f}x raw COPY"
        busy = statistics.median(t.busy for t in timings[path.label])
        print(
            f"{path.label}: {rate:,.0f} readings/s ({ratio}) [{min(rates):,.0f}-{max(rates):,.0f}];"
            f" this process busy {busy:.0%} of a core"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--readings", type=int, default=20_000, help="per path and round")
    parser.add_argument("--batch", type=int, default=500, help="items a submitReadings call")
    parser.add_argument("--lines", type=int, default=10_000, help="NDJSON lines an upload")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    run(main(args.readings, args.batch, args.lines, args.rounds))
