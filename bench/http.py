"""What users feel: a real `hearth serve` (1 and 2 server processes, with a job worker),
driven at 32 connections by a load generator in another process.

    TEST_DATABASE_URL=postgresql+asyncpg://... python -m bench.http [--seconds 10]
        [--connections 32] [--workers 1 2]

For each number of server processes, `hearth serve --workers N --with-worker` starts on a
scratch database (made for the run, dropped after it); a trial is built through the API
(study, site, arm, consent, participants enrolled with their app, a pain diary, heart-rate
watches with readings); then autocannon (npm, under .hearth/node) runs in a node process of
its own (bench/load.cjs) and sends, for --seconds each:

- `{ __typename }`, the floor: HTTP, parsing, validation and serialisation only;
- `{ viewer { kind } }` with a participant's token: adds authentication;
- the app's home screen: `diaryDue` for two days (a diary every 30 minutes) plus
  `readings(first: 50)`, as 8 participants;
- `submitDiaryEntries` with one entry, and with ten, each entry answering an occurrence of
  its own (participants live where it is now 23:xx, the diary due every 15 minutes);
- `POST /ingest/readings`, NDJSON of 1,000 readings a request.

It prints req/s, p50 and p99 latency and the ratio to the floor of the same server, then
each scenario's ratio of 2 processes to 1. Every answer must be HTTP 200, and every entry
and reading in a request answered must be stored (the counts are read back from the
database; a scenario cut short at --seconds may leave a few requests in flight, stored or
not). Uploads may run on every connection at once (HEARTH_INGEST_CONCURRENCY is set to
--connections): the bench measures throughput, not the shedding of excess uploads.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from api.settings import Settings
from bench.common import NO_RATE_LIMITS, ROOT, asyncpg_dsn, machine, owner_url, scratch_settings
from bench.diary import SUBMIT_DIARY, day_times, late_evening_zone
from bench.edge import _autocannon
from bench.ingest import NDJSON, Moments, heart_rate
from bench.world import (
    BenchError,
    Participant,
    Trial,
    create_trial,
    due_now,
    enrol,
    heart_rate_watch,
    pain_diary,
)

LOAD_SCRIPT = Path(__file__).with_name("load.cjs")
HOME = """query($p: ID!, $s: DateTime!, $e: DateTime!) {
  node(id: $p) {
    ... on Participant {
      diaryDue(start: $s, end: $e) {
        scheduleId occurrenceKey dueAt answered questionnaire { code version contentHash }
      }
      readings(first: 50) { edges { node { id kind effectiveStart } } }
    }
  }
}"""
HOME_PEOPLE = 8
SUBMITTERS = 48  # half send one-entry submissions, half ten-entry ones
WINDOW_MINUTES = 24 * 60
GRACE_MINUTES = 7 * 24 * 60
UPLOADS = 120  # bodies of 1,000 readings (each sent once)
READINGS_PER_UPLOAD = 1000


@dataclass(frozen=True)
class Item:
    headers: dict[str, str]
    body: bytes
    stores: int = 0  # diary entries or readings the request stores when answered


def graphql(token: str | None, document: str, stores: int = 0, **variables: Any) -> Item:
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    body = json.dumps({"query": document, "variables": variables}).encode()
    return Item(headers, body, stores)


@dataclass(frozen=True)
class Result:
    name: str
    rate: float
    p50: float
    p99: float
    sent: int
    failed: int
    stores_answered: int  # entries or readings in the requests answered 2xx
    stores_sent: int  # ... and in every request sent (a run cut short leaves some in flight)

    def line(self, floor: float) -> str:
        return (
            f"  {self.name:<34} {self.rate:8.1f} req/s  p50 {self.p50:7.1f} ms  "
            f"p99 {self.p99:7.1f} ms  {self.rate / floor:5.2f}x floor  "
            f"({self.sent:,} sent, failed {self.failed})"
        )


def drive(
    url: str, path: str, items: Sequence[Item], seconds: int, connections: int, *, once: bool
) -> Any:
    plan = {
        "url": url,
        "path": path,
        "connections": connections,
        "seconds": seconds,
        "once": once,
        "items": [{"headers": i.headers, "body": base64.b64encode(i.body).decode()} for i in items],
    }
    done = subprocess.run(
        ["node", str(LOAD_SCRIPT)],
        input=json.dumps(plan),
        env={**os.environ, "AUTOCANNON": str(_autocannon())},
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout)


def result(name: str, raw: Any, items: Sequence[Item]) -> Result:
    latency = raw["latency"]
    # With `once`, a run may end before a whole second: the rate is what was answered
    # over the time it took.
    seconds = max(raw["duration"], 1e-3)
    answered = raw["requests"]["total"]
    return Result(
        name,
        answered / seconds,
        latency["p50"],
        latency["p99"],
        raw["sent"],
        raw["non2xx"] + raw["errors"] + raw["timeouts"],
        sum(items[i].stores for i in raw["answered"]),
        sum(items[n % len(items)].stores for n in range(raw["sent"])),
    )


@contextlib.asynccontextmanager
async def hearth_serve(
    settings: Settings, workers: int, workdir: Path, connections: int
) -> AsyncIterator[str]:
    """`hearth serve --workers N --with-worker` in a process group of its own."""
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": owner_url(settings),
        "HEARTH_KEY_FILE": str(settings.key_file),
        "HEARTH_CHECKPOINT_DIR": str(settings.checkpoint_dir),
        "HEARTH_DATA_DIR": str(workdir / "data"),
        "HEARTH_EXPORT_DIR": str(workdir / "exports"),
        "HEARTH_ENV": "test",
        "HEARTH_LOG_LEVEL": "WARNING",
        "HEARTH_DB_POOL_SIZE": "40",
        "HEARTH_ACCESS_TOKEN_MINUTES": "60",
        # Measure throughput, not shedding: every connection may upload at once.
        "HEARTH_INGEST_CONCURRENCY": str(connections),
        **{f"HEARTH_{k.upper()}": str(v) for k, v in NO_RATE_LIMITS.items()},
    }
    command = [sys.executable, "-m", "api.cli.main", "serve", "--no-migrate"]
    command += ["--port", str(port), "--workers", str(workers), "--with-worker"]
    log = (workdir / f"serve-{workers}.log").open("wb")
    process = _spawn(command, env, log)
    url = f"http://127.0.0.1:{port}"
    try:
        await _wait_until_up(url, process, workdir / f"serve-{workers}.log")
        yield url
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            await asyncio.to_thread(process.wait, 30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def _spawn(command: list[str], env: dict[str, str], log: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def _free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    async with httpx.AsyncClient(base_url=url) as http:
        for _ in range(1800):  # three minutes: a loaded shared machine starts slowly
            if process.poll() is not None:
                raise BenchError(f"hearth serve stopped; see {log}")
            with contextlib.suppress(httpx.TransportError):
                if (await http.get("/healthz")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise BenchError("hearth serve did not answer within three minutes")


@dataclass
class World:
    floor: list[Item]
    viewer: list[Item]
    home: list[Item]
    one_entry: list[Item]
    ten_entries: list[Item]
    uploads: list[Item]
    readings_before: int  # stored while building the trial
    trials: tuple[Trial, Trial]


def entry(due: dict[str, Any], completed_at: datetime) -> dict[str, Any]:
    questionnaire = due["questionnaire"]
    return {
        "clientId": str(uuid.uuid4()),
        "scheduleId": due["scheduleId"],
        "occurrenceKey": due["occurrenceKey"],
        "questionnaireCode": questionnaire["code"],
        "questionnaireVersion": questionnaire["version"],
        "contentHash": questionnaire["contentHash"],
        "answers": {"PAIN": 3, "NOTE": "Knee hurts"},
        "completedAt": completed_at.isoformat(),
    }


def interleave(per_person: list[list[Item]]) -> list[Item]:
    """Round robin over the participants: requests in flight at once are from different ones."""
    out: list[Item] = []
    for n in range(max((len(p) for p in per_person), default=0)):
        out.extend(p[n] for p in per_person if n < len(p))
    return out


async def build(http: httpx.AsyncClient, settings: Settings, tag: str) -> World:
    """Two trials: the home screen's (a diary every 30 min, watches with readings) and the
    submitters' (a diary every 15 min in a zone where it is 23:xx, so the day is due)."""
    now = datetime.now(UTC)
    home = await create_trial(http, settings)
    await pain_diary(home, day_times(30), window_minutes=60, late_grace_minutes=0)
    homes = [await enrol(home, f"H{tag}-{n:02d}", "Europe/Berlin") for n in range(HOME_PEOPLE)]
    moments = Moments()
    uploaders: list[tuple[Participant, str]] = []
    for person in homes:
        watch = await heart_rate_watch(home, person)
        uploaders.append((person, _uuid(watch, "Device")))
    readings = 0
    for person, device in uploaders:
        await _upload(http, person, [heart_rate(device, m) for m in moments.take(60)])
        readings += 60
    uploads = []
    for n in range(UPLOADS):
        person, device = uploaders[n % len(uploaders)]
        lines = [heart_rate(device, m) for m in moments.take(READINGS_PER_UPLOAD)]
        body = "".join(json.dumps(line) + "\n" for line in lines).encode()
        uploads.append(Item(_auth(person, NDJSON), body, READINGS_PER_UPLOAD))
    start, end = (now - timedelta(days=1)).isoformat(), (now + timedelta(days=1)).isoformat()
    screens = [graphql(p.app, HOME, p=p.id, s=start, e=end) for p in homes]

    diary = await create_trial(http, settings)
    await pain_diary(
        diary, day_times(15), window_minutes=WINDOW_MINUTES, late_grace_minutes=GRACE_MINUTES
    )
    zone = late_evening_zone(now)
    people = [await enrol(diary, f"D{tag}-{n:02d}", zone) for n in range(SUBMITTERS)]
    completed_at = datetime.now(UTC)
    ones: list[list[Item]] = []
    tens: list[list[Item]] = []
    for n, person in enumerate(people):
        due = await due_now(diary, person)
        entries = [entry(d, completed_at) for d in due]
        if n % 2 == 0:
            ones.append([graphql(person.app, SUBMIT_DIARY, 1, e=[e]) for e in entries])
        else:
            tens.append(
                [
                    graphql(person.app, SUBMIT_DIARY, len(part), e=part)
                    for part in (entries[k : k + 10] for k in range(0, len(entries), 10))
                ]
            )
    return World(
        floor=[graphql(None, "{ __typename }")],
        viewer=[graphql(p.app, "{ viewer { kind } }") for p in homes + people],
        home=screens,
        one_entry=interleave(ones),
        ten_entries=interleave(tens),
        uploads=uploads,
        readings_before=readings,
        trials=(home, diary),
    )


def _uuid(global_id: str, kind: str) -> str:
    from api.relay import from_global_id

    return str(from_global_id(global_id, kind)[1])


def _auth(person: Participant, content_type: str) -> dict[str, str]:
    return {"authorization": f"Bearer {person.app}", "content-type": content_type}


async def _upload(http: httpx.AsyncClient, person: Participant, lines: list[Any]) -> None:
    body = "".join(json.dumps(line) + "\n" for line in lines).encode()
    response = await http.post("/ingest/readings", content=body, headers=_auth(person, NDJSON))
    if response.status_code != 200:
        raise BenchError(f"/ingest/readings: HTTP {response.status_code} {response.text[:300]}")


async def stored(settings: Settings, trials: Sequence[Trial]) -> tuple[int, int]:
    """Diary entries and readings now stored in the trials' studies."""
    connection = await asyncpg.connect(asyncpg_dsn(owner_url(settings)))
    try:
        studies = [t.study_uuid for t in trials]
        entries = await connection.fetchval(
            "SELECT count(*) FROM diary_entries e JOIN participants p ON p.id = e.participant_id"
            " WHERE p.study_id = ANY($1::uuid[]) AND e.status = 'ACCEPTED'",
            studies,
        )
        readings = await connection.fetchval(
            "SELECT count(*) FROM device_readings r JOIN participants p ON p.id = r.participant_id"
            " WHERE p.study_id = ANY($1::uuid[])",
            studies,
        )
        return int(entries), int(readings)
    finally:
        await connection.close()


async def measure(url: str, world: World, seconds: int, connections: int) -> list[Result]:
    graph, ingest = "/graphql", "/ingest/readings"
    for warm in (world.floor, world.viewer, world.home):
        await asyncio.to_thread(drive, url, graph, warm, 2, connections, once=False)
    plan: list[tuple[str, str, list[Item], bool]] = [
        ("{ __typename } (floor)", graph, world.floor, False),
        ("{ viewer { kind } }", graph, world.viewer, False),
        ("home screen (diaryDue 2 d + 50 readings)", graph, world.home, False),
        ("submitDiaryEntries, 1 entry", graph, world.one_entry, True),
        ("submitDiaryEntries, 10 entries", graph, world.ten_entries, True),
        ("NDJSON upload, 1,000 readings", ingest, world.uploads, True),
    ]
    results = []
    for name, path, items, once in plan:
        raw = await asyncio.to_thread(drive, url, path, items, seconds, connections, once=once)
        results.append(result(name[:34], raw, items))
    return results


async def main(seconds: int, connections: int, workers: Sequence[int]) -> None:
    print(f"bench.http: {connections} connections, {seconds} s a scenario; {machine()}")
    runs: dict[int, list[Result]] = {}
    with tempfile.TemporaryDirectory() as folder:
        async with scratch_settings(pool_size=10, **NO_RATE_LIMITS) as settings:
            for count in workers:
                workdir = Path(folder) / f"w{count}"
                workdir.mkdir()
                async with (
                    hearth_serve(settings, count, workdir, connections) as url,
                    httpx.AsyncClient(base_url=url, timeout=120) as http,
                ):
                    world = await build(http, settings, str(count))
                    results = await measure(url, world, seconds, connections)
                entries, readings = await stored(settings, world.trials)
                runs[count] = results
                floor = results[0].rate
                print(f"{count} server process(es) + 1 worker:")
                for line in results:
                    print(line.line(floor))
                submitted = results[3:5]
                check = [
                    ("diary entries", entries, sum(r.stores_answered for r in submitted),
                     sum(r.stores_sent for r in submitted)),
                    ("readings", readings - world.readings_before, results[5].stores_answered,
                     results[5].stores_sent),
                ]  # fmt: skip
                for what, found, answered, sent in check:
                    print(
                        f"  stored: {found:,} {what}; {answered:,} in the requests answered, "
                        f"{sent:,} in those sent"
                    )
                    if not answered <= found <= sent:
                        raise BenchError(f"{what}: stored {found:,}, answered {answered:,}")
                if any(r.failed for r in results):
                    raise BenchError("some requests failed")
    if len(runs) == 2:
        one, two = (runs[k] for k in sorted(runs))
        print(f"{max(runs)} processes / {min(runs)}:")
        for a, b in zip(one, two, strict=True):
            print(f"  {a.name:<34} {b.rate / a.rate:5.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    options = parser.parse_args()
    from bench.common import run

    run(main(options.seconds, options.connections, options.workers))
