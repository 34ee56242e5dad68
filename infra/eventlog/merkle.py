"""RFC 6962 Merkle tree hashes, inclusion and consistency proofs (RFC 9162 verification).

Standard library only; every computation is iterative, so million-leaf logs need no recursion.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

HASH_SIZE = 32
# RFC 6962 §2.1: MTH({}) = SHA-256(), the hash of the empty string.
EMPTY_ROOT = hashlib.sha256(b"").digest()

# Distinct prefixes keep a leaf from ever being passed off as an interior node
# (second-preimage resistance, RFC 6962 §2.1).
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


def leaf_hash(data: bytes) -> bytes:
    """Return SHA-256(0x00 || data), the hash of one leaf."""
    return hashlib.sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return SHA-256(0x01 || left || right), the hash of an interior node."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """Return k, the largest power of two strictly smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


class MerkleAccumulator:
    """Incremental Merkle Tree Hash holding O(log n) state (a "compact range").

    The frontier stores the roots of the perfect subtrees that make up the tree,
    largest (leftmost) first: one per set bit of ``size``. That is all RFC 6962's
    left-heavy shape needs to produce the root at any size without the leaves.
    """

    __slots__ = ("_frontier", "_size")

    def __init__(self) -> None:
        self._frontier: list[bytes] = []
        self._size = 0

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    def append(self, leaf_data: bytes) -> None:
        """Append one leaf given its raw data."""
        self.append_hash(leaf_hash(leaf_data))

    def append_hash(self, digest: bytes) -> None:
        """Append one leaf given its leaf hash (as from :func:`leaf_hash`)."""
        if len(digest) != HASH_SIZE:
            raise ValueError(f"leaf hash must be {HASH_SIZE} bytes, got {len(digest)}")
        # Each trailing 1-bit of the old size is a perfect subtree of the new
        # leaf's size; merging them is binary carry propagation.
        n = self._size
        while n & 1:
            digest = node_hash(self._frontier.pop(), digest)
            n >>= 1
        self._frontier.append(digest)
        self._size += 1

    def extend(self, leaves: Iterable[bytes]) -> None:
        """Append many leaves given their raw data: `append` in a loop, without its overhead
        (this is the verifier's inner loop)."""
        frontier, size, sha256 = self._frontier, self._size, hashlib.sha256
        for data in leaves:
            digest = sha256(_LEAF_PREFIX + data).digest()
            carry = size
            while carry & 1:
                digest = sha256(_NODE_PREFIX + frontier.pop() + digest).digest()
                carry >>= 1
            frontier.append(digest)
            size += 1
        self._size = size

    def frontier(self) -> bytes:
        """The O(log n) state as bytes, to resume later with :meth:`resume`."""
        return b"".join(self._frontier)

    @classmethod
    def resume(cls, size: int, frontier: bytes) -> MerkleAccumulator:
        """An accumulator at `size` leaves from a saved frontier (one hash per set bit)."""
        hashes = [frontier[i : i + HASH_SIZE] for i in range(0, len(frontier), HASH_SIZE)]
        if size < 0 or len(hashes) != size.bit_count() or len(frontier) % HASH_SIZE:
            raise ValueError("frontier does not match the tree size")
        accumulator = cls()
        accumulator._frontier = hashes
        accumulator._size = size
        return accumulator

    def root(self) -> bytes:
        """Return the Merkle Tree Hash of the leaves appended so far."""
        if not self._frontier:
            return EMPTY_ROOT
        # RFC 6962 splits at the largest power of two, so the tree is the
        # frontier folded from the right: P1 . (P2 . (... . Pk)).
        acc = self._frontier[-1]
        for digest in reversed(self._frontier[:-1]):
            acc = node_hash(digest, acc)
        return acc


def _root_of_hashes(digests: Iterable[bytes]) -> bytes:
    acc = MerkleAccumulator()
    for digest in digests:
        acc.append_hash(digest)
    return acc.root()


def _range_root(leaves: Sequence[bytes], lo: int, hi: int) -> bytes:
    """MTH(D[lo:hi]) without copying the slice."""
    return _root_of_hashes(leaf_hash(leaves[i]) for i in range(lo, hi))


def root(leaves: Sequence[bytes]) -> bytes:
    """Return the Merkle Tree Hash MTH(D[n]) of the leaves (RFC 6962 §2.1)."""
    return _range_root(leaves, 0, len(leaves))


Range = tuple[int, int]  # leaves lo..hi-1


def inclusion_ranges(index: int, tree_size: int) -> list[Range]:
    """The leaf ranges whose roots make up PATH(index, D[n]) (RFC 6962 §2.1.1), leaf level
    first. They are disjoint, so one pass over the leaves computes them all."""
    if not 0 <= index < tree_size:
        raise ValueError(f"leaf index {index} out of range for tree size {tree_size}")
    siblings: list[Range] = []  # collected root level first
    lo, hi = 0, tree_size
    while hi - lo > 1:
        mid = lo + _split(hi - lo)
        if index < mid:
            siblings.append((mid, hi))
            hi = mid
        else:
            siblings.append((lo, mid))
            lo = mid
    siblings.reverse()
    return siblings


def consistency_ranges(old_size: int, tree_size: int) -> list[Range]:
    """The leaf ranges whose roots make up PROOF(old_size, D[n]) (RFC 6962 §2.1.2), disjoint.

    Sizes 0 and n give an empty proof: every tree extends the empty tree and itself.
    """
    if not 0 <= old_size <= tree_size:
        raise ValueError(f"old size {old_size} out of range for tree size {tree_size}")
    if old_size in (0, tree_size):
        return []
    m, lo, hi = old_size, 0, tree_size
    # "b" in SUBPROOF: while true, the old tree is the left subtree the verifier
    # already holds as old_root, so the RFC omits its hash.
    old_is_known = True
    suffix: list[Range] = []  # ranges SUBPROOF appends, outermost level first
    while m != hi - lo:
        mid = lo + _split(hi - lo)
        if m <= mid - lo:
            suffix.append((mid, hi))
            hi = mid
        else:
            suffix.append((lo, mid))
            m -= mid - lo
            lo = mid
            old_is_known = False
    head = [] if old_is_known else [(lo, hi)]
    return head + suffix[::-1]


def range_roots(ranges: Sequence[Range], leaves: Iterable[bytes]) -> list[bytes]:
    """MTH of each (disjoint) range, from the leaf data streamed in order from leaf 0."""
    wanted = sorted(range(len(ranges)), key=lambda i: ranges[i][0])
    roots: dict[int, bytes] = {}
    pending = iter(wanted)
    current = next(pending, None)
    tree = MerkleAccumulator()
    for position, data in enumerate(leaves):
        while current is not None and position >= ranges[current][1]:
            current = next(pending, None)
        if current is None:
            break
        lo, hi = ranges[current]
        if position >= lo:
            tree.append(data)
        if position == hi - 1:
            roots[current], tree = tree.root(), MerkleAccumulator()
            current = next(pending, None)
    if len(roots) != len(ranges):
        raise ValueError("fewer leaves than the ranges need")
    return [roots[i] for i in range(len(ranges))]


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """Return the audit path PATH(index, D[n]) (RFC 6962 §2.1.1), leaf level first."""
    return range_roots(inclusion_ranges(index, len(leaves)), leaves)


def consistency_proof(leaves: Sequence[bytes], old_size: int) -> list[bytes]:
    """Return PROOF(old_size, D[n]) (RFC 6962 §2.1.2) for the first old_size leaves."""
    return range_roots(consistency_ranges(old_size, len(leaves)), leaves)


def _well_formed(proof: Sequence[bytes], *hashes: bytes) -> bool:
    return all(len(h) == HASH_SIZE for h in (*proof, *hashes))


def verify_inclusion(
    leaf_data: bytes, index: int, tree_size: int, proof: Sequence[bytes], root_hash: bytes
) -> bool:
    """Check that leaf_data is leaf ``index`` of the tree of ``tree_size`` with ``root_hash``.

    The proof only follows the path shape ``tree_size`` implies (sizes 3 and 4 look alike
    for leaf 0), so take ``tree_size`` from the same authenticated tree head as the root.
    """
    return verify_inclusion_hash(leaf_hash(leaf_data), index, tree_size, proof, root_hash)


def verify_inclusion_hash(
    leaf_digest: bytes, index: int, tree_size: int, proof: Sequence[bytes], root_hash: bytes
) -> bool:
    """Like :func:`verify_inclusion`, given the leaf hash; RFC 9162 §2.1.3.2."""
    if not 0 <= index < tree_size or not _well_formed(proof, leaf_digest, root_hash):
        return False
    fn, sn = index, tree_size - 1
    r = leaf_digest
    for p in proof:
        if sn == 0:
            return False  # proof longer than the path
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            # A right-edge node with no sibling is promoted unchanged: skip levels.
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root_hash


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Check that the tree (new_size, new_root) extends (old_size, old_root); RFC 9162 §2.1.4.2.

    As with inclusion, the sizes must be authenticated alongside the roots.
    """
    if not 0 <= old_size <= new_size or not _well_formed(proof, old_root, new_root):
        return False
    # RFC 9162 covers 0 < old_size < new_size; the trivial cases carry no proof.
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof and old_root == EMPTY_ROOT
    if not proof:
        return False
    # When the old tree is a perfect subtree its root was omitted from the proof.
    path = [old_root, *proof] if old_size & (old_size - 1) == 0 else list(proof)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False  # proof longer than the path
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == old_root and sr == new_root
