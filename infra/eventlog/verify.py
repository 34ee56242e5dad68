"""`hearth audit verify`: recompute the chain, the Merkle roots and the sealed values.

It walks the log once in position order, in batches (memory stays flat apart from the
commitments of personal values), and stops at the first position that does not check out,
saying what is wrong there: a missing event (deleted), an event that does not follow its
predecessor (reordered or inserted), content that does not match its hash (changed), or a
checkpoint whose root or signature is not right (forged).
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from infra.crypto.envelope import DecryptionError
from infra.db.data_keys import FieldCipher, key_ids
from infra.db.tables import AuditEventRow, SealedValueRow
from infra.eventlog import checkpoints, merkle
from infra.eventlog.chain import GENESIS, link, record_of
from infra.eventlog.sealing import REASON_FIELD, TABLE, redaction_ref, reveal

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
    """What the walk over the events remembers for the checks of sealed values."""

    # (event id, field, side) -> (position, commitment, whose key must have sealed it)
    commitments: dict[tuple[uuid.UUID, str, str], tuple[int, str, uuid.UUID | None]] = field(
        default_factory=dict
    )
    redacted: dict[str, int] = field(default_factory=dict)  # reference -> redaction position
    erased: set[uuid.UUID] = field(default_factory=set)  # subjects with a logged erasure


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


def _owner(row: dict[str, Any]) -> uuid.UUID | None:
    """Whose key seals an event's personal values: the participant's, or the staff user's."""
    if row["participant_id"] is not None:
        return row["participant_id"]  # type: ignore[no-any-return]
    return row["entity_id"] if row["entity_type"] == "StaffUser" else None


def _remember(walk: _Walk, row: dict[str, Any]) -> None:
    event_id, position, owner = row["id"], row["seq"], _owner(row)
    for entry in row["fields"]:
        if entry.get("personal"):
            for side in ("old", "new"):
                if entry.get(side) is not None:
                    walk.commitments[(event_id, entry["field"], side)] = (
                        position,
                        entry[side],
                        owner,
                    )
        if row["action"] == "redacted" and entry["field"] == "redacted_values":
            walk.redacted.update(dict.fromkeys(entry.get("new") or [], position))
    if row["action"] == "erased" and row["entity_type"] == "Participant":
        walk.erased.add(row["entity_id"])
    sealed_reason = (row["reason"] or {}).get("sealed")
    if sealed_reason is not None:
        walk.commitments[(event_id, REASON_FIELD, "new")] = (position, sealed_reason, owner)


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
    """Each personal value must be there and match its commitment, unless redacted or erased.

    Every problem is collected and the earliest position reported.
    """
    rows = (await session.execute(select(_SEALED))).all()
    with contextlib.suppress(DecryptionError):  # a bad key shows up below, value by value
        await cipher.keys.load(key_ids(r.sealed for r in rows))
    problems: list[Problem] = []
    present = set()
    for row in rows:
        key = (row.event_id, row.field, row.side)
        present.add(key)
        if key in walk.commitments:
            problem = await _check_value(
                cipher, row, walk.commitments[key], report=report, walk=walk
            )
            if problem is not None:
                problems.append(problem)
    problems += [
        Problem(position, "a personal value it commits to has been deleted")
        for k, (position, _, _) in walk.commitments.items()
        if k not in present
    ]
    return min(problems, key=lambda p: p.position, default=None)


async def _check_value(
    cipher: FieldCipher,
    row: Any,
    expected: tuple[int, str, uuid.UUID | None],
    *,
    report: Report,
    walk: _Walk,
) -> Problem | None:
    position, commitment, owner = expected
    if owner is not None and row.owner_id != owner:
        return Problem(position, "a sealed personal value was moved to another data subject")
    if row.sealed is None:
        redacted_at = walk.redacted.get(redaction_ref(row.event_id, row.field, row.side))
        if redacted_at is None or redacted_at < position:
            return Problem(position, "a personal value was removed without a logged redaction")
        report.redacted += 1
        return None
    column = f"{row.field}:{row.side}"
    try:
        text = await cipher.open(row.owner_id, TABLE, column, row.event_id, row.sealed)
    except DecryptionError:
        return Problem(position, "a sealed personal value does not decrypt (moved or changed)")
    if text is None:
        if row.owner_id not in walk.erased:
            return Problem(position, "a data key was destroyed without a logged erasure")
        report.erased += 1
        return None
    if reveal(text)[0] != commitment:
        return Problem(position, "a personal value does not match its commitment (changed)")
    report.sealed_values += 1
    return None
