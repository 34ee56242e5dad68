"""Checkpoints: a log's RFC 6962 Merkle root at a size, signed with Ed25519.

They are C2SP tlog-checkpoint signed notes (origin line, tree size, base64 root hash),
so any transparency-log verifier holding the log's verifier key can check them. Leaves are
the events' chain hashes in log order. Each checkpoint also stores the Merkle frontier, so
the next one hashes only the events added since. Checkpoints from before per-study logs
signed a JSON statement instead and are checked as they were signed.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from infra.crypto import signing
from infra.db.tables import AuditChainRow, CheckpointRow
from infra.eventlog import merkle, notes
from infra.eventlog.logs import Log

_CHAIN = AuditChainRow.__table__  # type: ignore[attr-defined]
_CHECKPOINTS = CheckpointRow.__table__  # type: ignore[attr-defined]
_BATCH = 10_000


def checkpoint_text(origin: str, size: int, root: bytes) -> str:
    """The note text of a checkpoint (c2sp.org/tlog-checkpoint), no extension lines."""
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"


@dataclass(frozen=True)
class Checkpoint:
    log_id: uuid.UUID
    tree_size: int
    root_hash: bytes
    chain_head: bytes
    created_at: datetime
    key_id: str
    signature: bytes
    note: str | None = None  # None: sealed before per-study logs (a signed JSON statement)

    def message(self) -> bytes:
        """The statement the legacy checkpoints signed: canonical JSON."""
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

    def signed_by(self, key: Ed25519PublicKey, origin: str) -> bool:
        """Whether the log's key signed exactly this size and root, under this origin."""
        if self.note is None:
            return self.key_id == signing.key_id(key) and signing.verify(
                key, self.message(), self.signature
            )
        try:
            note = notes.parse(self.note)
        except notes.MalformedNote:
            return False
        expected = checkpoint_text(origin, self.tree_size, self.root_hash)
        return note.text == expected and note.verified_by(notes.Verifier(origin, key))


@dataclass(frozen=True)
class SignedCheckpoint:
    """A checkpoint as read from a note: what any verifier sees, with no database behind it."""

    origin: str
    tree_size: int
    root_hash: bytes
    note: str

    @classmethod
    def parse(cls, message: str) -> SignedCheckpoint:
        """Read a checkpoint note (signatures are checked by `signed_by`); MalformedNote."""
        note = notes.parse(message)
        lines = note.text.split("\n")[:-1]
        if len(lines) < 3 or not lines[0] or not lines[1].isdigit():
            raise notes.MalformedNote("not a checkpoint")
        if lines[1] != str(int(lines[1])):
            raise notes.MalformedNote("a tree size has no leading zeros")
        try:
            root = base64.b64decode(lines[2], validate=True)
        except binascii.Error:
            raise notes.MalformedNote("the root hash is not base64") from None
        if len(root) != merkle.HASH_SIZE:
            raise notes.MalformedNote("the root hash is not a SHA-256 hash")
        return cls(lines[0], int(lines[1]), root, message)

    def signed_by(self, key: Ed25519PublicKey) -> bool:
        return notes.parse(self.note).verified_by(notes.Verifier(self.origin, key))


async def head(session: AsyncSession, log_id: uuid.UUID) -> tuple[int, bytes]:
    """(size, chain hash of the last event) of a log as sequenced so far."""
    row = (
        await session.execute(
            select(_CHAIN.c.seq, _CHAIN.c.hash)
            .where(_CHAIN.c.log_id == log_id)
            .order_by(_CHAIN.c.seq.desc())
            .limit(1)
        )
    ).first()
    return (row.seq, row.hash) if row else (0, b"")


async def latest(session: AsyncSession, log_id: uuid.UUID) -> Any:
    """The newest checkpoint row of a log (with its frontier), or None."""
    return (
        await session.execute(
            select(_CHECKPOINTS)
            .where(_CHECKPOINTS.c.log_id == log_id)
            .order_by(_CHECKPOINTS.c.tree_size.desc())
            .limit(1)
        )
    ).first()


async def seal(
    session: AsyncSession, log: Log, key: Ed25519PrivateKey, now: datetime
) -> Checkpoint | None:
    """Sign a checkpoint over every sequenced event of `log`; None if nothing is new.

    The caller holds the integrator's lock, so nothing is sequenced meanwhile.
    """
    size, chain_head = await head(session, log.id)
    last = await latest(session, log.id)
    start = last.tree_size if last else 0
    if size in (0, start):
        return None
    tree = (
        merkle.MerkleAccumulator.resume(start, last.frontier)
        if last
        else merkle.MerkleAccumulator()
    )
    async for digest in chain_hashes(session, log.id, start, size):
        tree.append(digest)
    root = tree.root()
    note = notes.sign(checkpoint_text(log.origin, size, root), log.origin, key)
    signature = notes.parse(note).signatures[0]
    checkpoint = Checkpoint(
        log.id, size, root, chain_head, now, signature.key_id.hex(), signature.signature, note
    )
    await session.execute(
        insert(_CHECKPOINTS).values(**checkpoint.__dict__, frontier=tree.frontier())
    )
    return checkpoint


async def chain_hashes(
    session: AsyncSession, log_id: uuid.UUID, after: int, upto: int
) -> AsyncIterator[bytes]:
    """Chain hashes (the Merkle leaves) of positions after..upto, in batches."""
    position = after
    while position < upto:
        rows = (
            await session.execute(
                select(_CHAIN.c.seq, _CHAIN.c.hash)
                .where(_CHAIN.c.log_id == log_id, _CHAIN.c.seq > position, _CHAIN.c.seq <= upto)
                .order_by(_CHAIN.c.seq)
                .limit(_BATCH)
            )
        ).all()
        if not rows:
            return
        for row in rows:
            yield row.hash
        position = rows[-1].seq


async def of_log(session: AsyncSession, log_id: uuid.UUID) -> list[Checkpoint]:
    rows = await session.execute(
        select(_CHECKPOINTS)
        .where(_CHECKPOINTS.c.log_id == log_id)
        .order_by(_CHECKPOINTS.c.tree_size)
    )
    return [_checkpoint(r) for r in rows]


async def at_size(session: AsyncSession, log_id: uuid.UUID, size: int) -> Checkpoint | None:
    row = (
        await session.execute(
            select(_CHECKPOINTS).where(
                _CHECKPOINTS.c.log_id == log_id, _CHECKPOINTS.c.tree_size == size
            )
        )
    ).first()
    return _checkpoint(row) if row else None


def _checkpoint(r: Any) -> Checkpoint:
    return Checkpoint(
        r.log_id,
        r.tree_size,
        r.root_hash,
        r.chain_head,
        r.created_at,
        r.key_id,
        r.signature,
        r.note,
    )
