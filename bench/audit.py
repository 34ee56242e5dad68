"""The event log: appends from 2 processes to 2 studies, time to sealed, and verify speed.

    TEST_DATABASE_URL=postgresql+asyncpg://... python -m bench.audit [--events 10000]
        [--writers 16]

- appends: 2 writer processes, each with --writers concurrent tasks on its own study's log,
  every event its own transaction (as in the application: one use case, one commit), while
  the integrator runs in a third process, sequencing and sealing as in production. Beside
  it, the same bytes inserted the same way into a plain table (no log, no queue, no index):
  the ceiling PostgreSQL sets for one-row transactions on this machine.
- commit to sealed: for every event, from its commit (writer's clock) to the creation of the
  first checkpoint that covers it (the integrator's clock, same machine), p50 and p99.
- verify: `audit verify` over everything written (every log, checkpoint and published copy;
  personal values and state tables, which these events do not touch), against SHA-256
  chained over the same stored bytes in memory, in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import multiprocessing
import os
import time
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import text

from api.app import Runtime, build_runtime
from api.cli.integration import integrator_process, stop
from api.settings import Settings
from bench.common import machine, owner_url, percentile, run, scratch_settings
from domain.actors import Origin, Role, system_actor
from domain.audit import Change, FieldChange, Subject
from domain.clock import SystemClock
from infra.db.data_keys import DataKeyStore, FieldCipher
from infra.eventlog.chain import GENESIS

PLAIN = "CREATE TABLE bench_plain (id bigserial PRIMARY KEY, body text NOT NULL)"


def _change(study: uuid.UUID, n: int) -> Change:
    """A realistic event: two fields, a reason, the request's origin; no personal values."""
    return Change(
        entity_type="BenchRecord",  # no state table behind it: verify compares only the log
        entity_id=uuid.uuid4(),
        action="updated",
        fields=(
            FieldChange("title", f"Title {n}", f"Title {n + 1}"),
            FieldChange("code", None, f"C{n}"),
        ),
        actor=system_actor("bench"),
        role=Role.SYSTEM,
        origin=Origin(request_id=f"bench-{n}", app_version="1.4.2", device_id="d-1"),
        subject=Subject(study_id=study),
        reason="benchmark",
    )


Committed = list[tuple[str, float]]  # event id, commit time (epoch seconds)


async def _append(runtime: Runtime, study: uuid.UUID, count: int, committed: Committed) -> None:
    storage = runtime.storage
    writer = storage.log  # one per process, as in the application: wake-ups are per process
    for n in range(count):
        async with storage.sessions() as session, session.begin():
            cipher = FieldCipher(DataKeyStore(session, runtime.keys, storage.clock), runtime.keys)
            (event,) = await writer.append(session, [_change(study, n)], storage.clock, cipher)
        committed.append((str(event), time.time()))


async def _plain(runtime: Runtime, study: uuid.UUID, count: int, committed: Committed) -> None:
    body = '{"bench":"' + "x" * 600 + '"}'  # about an event's size
    for _ in range(count):
        async with runtime.storage.sessions() as session, session.begin():
            await session.execute(text("INSERT INTO bench_plain (body) VALUES (:b)"), {"b": body})
        committed.append(("", time.time()))


async def _writer(
    settings: Settings, study: uuid.UUID, events: int, tasks: int, plain: bool
) -> Committed:
    runtime = build_runtime(settings.model_copy(update={"db_pool_size": tasks}))
    committed: Committed = []
    action = _plain if plain else _append
    try:
        await asyncio.gather(
            *(action(runtime, study, events // tasks, committed) for _ in range(tasks))
        )
    finally:
        await runtime.close()
    return committed


Result = tuple[float, float, Committed]  # started, finished, what was committed


def _process(args: tuple[Settings, uuid.UUID, int, int, bool]) -> Result:
    started = time.time()
    committed = run(_writer(*args))
    return started, time.time(), committed


def _rate(results: Sequence[Result]) -> float:
    events = sum(len(r[2]) for r in results)
    return events / (max(r[1] for r in results) - min(r[0] for r in results))


def _writers(settings: Settings, events: int, tasks: int, *, plain: bool) -> list[Result]:
    studies = [uuid.uuid4(), uuid.uuid4()]
    spawn = multiprocessing.get_context("spawn")
    with spawn.Pool(2) as pool:
        return pool.map(_process, [(settings, s, events // 2, tasks, plain) for s in studies])


async def _sealed_at(runtime: Runtime) -> dict[str, float]:
    """When the first checkpoint covering each event was made (epoch seconds)."""
    async with runtime.engine.connect() as connection:
        rows = (
            await connection.execute(
                text(
                    "SELECT e.id::text, extract(epoch FROM (SELECT min(k.created_at) "
                    "FROM audit_checkpoints k WHERE k.log_id = c.log_id AND k.tree_size >= c.seq)) "
                    "FROM audit_chain c JOIN audit_events e ON e.ingest = c.ingest"
                )
            )
        ).all()
    return {r[0]: float(r[1]) for r in rows if r[1] is not None}


async def _prepare(settings: Settings) -> None:
    runtime = build_runtime(settings, owner=True)
    try:
        async with runtime.engine.begin() as connection:
            await connection.execute(text(PLAIN))
            await connection.execute(
                text("GRANT ALL ON bench_plain, bench_plain_id_seq TO hearth_app")
            )
    finally:
        await runtime.close()


async def _verify(settings: Settings) -> None:
    runtime = build_runtime(settings, clock=SystemClock())
    try:
        await runtime.seal_checkpoints()
        report = await runtime.verify_audit()
        if not report.ok:
            raise SystemExit(f"verify failed: {report.problems[:3]}")
        bodies = await _bodies(runtime)
    finally:
        await runtime.close()
    started = time.perf_counter()
    for log in bodies:
        prev = GENESIS
        for body in log:
            prev = hashlib.sha256(prev + body).digest()
    raw = report.events / (time.perf_counter() - started)
    whole, logs = report.events / report.seconds, report.events / report.phases["logs"]
    print(
        f"audit verify, {report.events:,} events in {len(report.logs)} logs "
        f"({report.checkpoints} checkpoints and as many published copies):"
    )
    print(f"  whole check      {whole:>12,.0f} events/s  {whole / raw:5.2f}x raw SHA-256")
    print(f"  chains and trees {logs:>12,.0f} events/s  {logs / raw:5.2f}x raw SHA-256")
    print(f"  raw SHA-256 chained over the same stored bytes: {raw:,.0f} events/s")
    print("  phases: " + ", ".join(f"{k} {v:.2f} s" for k, v in report.phases.items()))


async def _bodies(runtime: Runtime) -> list[list[bytes]]:
    async with runtime.engine.connect() as connection:
        rows = (
            await connection.execute(
                text(
                    "SELECT c.log_id, e.body FROM audit_chain c JOIN audit_events e "
                    "ON e.ingest = c.ingest ORDER BY c.log_id, c.seq"
                )
            )
        ).all()
    logs: dict[Any, list[bytes]] = {}
    for log_id, body in rows:
        logs.setdefault(log_id, []).append(body.encode())
    return list(logs.values())


async def _main(events: int, tasks: int) -> None:
    async with scratch_settings(pool_size=4) as settings:
        await _run(settings, events, tasks)


async def _run(settings: Settings, events: int, tasks: int) -> None:
    await _prepare(settings)
    print(f"Event log, {machine()}")
    plain = _rate(_writers(settings, events, tasks, plain=True))
    env = _environment(settings)
    with integrator_process(env) as child:
        results = _writers(settings, events, tasks, plain=False)
        rate = _rate(results)
        await asyncio.sleep(3)  # what was committed last gets sealed within a second or two
        stop(child)
    runtime = build_runtime(settings)
    try:
        sealed = await _sealed_at(runtime)
    finally:
        await runtime.close()
    committed = [c for r in results for c in r[2]]
    latency = [sealed[event] - at for event, at in committed if event in sealed]
    if len(latency) != len(committed):
        raise SystemExit(f"{len(committed) - len(latency)} events were never sealed")
    print(f"appends, 2 processes x {tasks} writers, 2 studies, one transaction per event:")
    print(
        f"  {rate:>10,.0f} events/s   (plain one-row inserts, same bytes: {plain:,.0f}/s, "
        f"{rate / plain:.2f}x)"
    )
    print(
        f"commit to sealed in a checkpoint: p50 {percentile(latency, 0.5):.2f} s, "
        f"p99 {percentile(latency, 0.99):.2f} s, max {max(latency):.2f} s"
    )
    await _verify(settings)


def _environment(settings: Settings) -> dict[str, str]:
    return dict(os.environ) | {
        "DATABASE_URL": owner_url(settings),
        "HEARTH_KEY_FILE": str(settings.key_path),
        "HEARTH_CHECKPOINT_DIR": str(settings.checkpoint_path),
        "HEARTH_LOG_LEVEL": "WARNING",
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--writers", type=int, default=16)
    options = parser.parse_args()
    run(_main(options.events, options.writers))
