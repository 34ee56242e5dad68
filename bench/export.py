"""Export throughput and memory: a generated study with 1,000,000 readings, every format.

    python -m bench.export [--readings 1000000] [--participants 100]

The study (participants enrolled through the use cases, one watch each, readings written
with COPY) lives in a scratch database. Each export then runs in a fresh process through
the same engine the server and `hearth export` use; its resident set is sampled while it
runs (the largest value, against the value before: what the export itself holds);
the baseline is PostgreSQL's `COPY (SELECT ...) TO STDOUT` of the same readings in a
process of its own: the fastest the rows can leave the database. A run at a tenth of the
size shows whether memory grows with the study.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from pydantic import SecretStr

from api.app import build_runtime
from api.settings import Environment, Settings
from bench.common import scratch_runtime
from domain.actors import Actor, ActorKind, Grant, Origin, RequestContext, Role
from domain.consent import ConsentText
from domain.exports import ExportFormat
from domain.ids import DeviceId, ParticipantId, StudyId
from domain.readings import ReadingKind
from domain.services import consent, design, devices, exports, participants, studies
from infra.db.readings import READING_COLUMNS

BATCH = 50_000


def caller(actor: Actor) -> RequestContext:
    return RequestContext(actor=actor, origin=Origin(request_id="bench-export"))


def admin() -> Actor:
    return Actor(ActorKind.STAFF, uuid.uuid4(), (Grant(Role.ADMIN),))


async def _study(runtime: Any, people: int) -> tuple[StudyId, list[tuple[ParticipantId, DeviceId]]]:
    """A study with `people` enrolled participants, each holding a heart-rate watch."""
    uow = runtime.services.uow
    boss = caller(admin())
    study = await studies.create_study(
        uow=uow(), ctx=boss, code=f"BX{uuid.uuid4().hex[:6]}".upper(), title="Export bench"
    )
    site = await studies.create_site(
        uow=uow(),
        ctx=boss,
        study_id=study.id,
        code="BER",
        name="Berlin",
        country="DE",
        timezone="Europe/Berlin",
    )
    staff = caller(
        Actor(ActorKind.STAFF, uuid.uuid4(), (Grant(Role.COORDINATOR, study.id, site.id),))
    )
    arm = await design.create_arm(uow=uow(), ctx=boss, study_id=study.id, code="A", name="Active")
    version = await consent.publish_version(
        uow=uow(), ctx=boss, study_id=study.id, texts=(ConsentText("en", "Consent", "Body"),)
    )
    held = []
    for n in range(people):
        person = await participants.register_participant(
            uow=uow(), ctx=staff, site_id=site.id, screening_number=f"S-{n:05}"
        )
        app = RequestContext(
            actor=Actor(
                ActorKind.PARTICIPANT, person.id, (Grant(Role.PARTICIPANT, study.id, site.id),)
            ),
            origin=boss.origin,
        )
        await consent.sign(
            uow=uow(), ctx=app, consent_version_id=version.id, language="en", name="P"
        )
        await participants.enrol_in_arm(
            uow=uow(), ctx=staff, participant_id=person.id, arm_id=arm.id
        )
        watch = await devices.register(
            uow=uow(),
            ctx=staff,
            site_id=site.id,
            kinds=(ReadingKind.HEART_RATE,),
            model="W",
            serial=f"W{n:05}",
        )
        await devices.assign(uow=uow(), ctx=staff, device_id=watch.id, participant_id=person.id)
        held.append((person.id, watch.id))
    return study.id, held


def _rows(
    study: uuid.UUID,
    site: uuid.UUID,
    held: Sequence[tuple[uuid.UUID, uuid.UUID]],
    total: int,
    first: int,
) -> Iterator[tuple[Any, ...]]:
    """`total` readings, one a minute per watch, from minute `first` on."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    batch = uuid.uuid4()
    now = datetime.now(UTC)
    per = total // len(held)
    for person, watch in held:
        for i in range(first, first + per):
            at = start + timedelta(minutes=i)
            beats = 55 + i % 60
            components = json.dumps(
                {
                    "heart_rate": {
                        "value": f"{beats}.000",
                        "unit": "/min",
                        "original_value": str(beats),
                        "original_unit": "beats/min",
                    }
                }
            )
            yield (
                uuid.uuid4(),
                person,
                watch,
                study,
                site,
                "HEART_RATE",
                at,
                None,
                "+01:00",
                f"hr-{i}",
                components,
                beats,
                now,
                None,
                False,
                batch,
                1,
            )


async def _readings(
    owner: str,
    study: uuid.UUID,
    held: Sequence[tuple[uuid.UUID, uuid.UUID]],
    total: int,
    first: int,
) -> None:
    connection = await asyncpg.connect(owner.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        site = await connection.fetchval("SELECT id FROM sites WHERE study_id = $1", study)
        chunk: list[tuple[Any, ...]] = []
        for row in _rows(study, site, held, total, first):
            chunk.append(row)
            if len(chunk) == BATCH:
                await connection.copy_records_to_table(
                    "device_readings", records=chunk, columns=READING_COLUMNS
                )
                chunk.clear()
        if chunk:
            await connection.copy_records_to_table(
                "device_readings", records=chunk, columns=READING_COLUMNS
            )
        await connection.execute("ANALYZE device_readings")
    finally:
        await connection.close()


# -- one measurement, in a process of its own ---------------------------------------------


def _rss_mib() -> float:
    with open("/proc/self/statm") as statm:  # pages: size resident shared ...
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class _RssSampler:
    """The largest resident set seen while the work runs (sampled every 50 ms): peak RSS
    without the import-time peak that ru_maxrss also remembers."""

    def __init__(self) -> None:
        self.before = _rss_mib()
        self.largest = self.before
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> _RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.largest = max(self.largest, _rss_mib())
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            self.largest = max(self.largest, _rss_mib())


async def _one_export(args: argparse.Namespace) -> dict[str, Any]:
    settings = Settings(
        env=Environment.TEST,
        database_url=SecretStr(args.database),
        key_file=Path(args.keys),
        export_dir=Path(args.out).parent,
        db_pool_size=2,
    )
    runtime = build_runtime(settings)
    ctx = caller(admin())
    try:
        with _RssSampler() as memory:
            started = time.perf_counter()
            job = await exports.start(
                uow=runtime.services.uow(),
                ctx=ctx,
                study_id=StudyId(uuid.UUID(args.study)),
                format=ExportFormat(args.format),
            )
            # The worker's task, run here: the figure is the export's own, without a queue.
            done = await exports.run(
                uows=runtime.services.uow,
                engine=runtime.export_engine,
                ctx=ctx,
                job_id=job.id,
                directory=args.out,
            )
            assert done is not None
            seconds = time.perf_counter() - started
    finally:
        await runtime.close()
    return {
        "seconds": seconds,
        "rows": sum(f.rows for f in done.files),
        "bytes": sum(f.bytes for f in done.files),
        "start_mib": memory.before,
        "peak_mib": memory.largest,
    }


async def _one_copy(args: argparse.Namespace) -> dict[str, Any]:
    connection = await asyncpg.connect(
        args.database.replace("postgresql+asyncpg://", "postgresql://")
    )
    sink = _Counting()
    try:
        with _RssSampler() as memory:
            started = time.perf_counter()
            await connection.copy_from_query(
                "SELECT * FROM device_readings WHERE study_id = $1"
                " ORDER BY participant_id, effective_start",
                uuid.UUID(args.study),
                output=sink.write,
            )
            seconds = time.perf_counter() - started
    finally:
        await connection.close()
    return {
        "seconds": seconds,
        "rows": sink.lines,
        "bytes": sink.size,
        "start_mib": memory.before,
        "peak_mib": memory.largest,
    }


class _Counting:
    def __init__(self) -> None:
        self.size = 0
        self.lines = 0

    async def write(self, data: bytes) -> None:
        self.size += len(data)
        self.lines += data.count(b"\n")


def _measure(kind: str, database: str, keys: Path, study: uuid.UUID, out: Path) -> dict[str, Any]:
    command = [
        sys.executable,
        "-m",
        "bench.export",
        "--one",
        kind,
        "--database",
        database,
        "--keys",
        str(keys),
        "--study",
        str(study),
        "--out",
        str(out),
    ]
    result = subprocess.run(
        command, check=True, capture_output=True, text=True, cwd=Path(__file__).parents[1]
    )
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


# -- the benchmark -------------------------------------------------------------------------


def _report(label: str, readings: int, figure: dict[str, Any], copy: dict[str, Any]) -> str:
    rate = readings / figure["seconds"]
    ratio = rate / (readings / copy["seconds"])
    return (
        f"{label:<10} {figure['seconds']:7.1f} s  {rate:>9,.0f} readings/s  "
        f"{figure['rows']:>10,} rows  {figure['bytes'] / 2**20:>8,.0f} MiB written  "
        f"peak RSS {figure['peak_mib']:6.0f} MiB (start {figure['start_mib']:.0f})  "
        f"{ratio:5.3f}x COPY"
    )


async def _bench(total: int, people: int, small: bool) -> None:
    async with scratch_runtime(pool_size=4) as (runtime, owner):
        keys = runtime.settings.key_path
        study, held = await _study(runtime, people)
        sizes = [total // 10, total] if small else [total]
        done = 0
        with tempfile.TemporaryDirectory(prefix="hearth-export-bench-") as scratch:
            for size in sizes:
                started = time.perf_counter()
                await _readings(owner, study, held, size - done, done // len(held))
                done = size
                took = time.perf_counter() - started
                print(f"\n{size:,} readings of {people} participants (generated in {took:.0f} s)")
                copy = await asyncio.to_thread(
                    _measure, "COPY", owner, keys, study, Path(scratch) / "copy"
                )
                print(_report("raw COPY", size, copy, copy))
                for format in ExportFormat:
                    out = Path(scratch) / f"{format.value}-{size}"
                    figure = await asyncio.to_thread(
                        _measure, format.value, owner, keys, study, out
                    )
                    print(_report(format.value, size, figure, copy))
                    await asyncio.to_thread(shutil.rmtree, out)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--readings", type=int, default=1_000_000)
    parser.add_argument("--participants", type=int, default=100)
    parser.add_argument(
        "--no-small", action="store_true", help="skip the run at a tenth of the size"
    )
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    parser.add_argument("--keys", help=argparse.SUPPRESS)
    parser.add_argument("--study", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one == "COPY":
        print(json.dumps(asyncio.run(_one_copy(args))))
    elif args.one:
        args.format = args.one
        print(json.dumps(asyncio.run(_one_export(args))))
    else:
        print(f"Export benchmark on {os.cpu_count()} CPUs")
        asyncio.run(_bench(args.readings, args.participants, not args.no_small))


if __name__ == "__main__":
    main()
