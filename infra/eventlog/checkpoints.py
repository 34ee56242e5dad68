"""Checkpoints: seal the log's RFC 6962 Merkle root at a size with an Ed25519 signature.

Leaves are the events' chain hashes in log order. Each checkpoint stores the Merkle frontier,
so the next one hashes only the events added since. Sealing is idempotent and safe to run
from several processes at once (a transaction-scoped advisory lock serialises it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from domain.clock import Clock
from infra.crypto import signing
from infra.db.tables import AuditEventRow, CheckpointRow
from infra.eventlog import merkle

_EVENTS = AuditEventRow.__table__  # type: ignore[attr-defined]
_CHECKPOINTS = CheckpointRow.__table__  # type: ignore[attr-defined]
_LOCK = 0x4845_4152_5448_4350  # "HEARTHCP"
_BATCH = 10_000


@dataclass(frozen=True)
class Checkpoint:
    tree_size: int
    root_hash: bytes
    chain_head: bytes
    created_at: datetime
    key_id: str
    signature: bytes

    def message(self) -> bytes:
        """The signed statement: canonical JSON, so any verifier can rebuild it exactly."""
        return bytes(
            rfc8785.dumps(
                {
                    "log": "hearth-audit-v1",
                    "treeSize": self.tree_size,
                    "rootHash": self.root_hash.hex(),
                    "chainHead": self.chain_head.hex(),
                    "createdAt": self.created_at.astimezone(UTC).isoformat(timespec="microseconds"),
                    "keyId": self.key_id,
                }
            )
        )

    def signed_by(self, key: Ed25519PublicKey) -> bool:
        return self.key_id == signing.key_id(key) and signing.verify(
            key, self.message(), self.signature
        )


async def seal(session: AsyncSession, key: Ed25519PrivateKey, clock: Clock) -> Checkpoint | None:
    """Sign a checkpoint over every event so far; None if the latest one already covers them."""
    await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK})
    size = (await session.execute(select(func.coalesce(func.max(_EVENTS.c.seq), 0)))).scalar_one()
    latest = (
        await session.execute(
            select(_CHECKPOINTS).order_by(_CHECKPOINTS.c.tree_size.desc()).limit(1)
        )
    ).first()
    start = latest.tree_size if latest else 0
    if size in (0, start):
        return None
    tree = (
        merkle.MerkleAccumulator.resume(start, latest.frontier)
        if latest
        else merkle.MerkleAccumulator()
    )
    head = b""
    async for digest in _hashes(session, start, size):
        tree.append(digest)
        head = digest
    unsigned = Checkpoint(size, tree.root(), head, clock.now(), signing.key_id(key), b"")
    checkpoint = Checkpoint(
        **{**unsigned.__dict__, "signature": signing.sign(key, unsigned.message())}
    )
    await session.execute(
        insert(_CHECKPOINTS).values(**checkpoint.__dict__, frontier=tree.frontier())
    )
    return checkpoint


async def _hashes(session: AsyncSession, after: int, upto: int) -> AsyncIterator[bytes]:
    """Chain hashes of events after..upto in order, in batches (memory stays flat)."""
    position = after
    while position < upto:
        rows = await session.execute(
            select(_EVENTS.c.seq, _EVENTS.c.hash)
            .where(_EVENTS.c.seq > position, _EVENTS.c.seq <= upto)
            .order_by(_EVENTS.c.seq)
            .limit(_BATCH)
        )
        batch = rows.all()
        if not batch:
            return
        for row in batch:
            yield row.hash
        position = batch[-1].seq


async def leaves(session: AsyncSession, size: int) -> list[bytes]:
    """The first `size` leaves, for proofs."""
    return [digest async for digest in _hashes(session, 0, size)]


async def consistency_proof(session: AsyncSession, old_size: int, new_size: int) -> list[bytes]:
    """RFC 6962 proof that the log at `old_size` is a prefix of the log at `new_size`."""
    return merkle.consistency_proof(await leaves(session, new_size), old_size)


async def inclusion_proof(session: AsyncSession, position: int, size: int) -> list[bytes]:
    """RFC 6962 audit path for the event at `position` (1-based) in the tree of `size`."""
    return merkle.inclusion_proof(await leaves(session, size), position - 1)


async def all_checkpoints(session: AsyncSession) -> list[Checkpoint]:
    rows = await session.execute(select(_CHECKPOINTS).order_by(_CHECKPOINTS.c.tree_size))
    return [
        Checkpoint(r.tree_size, r.root_hash, r.chain_head, r.created_at, r.key_id, r.signature)
        for r in rows
    ]
