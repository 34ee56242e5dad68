"""Tests for the RFC 6962 Merkle tree: reference vectors, tampering and a naive cross-check."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence

import pytest

from infra.eventlog.merkle import (
    EMPTY_ROOT,
    MerkleAccumulator,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
    verify_inclusion_hash,
)

# The RFC 6962 test vectors shared by certificate-transparency, Trillian and transparency-dev.
LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
ROOTS = [
    bytes.fromhex(h)
    for h in (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    )
]
H_LEAF1 = bytes.fromhex("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7")
H_2_4 = bytes.fromhex("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e")
H_4_8 = bytes.fromhex("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")
H_4_6 = bytes.fromhex("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a")
H_6_8 = bytes.fromhex("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0")
H_LEAF4 = bytes.fromhex("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")


# --- A naive reference written straight from the recursive definitions in RFC 6962 §2.1.


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def naive_mth(d: Sequence[bytes]) -> bytes:
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return hashlib.sha256(b"\x00" + d[0]).digest()
    k = _k(len(d))
    return hashlib.sha256(b"\x01" + naive_mth(d[:k]) + naive_mth(d[k:])).digest()


def naive_path(m: int, d: Sequence[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = _k(len(d))
    if m < k:
        return [*naive_path(m, d[:k]), naive_mth(d[k:])]
    return [*naive_path(m - k, d[k:]), naive_mth(d[:k])]


def naive_subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
    if m == len(d):
        return [] if b else [naive_mth(d)]
    k = _k(len(d))
    if m <= k:
        return [*naive_subproof(m, d[:k], b), naive_mth(d[k:])]
    return [*naive_subproof(m - k, d[k:], False), naive_mth(d[:k])]


def flip(data: bytes, i: int) -> bytes:
    return data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1 :]


def random_leaves(rng: random.Random, n: int) -> list[bytes]:
    return [rng.randbytes(rng.randrange(0, 40)) for _ in range(n)]


# --- Hashes and roots.


def test_leaf_and_node_hash_use_domain_prefixes() -> None:
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    assert (
        node_hash(b"L" * 32, b"R" * 32) == hashlib.sha256(b"\x01" + b"L" * 32 + b"R" * 32).digest()
    )
    assert leaf_hash(b"") == ROOTS[0]


def test_empty_tree_root_is_sha256_of_empty_string() -> None:
    assert root([]) == EMPTY_ROOT == hashlib.sha256(b"").digest()
    assert MerkleAccumulator().root() == EMPTY_ROOT
    assert MerkleAccumulator().size == 0


@pytest.mark.parametrize("size", range(1, 9))
def test_reference_roots(size: int) -> None:
    assert root(LEAVES[:size]) == ROOTS[size - 1]
    assert naive_mth(LEAVES[:size]) == ROOTS[size - 1]


def test_accumulator_matches_reference_roots_at_every_size() -> None:
    acc = MerkleAccumulator()
    for size, leaf in enumerate(LEAVES, start=1):
        acc.append(leaf)
        assert acc.size == size
        assert acc.root() == ROOTS[size - 1]


def test_accumulator_append_hash_equals_append() -> None:
    by_data, by_hash = MerkleAccumulator(), MerkleAccumulator()
    for leaf in LEAVES:
        by_data.append(leaf)
        by_hash.append_hash(leaf_hash(leaf))
    assert by_data.root() == by_hash.root() == ROOTS[7]
    with pytest.raises(ValueError, match="32 bytes"):
        by_hash.append_hash(b"short")


def test_accumulator_matches_root_on_random_leaves() -> None:
    rng = random.Random(6962)
    leaves = random_leaves(rng, 300)
    acc = MerkleAccumulator()
    for size, leaf in enumerate(leaves, start=1):
        acc.append(leaf)
        assert acc.root() == root(leaves[:size]), size
    # Compact range: at most one frontier hash per bit of the size.
    assert acc.size == 300
    assert len(acc._frontier) == bin(300).count("1")


def test_root_matches_naive_reference_on_random_leaves() -> None:
    rng = random.Random(9162)
    for size in [*range(0, 70), 127, 128, 129, 255, 256, 257, 1000, 1023, 1025]:
        leaves = random_leaves(rng, size)
        assert root(leaves) == naive_mth(leaves), size


def test_root_of_large_tree_matches_level_by_level_reference() -> None:
    # An independent algorithm: pair neighbours, carry an odd last node up unchanged.
    leaves = [i.to_bytes(4, "big") for i in range(70_001)]
    level = [leaf_hash(leaf) for leaf in leaves]
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        level = paired + level[len(level) - len(level) % 2 :]
    assert root(leaves) == level[0]


# --- Inclusion proofs.


def test_reference_inclusion_proof_leaf0_of_8() -> None:
    assert inclusion_proof(LEAVES, 0) == [H_LEAF1, H_2_4, H_4_8]
    assert verify_inclusion(LEAVES[0], 0, 8, [H_LEAF1, H_2_4, H_4_8], ROOTS[7])


def test_inclusion_proofs_verify_and_resist_tampering_up_to_8_leaves() -> None:
    for size in range(1, 9):
        tree_root = ROOTS[size - 1]
        for index in range(size):
            leaf = LEAVES[index]
            proof = inclusion_proof(LEAVES[:size], index)
            assert proof == naive_path(index, LEAVES[:size])
            assert verify_inclusion(leaf, index, size, proof, tree_root)
            assert verify_inclusion_hash(leaf_hash(leaf), index, size, proof, tree_root)
            for j, node in enumerate(proof):
                for pos in (0, 31):
                    forged = [*proof[:j], flip(node, pos), *proof[j + 1 :]]
                    assert not verify_inclusion(leaf, index, size, forged, tree_root)
            assert not verify_inclusion(leaf + b"x", index, size, proof, tree_root)
            if leaf:
                assert not verify_inclusion(flip(leaf, 0), index, size, proof, tree_root)
            assert not verify_inclusion(leaf, index, size, proof, flip(tree_root, 7))
            assert not verify_inclusion(leaf, index, size, [*proof, H_LEAF1], tree_root)
            if proof:
                assert not verify_inclusion(leaf, index, size, proof[:-1], tree_root)
            for other in range(size):
                if other != index:
                    assert not verify_inclusion(leaf, other, size, proof, tree_root)
            for other in range(index + 1, 17):
                if len(naive_path(index, [b""] * other)) != len(proof):
                    assert not verify_inclusion(leaf, index, other, proof, tree_root)


def test_inclusion_rejects_bad_arguments() -> None:
    proof = inclusion_proof(LEAVES, 3)
    assert not verify_inclusion(LEAVES[3], 8, 8, proof, ROOTS[7])
    assert not verify_inclusion(LEAVES[3], -1, 8, proof, ROOTS[7])
    assert not verify_inclusion(LEAVES[3], 3, 0, [], EMPTY_ROOT)
    assert not verify_inclusion(LEAVES[3], 3, 8, [*proof[:-1], b"\x00"], ROOTS[7])
    assert not verify_inclusion(LEAVES[3], 3, 8, proof, ROOTS[7][:31])
    for index in (-1, 8):
        with pytest.raises(ValueError, match="out of range"):
            inclusion_proof(LEAVES, index)
    with pytest.raises(ValueError, match="out of range"):
        inclusion_proof([], 0)


def test_inclusion_proofs_match_naive_on_random_leaves() -> None:
    rng = random.Random(1)
    for size in (1, 2, 3, 31, 32, 33, 100, 257):
        leaves = random_leaves(rng, size)
        tree_root = root(leaves)
        for index in {0, size - 1, size // 2, rng.randrange(size)}:
            proof = inclusion_proof(leaves, index)
            assert proof == naive_path(index, leaves)
            assert verify_inclusion(leaves[index], index, size, proof, tree_root)


# --- Consistency proofs.


@pytest.mark.parametrize(
    ("old_size", "new_size", "expected"),
    [
        (1, 8, [H_LEAF1, H_2_4, H_4_8]),
        (6, 8, [H_4_6, H_6_8, ROOTS[3]]),
        (2, 5, [H_2_4, H_LEAF4]),
    ],
)
def test_reference_consistency_proofs(old_size: int, new_size: int, expected: list[bytes]) -> None:
    assert consistency_proof(LEAVES[:new_size], old_size) == expected
    assert verify_consistency(
        old_size, new_size, ROOTS[old_size - 1], ROOTS[new_size - 1], expected
    )


def test_consistency_proofs_verify_and_resist_forgery_up_to_8_leaves() -> None:
    for new_size in range(1, 9):
        new_root = ROOTS[new_size - 1]
        for old_size in range(1, new_size + 1):
            old_root = ROOTS[old_size - 1]
            proof = consistency_proof(LEAVES[:new_size], old_size)
            assert proof == naive_subproof(old_size, LEAVES[:new_size], True)
            assert verify_consistency(old_size, new_size, old_root, new_root, proof)
            assert not verify_consistency(old_size, new_size, flip(old_root, 0), new_root, proof)
            assert not verify_consistency(old_size, new_size, old_root, flip(new_root, 31), proof)
            for j, node in enumerate(proof):
                forged = [*proof[:j], flip(node, 5), *proof[j + 1 :]]
                assert not verify_consistency(old_size, new_size, old_root, new_root, forged)
            assert not verify_consistency(old_size, new_size, old_root, new_root, [*proof, H_4_8])
            if proof:
                assert not verify_consistency(old_size, new_size, old_root, new_root, proof[:-1])
            # A wrong new size must fail whenever its proof would have a different length;
            # equal-length shapes can coincide (see test_proofs_do_not_pin_the_tree_size).
            for other in range(old_size, 17):
                if len(naive_subproof(old_size, [b""] * other, True)) != len(proof):
                    assert not verify_consistency(old_size, other, old_root, new_root, proof)


def test_proofs_do_not_pin_the_tree_size() -> None:
    # RFC 9162 verification only follows the left/right shape the size implies; sizes 3 and
    # 4 give leaf 0 the same shape, so the size must come from an authenticated tree head.
    proof = inclusion_proof(LEAVES[:3], 0)
    assert verify_inclusion(LEAVES[0], 0, 4, proof, ROOTS[2])
    assert verify_consistency(1, 4, ROOTS[0], ROOTS[2], consistency_proof(LEAVES[:3], 1))


def test_consistency_edge_cases() -> None:
    assert consistency_proof(LEAVES, 0) == []
    assert consistency_proof(LEAVES, 8) == []
    assert verify_consistency(0, 8, EMPTY_ROOT, ROOTS[7], [])
    assert not verify_consistency(0, 8, ROOTS[0], ROOTS[7], [])
    assert not verify_consistency(0, 8, EMPTY_ROOT, ROOTS[7], [H_LEAF1])
    assert verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert not verify_consistency(8, 8, ROOTS[7], ROOTS[7], [H_LEAF1])
    assert not verify_consistency(8, 7, ROOTS[7], ROOTS[6], [])
    assert not verify_consistency(-1, 7, ROOTS[0], ROOTS[6], [])
    assert not verify_consistency(3, 7, ROOTS[2], ROOTS[6], [])
    for old_size in (-1, 9):
        with pytest.raises(ValueError, match="out of range"):
            consistency_proof(LEAVES, old_size)


def test_consistency_proofs_match_naive_on_random_leaves() -> None:
    rng = random.Random(2)
    leaves = random_leaves(rng, 300)
    for _ in range(200):
        new_size = rng.randrange(1, 301)
        old_size = rng.randrange(1, new_size + 1)
        proof = consistency_proof(leaves[:new_size], old_size)
        assert proof == naive_subproof(old_size, leaves[:new_size], True)
        old_root, new_root = root(leaves[:old_size]), root(leaves[:new_size])
        assert verify_consistency(old_size, new_size, old_root, new_root, proof)
        assert not verify_consistency(old_size, new_size, new_root, old_root, proof) or (
            old_root == new_root
        )
