"""RFC 6962 inclusion and consistency proofs for one log, computed from the chain.

Proofs are given against a signed checkpoint (the newest one unless a size is asked for),
so whoever receives one can check it with the log's verifier key and nothing else. The
leaves stream once from the database; memory stays O(log n).
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from infra.eventlog import checkpoints, merkle
from infra.eventlog.checkpoints import Checkpoint


class ProofError(ValueError):
    """The proof asked for does not exist (no such position, size or checkpoint)."""


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


@dataclass(frozen=True)
class InclusionProof:
    origin: str
    position: int  # 1-based; the RFC's leaf index is position - 1
    leaf: bytes  # the event's chain hash: the leaf data
    checkpoint: Checkpoint
    path: list[bytes]

    def verifies(self) -> bool:
        return merkle.verify_inclusion(
            self.leaf,
            self.position - 1,
            self.checkpoint.tree_size,
            self.path,
            self.checkpoint.root_hash,
        )

    def document(self) -> dict[str, Any]:
        return {
            "log": self.origin,
            "position": self.position,
            "leafIndex": self.position - 1,
            "leafData": _b64(self.leaf),
            "treeSize": self.checkpoint.tree_size,
            "rootHash": _b64(self.checkpoint.root_hash),
            "proof": [_b64(p) for p in self.path],
            "checkpoint": self.checkpoint.note,
        }


@dataclass(frozen=True)
class ConsistencyProof:
    origin: str
    old: Checkpoint
    new: Checkpoint
    path: list[bytes]

    def verifies(self) -> bool:
        return merkle.verify_consistency(
            self.old.tree_size,
            self.new.tree_size,
            self.old.root_hash,
            self.new.root_hash,
            self.path,
        )

    def document(self) -> dict[str, Any]:
        return {
            "log": self.origin,
            "oldSize": self.old.tree_size,
            "oldRootHash": _b64(self.old.root_hash),
            "newSize": self.new.tree_size,
            "newRootHash": _b64(self.new.root_hash),
            "proof": [_b64(p) for p in self.path],
            "oldCheckpoint": self.old.note,
            "newCheckpoint": self.new.note,
        }


async def _checkpoint(session: AsyncSession, log_id: uuid.UUID, size: int | None) -> Checkpoint:
    if size is None:
        found = await checkpoints.of_log(session, log_id)
        if not found:
            raise ProofError("the log has no checkpoint yet: seal one first")
        return found[-1]
    checkpoint = await checkpoints.at_size(session, log_id, size)
    if checkpoint is None:
        raise ProofError(f"no checkpoint of the log covers exactly {size} events")
    return checkpoint


async def _roots(
    session: AsyncSession, log_id: uuid.UUID, size: int, ranges: list[merkle.Range], keep: int
) -> tuple[list[bytes], bytes]:
    """(roots of the disjoint `ranges`, the leaf at index `keep`) in one pass over the chain."""
    trees = [merkle.MerkleAccumulator() for _ in ranges]
    kept, index = b"", 0
    async for digest in checkpoints.chain_hashes(session, log_id, 0, size):
        kept = digest if index == keep else kept
        for (lo, hi), tree in zip(ranges, trees, strict=True):
            if lo <= index < hi:
                tree.append(digest)
        index += 1
    if index != size:
        raise ProofError(f"the log holds {index} events, not the {size} its checkpoint covers")
    return [tree.root() for tree in trees], kept


async def inclusion(
    session: AsyncSession, origin: str, log_id: uuid.UUID, position: int, size: int | None
) -> InclusionProof:
    checkpoint = await _checkpoint(session, log_id, size)
    if not 1 <= position <= checkpoint.tree_size:
        raise ProofError(f"position {position} is not in the {checkpoint.tree_size} covered")
    ranges = merkle.inclusion_ranges(position - 1, checkpoint.tree_size)
    path, leaf = await _roots(session, log_id, checkpoint.tree_size, ranges, position - 1)
    return InclusionProof(origin, position, leaf, checkpoint, path)


async def consistency(
    session: AsyncSession, origin: str, log_id: uuid.UUID, old_size: int, new_size: int | None
) -> ConsistencyProof:
    new = await _checkpoint(session, log_id, new_size)
    old = await _checkpoint(session, log_id, old_size)
    if old.tree_size > new.tree_size:
        raise ProofError("the old checkpoint must not be larger than the new one")
    ranges = merkle.consistency_ranges(old.tree_size, new.tree_size)
    path, _ = await _roots(session, log_id, new.tree_size, ranges, -1)
    return ConsistencyProof(origin, old, new, path)
