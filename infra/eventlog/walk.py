"""One log, walked once in position order: chain, Merkle roots, checkpoints, trusted copies.

This is `hearth audit verify`'s inner loop, so it reads the chain and the stored bodies
straight through asyncpg in large batches and hashes them with as little Python between
the hashes as possible. It stops at the first position that does not check out.
"""

from __future__ import annotations

import asyncio
import bisect
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from infra.eventlog import merkle
from infra.eventlog.chain import GENESIS
from infra.eventlog.checkpoints import Checkpoint, SignedCheckpoint
from infra.eventlog.logs import Log

BATCH = 4_000
_ROWS = (
    "SELECT c.seq, c.prev_hash, c.hash, e.body "
    "FROM audit_chain c JOIN audit_events e ON e.ingest = c.ingest AND e.log_id = c.log_id "
    "WHERE c.log_id = $1 AND c.seq > $2 ORDER BY c.seq LIMIT $3"
)
_SIZE = "SELECT max(seq) FROM audit_chain WHERE log_id = $1"


@dataclass(frozen=True)
class Problem:
    log: str  # the log's origin; "" for a problem outside any log
    position: int | None  # None: an event not yet in its log, or a record
    reason: str


@dataclass
class LogReport:
    origin: str
    size: int = 0  # what the chain table claims
    events: int = 0  # verified, from position 1
    checkpoints: int = 0
    trusted: int = 0
    covered: int = 0  # positions covered by the newest verified checkpoint
    newest_checkpoint: datetime | None = None
    head: bytes = GENESIS
    pending: int = 0

    @property
    def unsealed(self) -> int:
        return self.events - self.covered


@dataclass
class _Expect:
    """The roots the walk must meet at given sizes, and the proof it must build."""

    stored: dict[int, Checkpoint]
    trusted: dict[int, list[SignedCheckpoint]]
    proof_ranges: list[merkle.Range] = field(default_factory=list)


async def walk(
    connection: Any,
    log: Log,
    stored: Sequence[Checkpoint],
    trusted: Sequence[SignedCheckpoint],
    key: Ed25519PublicKey,
) -> tuple[LogReport, Problem | None]:
    """Verify the log; `connection` is the asyncpg connection of the verifying snapshot."""
    report = LogReport(log.origin, size=int(await connection.fetchval(_SIZE, log.id) or 0))
    problem = _signatures(log, stored, key, report)
    if problem:
        return report, problem
    expect = _Expect({c.tree_size: c for c in stored}, _by_size(trusted))
    newest = max(trusted, key=lambda t: t.tree_size, default=None)
    if newest is not None and 0 < newest.tree_size <= report.size:
        expect.proof_ranges = merkle.consistency_ranges(newest.tree_size, report.size)
    tree = merkle.MerkleAccumulator()
    proof = _ProofBuilder(expect.proof_ranges)
    problem = await _chain(connection, log, report=report, tree=tree, expect=expect, proof=proof)
    if problem is None:
        problem = _beyond(log, report, expect) or _consistent(log, report, newest, tree, proof)
    return report, problem


def _signatures(
    log: Log, stored: Sequence[Checkpoint], key: Ed25519PublicKey, report: LogReport
) -> Problem | None:
    for checkpoint in stored:
        if not checkpoint.signed_by(key, log.origin):
            return Problem(
                log.origin,
                checkpoint.tree_size,
                "the checkpoint's signature is not valid (forged checkpoint)",
            )
    return None


def _by_size(trusted: Sequence[SignedCheckpoint]) -> dict[int, list[SignedCheckpoint]]:
    found: dict[int, list[SignedCheckpoint]] = {}
    for checkpoint in trusted:
        found.setdefault(checkpoint.tree_size, []).append(checkpoint)
    return found


async def _chain(
    connection: Any,
    log: Log,
    *,
    report: LogReport,
    tree: merkle.MerkleAccumulator,
    expect: _Expect,
    proof: _ProofBuilder,
) -> Problem | None:
    sizes = sorted(set(expect.stored) | set(expect.trusted))
    ahead = asyncio.ensure_future(connection.fetch(_ROWS, log.id, 0, BATCH))
    try:
        while rows := await ahead:
            # Ask for the next batch before hashing this one: the server reads and sends it
            # while this process hashes, instead of each waiting for the other.
            ahead = asyncio.ensure_future(connection.fetch(_ROWS, log.id, rows[-1][0], BATCH))
            await asyncio.sleep(0)
            leaves, problem = _links(log, rows, report.events + 1, report.head)
            found = _grow(log, report, tree=tree, leaves=leaves, sizes=sizes, expect=expect)
            proof.feed(report.events, leaves)
            report.events += len(leaves)
            report.head = leaves[-1] if leaves else report.head
            if problem or found:
                return problem or found
        return None
    finally:
        await ahead  # the connection serves one query at a time: let this one finish


def _links(
    log: Log, rows: Sequence[Any], expected: int, running: bytes
) -> tuple[list[bytes], Problem | None]:
    """The batch's chain hashes up to the first link that does not hold (and the problem)."""
    sha256, leaves = hashlib.sha256, list[bytes]()
    for seq, prev_hash, digest, body in rows:
        if seq != expected:
            return leaves, Problem(
                log.origin, expected, f"event {expected} is missing (the next one present is {seq})"
            )
        if prev_hash != running:
            return leaves, Problem(
                log.origin,
                expected,
                "does not follow the event before it (reordered, inserted or removed)",
            )
        if sha256(running + body.encode()).digest() != digest:
            return leaves, Problem(
                log.origin, expected, "its content does not match its hash (changed)"
            )
        leaves.append(digest)
        running, expected = digest, expected + 1
    return leaves, None


def _grow(
    log: Log,
    report: LogReport,
    *,
    tree: merkle.MerkleAccumulator,
    leaves: list[bytes],
    sizes: list[int],
    expect: _Expect,
) -> Problem | None:
    """Add a batch of leaves, stopping at every size a checkpoint names to compare roots."""
    start, end = tree.size, tree.size + len(leaves)
    for size in sizes[bisect.bisect_right(sizes, start) : bisect.bisect_right(sizes, end)]:
        tree.extend(leaves[tree.size - start : size - start])
        found = _meet(
            log, report, root=tree.root(), head=leaves[size - start - 1], size=size, expect=expect
        )
        if found:
            return found
    tree.extend(leaves[tree.size - start :])
    return None


def _meet(
    log: Log, report: LogReport, *, root: bytes, head: bytes, size: int, expect: _Expect
) -> Problem | None:
    stored = expect.stored.get(size)
    if stored is not None:
        if stored.root_hash != root or stored.chain_head != head:
            return Problem(
                log.origin,
                size,
                "the checkpoint's Merkle root does not match the log (forged or rewritten)",
            )
        report.checkpoints += 1
        report.covered = size
        report.newest_checkpoint = stored.created_at
    for trusted in expect.trusted.get(size, []):
        if trusted.root_hash != root:
            return Problem(
                log.origin,
                size,
                f"the log's first {size} events are not the ones a trusted checkpoint signed "
                "(rewritten at or before this position)",
            )
        if stored is None:  # every checkpoint sealed is stored: this one was deleted
            return Problem(
                log.origin,
                size,
                "a checkpoint signed at this size (kept outside the database) is missing from "
                "the database (checkpoints deleted)",
            )
        report.trusted += 1
    return None


def _beyond(log: Log, report: LogReport, expect: _Expect) -> Problem | None:
    """Checkpoints that cover more than the log holds: its tail was cut off."""
    if report.events < report.size:
        return Problem(log.origin, report.events + 1, f"event {report.events + 1} is missing")
    longer = [s for s in (*expect.stored, *expect.trusted) if s > report.events]
    if not longer:
        return None
    size = max(longer)
    source = "a trusted checkpoint" if size in expect.trusted else "a checkpoint"
    return Problem(
        log.origin,
        report.events + 1,
        f"{source} covers {size} events but the log has only {report.events} "
        f"(events {report.events + 1}..{size} were removed)",
    )


class _ProofBuilder:
    """Roots of the consistency proof's ranges, built as the leaves stream past."""

    def __init__(self, ranges: list[merkle.Range]) -> None:
        self._ranges = ranges
        self._trees = [merkle.MerkleAccumulator() for _ in ranges]

    def feed(self, offset: int, leaves: list[bytes]) -> None:
        for (lo, hi), tree in zip(self._ranges, self._trees, strict=True):
            a, b = max(lo, offset), min(hi, offset + len(leaves))
            if a < b:
                tree.extend(leaves[a - offset : b - offset])

    def proof(self) -> list[bytes]:
        return [tree.root() for tree in self._trees]


def _consistent(
    log: Log,
    report: LogReport,
    newest: SignedCheckpoint | None,
    tree: merkle.MerkleAccumulator,
    proof: _ProofBuilder,
) -> Problem | None:
    """RFC 6962: prove that today's log extends the newest trusted checkpoint."""
    if newest is None or newest.tree_size == 0:
        return None
    if not merkle.verify_consistency(
        newest.tree_size, report.events, newest.root_hash, tree.root(), proof.proof()
    ):
        return Problem(
            log.origin,
            newest.tree_size,
            "today's log does not extend the trusted checkpoint (consistency proof fails)",
        )
    return None
