"""Event log throughput: appends under 1, 8 and 32 writers vs plain inserts; verify vs SHA-256.

    python bench/audit.py [--events 3000]

Each append is its own transaction (as in the application: one use case, one commit), so
the figure includes the advisory lock, reading the chain head, hashing and the commit. The
baseline inserts the same rows into an identical table without lock or chain.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import time
import uuid
from typing import Any

from sqlalchemy import MetaData, Table, insert, text

from api.app import Runtime
from bench.common import scratch_runtime
from domain.actors import Grant, Origin, RequestContext, Role, system_actor
from domain.audit import Change, FieldChange, Subject
from infra.db.data_keys import DataKeyStore, FieldCipher
from infra.db.engine import create_engine
from infra.db.tables import AuditEventRow
from infra.eventlog.chain import canonical, record_of
from infra.eventlog.writer import EventLogWriter

_EVENTS = AuditEventRow.__table__  # type: ignore[attr-defined]


def _change(n: int) -> Change:
    ctx = RequestContext(actor=system_actor("bench"), origin=Origin(request_id=f"bench-{n}"))
    return Change(
        entity_type="Study",
        entity_id=uuid.uuid4(),
        action="updated",
        fields=(
            FieldChange("title", f"Title {n}", f"Title {n + 1}"),
            FieldChange("code", None, f"C{n}"),
        ),
        actor=ctx.actor,
        role=Grant(Role.SYSTEM).role,
        origin=ctx.origin,
        subject=Subject(study_id=uuid.uuid4()),
        reason="benchmark",
    )


async def _append(runtime: Runtime, count: int) -> None:
    writer = EventLogWriter()
    storage = runtime.storage
    for n in range(count):
        async with storage.sessions() as session, session.begin():
            cipher = FieldCipher(DataKeyStore(session, runtime.keys, storage.clock), runtime.keys)
            await writer.append(session, [_change(n)], storage.clock, cipher)


async def _plain(runtime: Runtime, table: Table, count: int) -> None:
    for n in range(count):
        change = _change(n)
        row: dict[str, Any] = {
            "id": uuid.uuid4(),
            "recorded_at": runtime.storage.clock.now(),
            "actor_kind": change.actor.kind.value,
            "actor_id": change.actor.id,
            "actor_role": change.role.value,
            "study_id": change.subject.study_id,
            "site_id": None,
            "participant_id": None,
            "entity_type": change.entity_type,
            "entity_id": change.entity_id,
            "action": change.action,
            "fields": [{"field": f.field, "old": f.old, "new": f.new} for f in change.fields],
            "reason": {"text": change.reason},
            "origin": {"requestId": change.origin.request_id},
            "prev_hash": b"",
            "hash": b"",
        }
        async with runtime.storage.sessions() as session, session.begin():
            await session.execute(insert(table), [row])


async def _timed(writers: int, total: int, action: Any) -> float:
    share = total // writers
    started = time.perf_counter()
    await asyncio.gather(*(action(share) for _ in range(writers)))
    return share * writers / (time.perf_counter() - started)


async def _plain_table(owner: str) -> Table:
    """A copy of the event table without trigger, lock or chain, for the baseline."""
    engine = create_engine(owner, pool_size=1)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE bench_plain (LIKE audit_events)"))
            await connection.execute(
                text("ALTER TABLE bench_plain ALTER COLUMN seq ADD GENERATED ALWAYS AS IDENTITY")
            )
            await connection.execute(text("GRANT INSERT, SELECT ON bench_plain TO hearth_app"))
            return await connection.run_sync(
                lambda c: Table("bench_plain", MetaData(), autoload_with=c)
            )
    finally:
        await engine.dispose()


async def main(events: int) -> None:
    async with scratch_runtime(pool_size=40) as (runtime, owner):
        plain_table = await _plain_table(owner)
        print(f"Event log appends, one transaction per event, {events} events per run")
        print(f"{'writers':>8} {'chained ev/s':>14} {'plain inserts/s':>16} {'ratio':>7}")
        for writers in (1, 8, 32):
            chained = await _timed(writers, events, lambda n: _append(runtime, n))
            plain = await _timed(writers, events, lambda n: _plain(runtime, plain_table, n))
            print(f"{writers:>8} {chained:>14,.0f} {plain:>16,.0f} {chained / plain:>7.2f}")
        await _verify(runtime)


async def _verify(runtime: Runtime) -> None:
    report = await runtime.verify_audit()
    if not report.ok:
        raise SystemExit(f"verify failed: {report.problem}")
    async with runtime.storage.sessions() as session:
        rows = await session.execute(text("SELECT * FROM audit_events ORDER BY seq"))
        blobs = [canonical(record_of(dict(r._mapping))) for r in rows]
    started = time.perf_counter()
    prev = bytes(32)
    for blob in blobs:
        prev = hashlib.sha256(prev + blob).digest()
    raw = len(blobs) / (time.perf_counter() - started)
    rate = report.events / report.seconds
    print()
    print(
        f"audit verify: {report.events:,} events in {report.seconds:.2f} s = {rate:,.0f} events/s"
    )
    print(
        f"raw SHA-256 chain over the same canonical bytes: {raw:,.0f} events/s "
        f"(verify takes {raw / rate:.1f}x as long: it also reads, canonicalises and builds "
        f"the Merkle tree)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=3200)
    asyncio.run(main(parser.parse_args().events))
