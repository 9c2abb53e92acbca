"""RFC 9162 §2.1 Merkle trees: every proof of every tree up to 64 leaves verifies, every tampering fails,
and roots and paths match an independent hand-written recursion."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pytest

from attestations.errors import ProofError
from attestations.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    leaf_hash,
    mth,
    node_hash,
    verify_consistency,
    verify_inclusion,
)

MAX = 64
ENTRIES = [hashlib.sha256(f"entry-{i}".encode()).digest() for i in range(MAX)]
LEAVES = [leaf_hash(e) for e in ENTRIES]
TREE = MerkleTree(LEAVES)
ROOTS = [mth(LEAVES[:n]) for n in range(MAX + 1)]


# An independent reading of RFC 9162 §2.1, over raw entries and hashlib only.
def ref_root(entries: list[bytes]) -> bytes:
    if not entries:
        return hashlib.sha256(b"").digest()
    if len(entries) == 1:
        return hashlib.sha256(b"\x00" + entries[0]).digest()
    k = 1
    while k * 2 < len(entries):
        k *= 2
    return hashlib.sha256(b"\x01" + ref_root(entries[:k]) + ref_root(entries[k:])).digest()


def ref_path(m: int, entries: list[bytes]) -> list[bytes]:
    if len(entries) == 1:
        return []
    k = 1
    while k * 2 < len(entries):
        k *= 2
    if m < k:
        return [*ref_path(m, entries[:k]), ref_root(entries[k:])]
    return [*ref_path(m - k, entries[k:]), ref_root(entries[:k])]


def ref_subproof(m: int, entries: list[bytes], complete: bool) -> list[bytes]:
    if m == len(entries):
        return [] if complete else [ref_root(entries)]
    k = 1
    while k * 2 < len(entries):
        k *= 2
    if m <= k:
        return [*ref_subproof(m, entries[:k], complete), ref_root(entries[k:])]
    return [*ref_subproof(m - k, entries[k:], False), ref_root(entries[:k])]


def flip(value: bytes, bit: int) -> bytes:
    return bytes(b ^ (1 << (bit % 8)) if i == (bit // 8) % len(value) else b for i, b in enumerate(value))


def rejected(check: Callable[..., None], *args: Any) -> None:
    with pytest.raises(ProofError):
        check(*args)


# --- hashing and known answers ---------------------------------------------------------------------------


def test_hash_prefixes() -> None:
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    assert node_hash(b"l" * 32, b"r" * 32) == hashlib.sha256(b"\x01" + b"l" * 32 + b"r" * 32).digest()


def test_empty_tree_root_is_sha256_of_nothing() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert mth([]) == EMPTY_ROOT == MerkleTree().root() == TREE.root(0)


def test_small_trees_by_hand() -> None:
    a, b, c, d, e = (leaf_hash(x) for x in (b"a", b"b", b"c", b"d", b"e"))
    tree = MerkleTree([a, b, c, d, e])
    assert tree.root(1) == a
    assert tree.root(2) == node_hash(a, b)
    assert tree.root(3) == node_hash(node_hash(a, b), c)
    assert tree.root(4) == node_hash(node_hash(a, b), node_hash(c, d))
    assert tree.root(5) == node_hash(node_hash(node_hash(a, b), node_hash(c, d)), e)
    assert tree.inclusion_path(2, 5) == [d, node_hash(a, b), e]
    assert tree.inclusion_path(4, 5) == [node_hash(node_hash(a, b), node_hash(c, d))]
    assert tree.inclusion_path(0, 3) == [b, c]
    assert tree.consistency_path(3, 5) == [c, d, node_hash(a, b), e]
    assert tree.consistency_path(2, 5) == [node_hash(c, d), e]
    assert tree.consistency_path(4, 5) == [e]
    assert tree.consistency_path(1, 2) == [b]


@pytest.mark.parametrize("size", [0, 1, 2, 3, 5, 7, 8, 13, 31, 64])
def test_roots_match_the_independent_recursion(size: int) -> None:
    assert TREE.root(size) == ROOTS[size] == ref_root(ENTRIES[:size])


# --- every proof of every size verifies ----------------------------------------------------------------


@pytest.mark.parametrize("size", range(1, MAX + 1))
def test_every_inclusion_path_verifies(size: int) -> None:
    grown = MerkleTree(LEAVES[:size])
    assert grown.root() == TREE.root(size) == ROOTS[size]
    for index in range(size):
        path = TREE.inclusion_path(index, size)
        assert path == grown.inclusion_path(index)
        verify_inclusion(LEAVES[index], index, size, path, ROOTS[size])
        if size <= 16:
            assert path == ref_path(index, ENTRIES[:size])


@pytest.mark.parametrize("second", range(1, MAX + 1))
def test_every_consistency_path_verifies(second: int) -> None:
    for first in range(1, second + 1):
        path = TREE.consistency_path(first, second)
        verify_consistency(first, second, ROOTS[first], ROOTS[second], path)
        if second <= 16:
            assert path == ref_subproof(first, ENTRIES[:second], True)


# --- tampering ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", range(1, MAX + 1))
def test_tampered_inclusion_is_rejected(size: int) -> None:
    root = ROOTS[size]
    for index in range(size):
        path = TREE.inclusion_path(index, size)
        for i in range(len(path)):
            bad = [*path[:i], flip(path[i], index + i), *path[i + 1 :]]
            rejected(verify_inclusion, LEAVES[index], index, size, bad, root)
        if path:
            rejected(verify_inclusion, LEAVES[index], index, size, path[:-1], root)
            rejected(verify_inclusion, LEAVES[index], index, size, path[1:], root)
        rejected(verify_inclusion, LEAVES[index], index, size, [*path, LEAVES[0]], root)
        rejected(verify_inclusion, LEAVES[index], index, size, [LEAVES[0], *path], root)
        for other in (index - 1, index + 1):
            if 0 <= other < size:
                rejected(verify_inclusion, LEAVES[index], other, size, path, root)
        for n in (size - 1, size + 1):
            if index < n <= MAX:
                rejected(verify_inclusion, LEAVES[index], index, n, path, ROOTS[n])
        rejected(verify_inclusion, LEAVES[index], index, size, path, flip(root, index))
        rejected(verify_inclusion, flip(LEAVES[index], 0), index, size, path, root)


@pytest.mark.parametrize("second", range(2, MAX + 1))
def test_tampered_consistency_is_rejected(second: int) -> None:
    new = ROOTS[second]
    for first in range(1, second):
        old = ROOTS[first]
        path = TREE.consistency_path(first, second)
        for i in range(len(path)):
            bad = [*path[:i], flip(path[i], first + i), *path[i + 1 :]]
            rejected(verify_consistency, first, second, old, new, bad)
        rejected(verify_consistency, first, second, old, new, path[:-1])
        rejected(verify_consistency, first, second, old, new, path[1:])
        rejected(verify_consistency, first, second, old, new, [*path, LEAVES[0]])
        rejected(verify_consistency, first, second, old, new, [LEAVES[0], *path])
        rejected(verify_consistency, first, second, flip(old, 3), new, path)
        rejected(verify_consistency, first, second, old, flip(new, 5), path)
        rejected(verify_consistency, first, second, new, old, path)
        for f in (first - 1, first + 1):
            if 1 <= f < second:
                rejected(verify_consistency, f, second, ROOTS[f], new, path)
        for s in (second - 1, second + 1):
            if first < s <= MAX:
                rejected(verify_consistency, first, s, old, ROOTS[s], path)


# --- edge cases -----------------------------------------------------------------------------------------


def test_inclusion_edge_cases() -> None:
    rejected(verify_inclusion, LEAVES[0], 0, 0, [], EMPTY_ROOT)  # nothing is in the empty tree
    rejected(verify_inclusion, LEAVES[3], 3, 3, [], ROOTS[3])  # index >= size
    rejected(verify_inclusion, LEAVES[0], -1, 3, [], ROOTS[3])
    rejected(verify_inclusion, LEAVES[0], 0, 1, [LEAVES[1]], ROOTS[1])  # a path for a one-leaf tree
    rejected(verify_inclusion, LEAVES[0][:31], 0, 1, [], ROOTS[1])  # not a 32-byte hash
    rejected(verify_inclusion, LEAVES[0], 0, 2, [LEAVES[1] + b"\x00"], ROOTS[2])
    verify_inclusion(LEAVES[0], 0, 1, [], ROOTS[1])  # a one-leaf tree's root is its leaf hash
    with pytest.raises(ProofError, match="not in a tree of size"):
        TREE.inclusion_path(5, 5)
    with pytest.raises(ProofError, match="beyond"):
        TREE.inclusion_path(0, MAX + 1)


def test_consistency_edge_cases() -> None:
    for n in (1, 2, 7, 64):
        assert TREE.consistency_path(n, n) == []
        verify_consistency(n, n, ROOTS[n], ROOTS[n], [])  # equal sizes: empty path, equal roots
        rejected(verify_consistency, n, n, ROOTS[n], ROOTS[n], [ROOTS[n]])
        rejected(verify_consistency, n, n, ROOTS[n], flip(ROOTS[n], 1), [])
    rejected(verify_consistency, 0, 5, EMPTY_ROOT, ROOTS[5], [])  # first == 0 is refused
    rejected(verify_consistency, 0, 5, EMPTY_ROOT, ROOTS[5], [ROOTS[5]])
    rejected(verify_consistency, 5, 3, ROOTS[5], ROOTS[3], TREE.consistency_path(3, 5))  # first > second
    rejected(verify_consistency, 3, 5, ROOTS[3], ROOTS[5], [])  # RFC step 1: empty path
    with pytest.raises(ProofError, match="1 <= first <= second"):
        TREE.consistency_path(0, 5)
    with pytest.raises(ProofError, match="1 <= first <= second"):
        TREE.consistency_path(6, 5)
    with pytest.raises(ProofError, match="beyond"):
        TREE.consistency_path(1, MAX + 1)


def test_tree_refuses_bad_leaf_hashes() -> None:
    with pytest.raises(ProofError):
        MerkleTree().append(b"short")
