"""The integrator: gives written events their positions and chain hashes, and seals them.

Requests only write events and queue them (`audit_pending`). The integrator takes the queue
in insertion order, in batches, and for each log appends the events to its chain (position,
previous hash, hash) and, at most every `seal_every`, signs a checkpoint over it. One
integrator leads at a time (a session advisory lock); another one started beside it waits
to take over. Every batch, whoever runs it (`integrate_once`, an export fixing its
snapshot), holds a second lock, so the chain never forks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from domain.clock import Clock
from infra.eventlog import checkpoints
from infra.eventlog.chain import GENESIS, link_body
from infra.eventlog.checkpoints import Checkpoint
from infra.eventlog.logs import Log
from infra.eventlog.writer import WAKE_CHANNEL

BATCH_LOCK = 0x4845_4152_5448_4251  # "HEARTHBQ": one batch at a time
LEADER_LOCK = 0x4845_4152_5448_4C44  # "HEARTHLD": one integrator loop at a time
BATCH = 5_000
POLL_SECONDS = 1.0  # how often an idle integrator looks anyway (a wake-up may be missed)
SEAL_EVERY = timedelta(seconds=1)
log = logging.getLogger("hearth.integrator")

_PENDING = text(
    "SELECT p.ingest, e.log_id, e.body FROM audit_pending p "
    "JOIN audit_events e ON e.ingest = p.ingest "
    "WHERE CAST(:log AS uuid) IS NULL OR e.log_id = CAST(:log AS uuid) "
    "ORDER BY p.ingest LIMIT :limit"
)
_CHAIN = text(
    "INSERT INTO audit_chain (log_id, seq, ingest, prev_hash, hash) "
    "SELECT * FROM unnest(CAST(:logs AS uuid[]), CAST(:seqs AS bigint[]), "
    "CAST(:ingests AS bigint[]), CAST(:prevs AS bytea[]), CAST(:hashes AS bytea[]))"
)
_DEQUEUE = text("DELETE FROM audit_pending WHERE ingest = ANY(CAST(:ingests AS bigint[]))")
# Every log with a chain, found without reading the chain (a skip scan over its key).
LOGS_SQL = (
    "WITH RECURSIVE logs AS ("
    " (SELECT log_id FROM audit_chain ORDER BY log_id LIMIT 1)"
    " UNION ALL SELECT (SELECT c.log_id FROM audit_chain c WHERE c.log_id > logs.log_id"
    " ORDER BY c.log_id LIMIT 1) FROM logs WHERE logs.log_id IS NOT NULL)"
    " SELECT log_id FROM logs WHERE log_id IS NOT NULL"
)


@dataclass
class Integration:
    """What one call sequenced and sealed."""

    sequenced: int = 0
    sealed: list[Checkpoint] = field(default_factory=list)
    positions: dict[int, int] = field(default_factory=dict)  # ingest -> position


Publish = Callable[[Sequence[Checkpoint]], None]


class Integrator:
    def __init__(
        self,
        engine: AsyncEngine,
        key: Ed25519PrivateKey,
        clock: Clock,
        installation: uuid.UUID,
        *,
        publish: Publish | None = None,
        seal_every: timedelta = SEAL_EVERY,
        batch: int = BATCH,
    ) -> None:
        self._engine = engine
        self._key = key
        self._clock = clock
        self._installation = installation
        self._publish = publish or (lambda sealed: None)
        self._seal_every = seal_every
        self._batch = batch
        self._unsealed: set[uuid.UUID] | None = None  # None: not looked yet since start

    async def integrate_once(self, *, seal: bool = False) -> Integration:
        """Sequence everything queued so far; seal the logs that are due (every log: `seal`)."""
        done = Integration()
        while True:
            async with self._engine.connect() as connection, connection.begin():
                await _lock_batch(connection)
                session = AsyncSession(bind=connection)
                count, grown = await sequence(connection, done, limit=self._batch)
                sealed = await self._seal(session, grown, force=seal and count < self._batch)
            self._publish(sealed)
            done.sealed += sealed
            if count < self._batch:
                return done

    async def _seal(
        self, session: AsyncSession, grown: set[uuid.UUID], *, force: bool
    ) -> list[Checkpoint]:
        if self._unsealed is None:  # after a start: whatever an earlier run left unsealed
            self._unsealed = {uuid.UUID(str(r[0])) for r in await session.execute(text(LOGS_SQL))}
        self._unsealed |= grown
        now = self._clock.now()
        sealed = []
        for log_id in sorted(self._unsealed):
            if force or await self._due(session, log_id, now):
                checkpoint = await checkpoints.seal(
                    session, Log(self._installation, log_id), self._key, now
                )
                sealed += [checkpoint] if checkpoint else []
                self._unsealed.discard(log_id)
        return sealed

    async def _due(self, session: AsyncSession, log_id: uuid.UUID, now: datetime) -> bool:
        # The schedule lives in the database (the last checkpoint's time), so a restart
        # never postpones sealing.
        last = await checkpoints.latest(session, log_id)
        return last is None or now - last.created_at >= self._seal_every

    @property
    def has_unsealed(self) -> bool:
        return bool(self._unsealed)

    async def run(self, stop: asyncio.Event) -> None:
        """Lead (or wait to lead) until `stop` is set; then sequence and seal what is left."""
        async with self._engine.connect() as leader:
            if not await _lead(leader, stop):
                return
            wake = asyncio.Event()

            def woken(*_: object) -> None:
                wake.set()

            raw = (await leader.get_raw_connection()).driver_connection
            assert raw is not None
            await raw.add_listener(WAKE_CHANNEL, woken)
            try:
                await self._loop(stop, wake)
            finally:
                with contextlib.suppress(Exception):
                    await raw.remove_listener(WAKE_CHANNEL, woken)
                await self.integrate_once(seal=True)  # seal on shutdown: no unsealed tail
                await leader.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LEADER_LOCK})
                await leader.commit()

    async def _loop(self, stop: asyncio.Event, wake: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.integrate_once()
            except Exception:  # the database may be away for a moment: try again later
                log.exception("integrating the audit log failed; retrying")
            timeout = self._seal_every.total_seconds() if self.has_unsealed else POLL_SECONDS
            await _wait_any(stop, wake, timeout)
            wake.clear()


_COLUMNS = ("logs", "seqs", "ingests", "prevs", "hashes")


async def sequence(
    connection: AsyncConnection,
    done: Integration,
    *,
    limit: int = BATCH,
    log_id: uuid.UUID | None = None,
) -> tuple[int, set[uuid.UUID]]:
    """One batch: the oldest queued events (of `log_id`, or of every log) appended to their
    chains. The caller holds the batch lock. Returns how many, and which logs grew."""
    rows = (await connection.execute(_PENDING, {"log": log_id, "limit": limit})).all()
    if not rows:
        return 0, set()
    session = AsyncSession(bind=connection)
    heads: dict[uuid.UUID, tuple[int, bytes]] = {}
    chain: list[tuple[uuid.UUID, int, int, bytes, bytes]] = []
    for ingest, log, body in rows:
        if log not in heads:
            size, last = await checkpoints.head(session, log)
            heads[log] = (size, last or GENESIS)
        seq, prev = heads[log]
        digest = link_body(prev, body.encode())
        chain.append((log, seq + 1, ingest, prev, digest))
        heads[log] = (seq + 1, digest)
        done.positions[ingest] = seq + 1
    columns = [list(c) for c in zip(*chain, strict=True)]
    await connection.execute(_CHAIN, dict(zip(_COLUMNS, columns, strict=True)))
    await connection.execute(_DEQUEUE, {"ingests": [r.ingest for r in rows]})
    done.sequenced += len(rows)
    return len(rows), set(heads)


async def _lock_batch(connection: AsyncConnection) -> None:
    await connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": BATCH_LOCK})


async def _lead(leader: AsyncConnection, stop: asyncio.Event) -> bool:
    """Take the leader's lock, waiting while another integrator holds it; False if stopped."""
    while not stop.is_set():
        taken = await leader.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": LEADER_LOCK})
        await leader.commit()
        if taken:
            return True
        await _wait_any(stop, asyncio.Event(), POLL_SECONDS)
    return False


async def _wait_any(stop: asyncio.Event, wake: asyncio.Event, seconds: float) -> None:
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


@dataclass(frozen=True)
class SnapshotPoint:
    """Where a log stands in a snapshot once what the snapshot sees is sequenced."""

    size: int
    head: bytes
    positions: dict[int, int]  # ingest -> position, for events the snapshot saw unsequenced


@contextlib.asynccontextmanager
async def held(engine: AsyncEngine) -> AsyncIterator[Callable[[str, uuid.UUID], Any]]:
    """Hold off every batch while a REPEATABLE READ snapshot is taken, then sequence exactly
    what that snapshot sees of one log, inside it (`SET TRANSACTION SNAPSHOT`).

    Yields `sequence(snapshot_id, log_id) -> SnapshotPoint`: the snapshot's state is then
    precisely the log's first `size` events, however busy the writers are.
    """
    async with engine.connect() as connection:
        await connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": BATCH_LOCK})
        await connection.commit()
        try:
            yield lambda snapshot, log_id: _sequence_snapshot(connection, snapshot, log_id)
        finally:
            await connection.rollback()
            await connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": BATCH_LOCK})
            await connection.commit()


async def _sequence_snapshot(
    connection: AsyncConnection, snapshot: str, log_id: uuid.UUID
) -> SnapshotPoint:
    shared = await connection.execution_options(isolation_level="REPEATABLE READ")
    done = Integration()
    async with shared.begin():
        await shared.execute(text(f"SET TRANSACTION SNAPSHOT '{_snapshot_id(snapshot)}'"))
        while (await sequence(shared, done, log_id=log_id))[0] == BATCH:
            pass
        size, head = await checkpoints.head(AsyncSession(bind=shared), log_id)
    return SnapshotPoint(size, head, done.positions)


def _snapshot_id(snapshot: str) -> str:
    # pg_export_snapshot() gives e.g. "00000003-0000001B-1"; nothing else may reach SQL.
    if not snapshot or any(c not in "0123456789ABCDEFabcdef-" for c in snapshot):
        raise ValueError("not a snapshot id")
    return snapshot
