"""RFC 9162 §2.1 Merkle trees: hashing, inclusion and consistency proofs, and their verification. Pure.

``leaf_hash(d) = SHA-256(0x00 || d)``, ``node_hash(l, r) = SHA-256(0x01 || l || r)``; the tree over n leaves
splits at k, the largest power of two below n (RFC 9162 §2.1.1).

Edge cases (each refusal is a `ProofError` naming the reason):

- the empty tree's root is ``SHA-256(b"")``; it has no inclusion proofs and no consistency proofs;
- an inclusion proof needs ``0 <= index < size``;
- a consistency proof needs ``1 <= first <= second``: ``first == 0`` is refused (RFC 9162 defines no proof
  from the empty tree); ``first == second`` is valid only with an empty path and equal roots;
- every hash is 32 bytes.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence

from attestations.errors import ProofError

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
MAX_INCLUSION_PATH = 64  # a tree of fewer than 2**64 leaves has at most 64 levels
MAX_CONSISTENCY_PATH = 65  # 64 levels plus the seed value of §2.1.4.2 step 5


def leaf_hash(leaf: bytes) -> bytes:
    """``SHA-256(0x00 || leaf)``."""
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly below ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def mth(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH(D[n]) by the RFC 9162 §2.1.1 recursion over already-hashed leaves (the reference, O(n))."""
    n = len(leaf_hashes)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaf_hashes[0]
    k = _split(n)
    return node_hash(mth(leaf_hashes[:k]), mth(leaf_hashes[k:]))


def _check_hash(value: bytes, what: str) -> None:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        raise ProofError(f"{what} is not a {HASH_SIZE}-byte hash")


class MerkleTree:
    """An append-only tree over leaf hashes that answers for every size up to its own.

    ``_levels[h][i]`` is the root of the complete subtree over leaves ``[i * 2**h, (i + 1) * 2**h)``.
    Every subtree the RFC recursion visits is either such an aligned complete subtree (O(1)) or a suffix
    ``[start, size)``; each proof needs at most one suffix, so roots and proofs cost O(log n).
    """

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self._levels: list[list[bytes]] = [[]]
        for value in leaf_hashes:
            self.append(value)

    @property
    def size(self) -> int:
        return len(self._levels[0])

    def append(self, leaf_hash_: bytes) -> int:
        """Adds a leaf hash; returns its index."""
        _check_hash(leaf_hash_, "leaf hash")
        index = self.size
        self._levels[0].append(leaf_hash_)
        level, position = 0, index
        while position % 2 == 1:  # this node completes its parent
            row = self._levels[level]
            if level + 1 == len(self._levels):
                self._levels.append([])
            self._levels[level + 1].append(node_hash(row[position - 1], row[position]))
            level, position = level + 1, position // 2
        return index

    def leaf(self, index: int) -> bytes:
        self._check_size(index + 1, "leaf index")
        return self._levels[0][index]

    def root(self, size: int | None = None) -> bytes:
        """MTH of the first ``size`` leaves (default: all)."""
        size = self.size if size is None else size
        self._check_size(size, "tree size")
        return self._range(0, size)

    def inclusion_path(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(index, D[size]) of RFC 9162 §2.1.3.1, the sibling nearest the leaf first."""
        size = self.size if size is None else size
        self._check_size(size, "tree size")
        if not 0 <= index < size:
            raise ProofError(f"leaf index {index} is not in a tree of size {size}")
        path: list[bytes] = []
        start, end = 0, size
        while end - start > 1:
            k = _split(end - start)
            if index < start + k:
                path.append(self._range(start + k, end))
                end = start + k
            else:
                path.append(self._range(start, start + k))
                start += k
        path.reverse()
        return path

    def consistency_path(self, first: int, second: int | None = None) -> list[bytes]:
        """PROOF(first, D[second]) of RFC 9162 §2.1.4.1 (SUBPROOF with b = true); empty when equal."""
        second = self.size if second is None else second
        self._check_size(second, "tree size")
        if not 0 < first <= second:
            raise ProofError(f"no consistency proof from size {first} to size {second}: need 1 <= first <= second")
        path: list[bytes] = []
        start, end, complete = 0, second, True  # ``complete`` is SUBPROOF's b
        while True:
            if first - start == end - start:  # SUBPROOF(m, D[m], b)
                if not complete:
                    path.append(self._range(start, end))
                break
            k = _split(end - start)
            if first - start <= k:
                path.append(self._range(start + k, end))
                end = start + k
            else:
                path.append(self._range(start, start + k))
                start += k
                complete = False
        path.reverse()
        return path

    def _check_size(self, size: int, what: str) -> None:
        if not 0 <= size <= self.size:
            raise ProofError(f"{what} {size} is beyond the log's {self.size} entries")

    def _range(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) for an aligned complete subtree or a suffix of one the recursion visits."""
        n = end - start
        if n == 0:
            return EMPTY_ROOT
        if n & (n - 1) == 0 and start % n == 0:
            return self._levels[n.bit_length() - 1][start // n]
        k = _split(n)
        return node_hash(self._range(start, start + k), self._range(start + k, end))


def verify_inclusion(leaf_hash_: bytes, index: int, size: int, path: Sequence[bytes], root: bytes) -> None:
    """RFC 9162 §2.1.3.2: returns when ``path`` proves ``leaf_hash_`` at ``index`` in the tree of ``size``
    with ``root``; raises `ProofError` otherwise."""
    _check_hash(leaf_hash_, "leaf hash")
    _check_hash(root, "root hash")
    for i, p in enumerate(path):
        _check_hash(p, f"inclusion_path[{i}]")
    if not 0 <= index < size:  # step 1
        raise ProofError(f"leaf index {index} is not below tree size {size}")
    fn, sn = index, size - 1  # step 2
    r = leaf_hash_  # step 3
    for p in path:  # step 4
        if sn == 0:
            raise ProofError("inclusion path is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:  # step 5
        raise ProofError("inclusion path is shorter than the tree is deep")
    if not hmac.compare_digest(r, root):
        raise ProofError("inclusion path does not lead to the root hash")


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes, path: Sequence[bytes]) -> None:
    """RFC 9162 §2.1.4.2: returns when ``path`` proves the tree of size ``first`` with ``first_root`` is a
    prefix of the tree of size ``second`` with ``second_root``; raises `ProofError` otherwise."""
    _check_hash(first_root, "first root hash")
    _check_hash(second_root, "second root hash")
    for i, c in enumerate(path):
        _check_hash(c, f"consistency_path[{i}]")
    if first <= 0:
        raise ProofError("no consistency proof from an empty tree")
    if second < first:
        raise ProofError(f"tree size {second} is smaller than {first}")
    if first == second:
        if path:
            raise ProofError("consistency between equal sizes takes an empty path")
        if not hmac.compare_digest(first_root, second_root):
            raise ProofError("equal tree sizes with different root hashes")
        return
    if not path:  # step 1
        raise ProofError("empty consistency path")
    values = list(path)
    if first & (first - 1) == 0:  # step 2
        values.insert(0, first_root)
    fn, sn = first - 1, second - 1  # step 3
    while fn & 1:  # step 4
        fn, sn = fn >> 1, sn >> 1
    fr = sr = values[0]  # step 5
    for c in values[1:]:  # step 6
        if sn == 0:
            raise ProofError("consistency path is longer than the tree is deep")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:  # step 7
        raise ProofError("consistency path is shorter than the tree is deep")
    if not hmac.compare_digest(fr, first_root):
        raise ProofError("consistency path does not lead to the first root hash")
    if not hmac.compare_digest(sr, second_root):
        raise ProofError("consistency path does not lead to the second root hash")
