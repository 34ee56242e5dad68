"""`hearth audit verify`: recompute the chain, the Merkle roots and the sealed values.

It walks the log once in position order, in batches (memory stays flat apart from the
commitments of personal values), and stops at the first position that does not check out,
saying what is wrong there: a missing event (deleted), an event that does not follow its
predecessor (reordered or inserted), content that does not match its hash (changed), or a
checkpoint whose root or signature is not right (forged).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from infra.crypto.envelope import DecryptionError
from infra.db.data_keys import FieldCipher
from infra.db.tables import AuditEventRow, SealedValueRow
from infra.eventlog import checkpoints, merkle
from infra.eventlog.chain import GENESIS, link, record_of
from infra.eventlog.sealing import REASON_FIELD, TABLE, reveal

_EVENTS = AuditEventRow.__table__  # type: ignore[attr-defined]
_SEALED = SealedValueRow.__table__  # type: ignore[attr-defined]
_BATCH = 5_000


@dataclass(frozen=True)
class Problem:
    position: int
    reason: str


@dataclass
class Report:
    events: int = 0
    checkpoints: int = 0
    sealed_values: int = 0
    redacted: int = 0
    erased: int = 0
    head: bytes = GENESIS
    seconds: float = 0.0
    problem: Problem | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


@dataclass
class _Walk:
    """What the walk over the events remembers for the later checks."""

    commitments: dict[tuple[uuid.UUID, str, str], tuple[int, str]] = field(default_factory=dict)
    entity_of: dict[uuid.UUID, tuple[str, uuid.UUID]] = field(default_factory=dict)
    redactions: dict[tuple[str, uuid.UUID, str], int] = field(default_factory=dict)


async def verify(session: AsyncSession, cipher: FieldCipher, signer: Ed25519PublicKey) -> Report:
    started = time.perf_counter()
    report = Report()
    walk = _Walk()
    report.problem = await _walk_events(session, signer, report, walk)
    if report.problem is None:
        report.problem = await _check_sealed(session, cipher, report, walk)
    report.seconds = time.perf_counter() - started
    return report


async def _walk_events(
    session: AsyncSession, signer: Ed25519PublicKey, report: Report, walk: _Walk
) -> Problem | None:
    pending = {c.tree_size: c for c in await checkpoints.all_checkpoints(session)}
    last_checkpoint = max(pending, default=0)
    tree = merkle.MerkleAccumulator()
    prev, expected = GENESIS, 1
    async for row in _rows(session):
        if row["seq"] != expected:
            return Problem(
                expected, f"event {expected} is missing (the next one present is {row['seq']})"
            )
        if row["prev_hash"] != prev:
            return Problem(
                expected, "does not follow the event before it (reordered, inserted or removed)"
            )
        if link(prev, record_of(row)) != row["hash"]:
            return Problem(expected, "its content does not match its hash (changed)")
        _remember(walk, row)
        prev = row["hash"]
        tree.append(prev)
        if (checkpoint := pending.pop(expected, None)) is not None:
            if problem := _check_point(checkpoint, tree.root(), prev, signer):
                return problem
            report.checkpoints += 1
        report.events, report.head, expected = expected, prev, expected + 1
    if pending:
        size = min(pending)
        return Problem(
            size, f"a checkpoint covers {size} events but the log has only {report.events}"
        )
    if last_checkpoint > report.events:
        return Problem(report.events + 1, "events covered by a checkpoint are missing")
    return None


def _check_point(
    checkpoint: checkpoints.Checkpoint, root: bytes, head: bytes, signer: Ed25519PublicKey
) -> Problem | None:
    where = checkpoint.tree_size
    if not checkpoint.signed_by(signer):
        return Problem(where, "the checkpoint's signature is not valid (forged checkpoint)")
    if checkpoint.root_hash != root or checkpoint.chain_head != head:
        return Problem(
            where, "the checkpoint's Merkle root does not match the log (forged or rewritten)"
        )
    return None


def _remember(walk: _Walk, row: dict[str, Any]) -> None:
    event_id, position = row["id"], row["seq"]
    walk.entity_of[event_id] = (row["entity_type"], row["entity_id"])
    for entry in row["fields"]:
        if entry.get("personal"):
            for side in ("old", "new"):
                if entry.get(side) is not None:
                    walk.commitments[(event_id, entry["field"], side)] = (position, entry[side])
        if row["action"] == "redacted":
            walk.redactions[(row["entity_type"], row["entity_id"], entry["field"])] = position
    sealed_reason = (row["reason"] or {}).get("sealed")
    if sealed_reason is not None:
        walk.commitments[(event_id, REASON_FIELD, "new")] = (position, sealed_reason)


async def _rows(session: AsyncSession) -> AsyncIterator[dict[str, Any]]:
    after = 0
    while True:
        result = await session.execute(
            select(_EVENTS).where(_EVENTS.c.seq > after).order_by(_EVENTS.c.seq).limit(_BATCH)
        )
        batch = [dict(r._mapping) for r in result]
        if not batch:
            return
        for row in batch:
            yield row
        after = batch[-1]["seq"]


async def _check_sealed(
    session: AsyncSession, cipher: FieldCipher, report: Report, walk: _Walk
) -> Problem | None:
    """Each personal value must be present and match its commitment, unless redacted or erased."""
    rows = (await session.execute(select(_SEALED))).all()
    await cipher.keys.load({r.owner_id for r in rows})
    present = set()
    for row in rows:
        key = (row.event_id, row.field, row.side)
        present.add(key)
        if key not in walk.commitments:
            continue  # a sealed value for an event that commits to nothing: harmless, unused
        position, commitment = walk.commitments[key]
        if problem := await _check_value(
            cipher, row, position, commitment, report=report, walk=walk
        ):
            return problem
    missing = sorted(p for k, (p, _) in walk.commitments.items() if k not in present)
    if missing:
        return Problem(missing[0], "a personal value it commits to has been deleted")
    return None


async def _check_value(
    cipher: FieldCipher, row: Any, position: int, commitment: str, *, report: Report, walk: _Walk
) -> Problem | None:
    if row.sealed is None:
        entity_type, entity_id = walk.entity_of[row.event_id]
        redacted_at = walk.redactions.get((entity_type, entity_id, row.field))
        if redacted_at is None or redacted_at < position:
            return Problem(position, "a personal value was removed without a logged redaction")
        report.redacted += 1
        return None
    try:
        text = await cipher.open(
            row.owner_id, TABLE, f"{row.field}:{row.side}", row.event_id, row.sealed
        )
    except DecryptionError:
        return Problem(position, "a sealed personal value does not decrypt (moved or changed)")
    if text is None:
        report.erased += 1
        return None
    if reveal(text)[0] != commitment:
        return Problem(position, "a personal value does not match its commitment (changed)")
    report.sealed_values += 1
    return None
