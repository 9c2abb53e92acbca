"""The transparency log: wire types (signed tree head, inclusion and consistency proofs) and an append-only
log of 32-byte attestation digests over a `LogStorage`.

JSON, with RFC 9162's names and 0x-hex hashes (strict: exactly these keys, integers are uint64):

```
tree head    {"tree_size": n, "timestamp": ms, "root_hash": "0x<32>", "signature": "0x<64>"}
inclusion    {"leaf_index": i, "tree_size": n, "inclusion_path": ["0x<32>", ...]}
consistency  {"first": m, "second": n, "consistency_path": ["0x<32>", ...]}
```

A tree head's signature is ed25519 over RFC 9162 §4.10 ``TreeHeadSignature`` (51 bytes, big-endian):

| offset | size | field                                         |
|-------:|-----:|-----------------------------------------------|
|      0 |    8 | timestamp (uint64, milliseconds since epoch)  |
|      8 |    8 | tree_size (uint64)                            |
|     16 |    1 | length of root_hash (uint8) = 32              |
|     17 |   32 | root_hash                                     |
|     49 |    2 | length of sth_extensions (uint16) = 0         |
"""

from __future__ import annotations

import asyncio
import json
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from attestations.errors import BadSignatureError, MalformedError, ProofError
from attestations.keys import Ed25519Signer, Ed25519Verifier, parse_hex
from attestations.merkle import (
    HASH_SIZE,
    MAX_CONSISTENCY_PATH,
    MAX_INCLUSION_PATH,
    MerkleTree,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)

UINT64_MAX = 2**64 - 1
LOAD_BATCH = 10_000


def tree_head_signature(timestamp: int, tree_size: int, root_hash: bytes) -> bytes:
    """The 51 bytes a tree head's signature covers (RFC 9162 §4.10, no extensions)."""
    _uint64(timestamp, "timestamp")
    _uint64(tree_size, "tree_size")
    if not isinstance(root_hash, bytes) or len(root_hash) != HASH_SIZE:
        raise MalformedError("root_hash: expected 32 bytes")
    return struct.pack(">QQB", timestamp, tree_size, HASH_SIZE) + root_hash + struct.pack(">H", 0)


@dataclass(frozen=True)
class SignedTreeHead:
    """A log's signed statement of its size and root hash at ``timestamp`` (ms since the Unix epoch)."""

    tree_size: int
    timestamp: int
    root_hash: bytes
    signature: bytes

    @classmethod
    def sign(cls, tree_size: int, timestamp: int, root_hash: bytes, signer: Ed25519Signer) -> SignedTreeHead:
        message = tree_head_signature(timestamp, tree_size, root_hash)
        signature = signer.sign_tree_head(message)
        return cls(tree_size, timestamp, root_hash, signature)

    def verify(self, verifier: Ed25519Verifier) -> None:
        """Returns when the log key ``verifier`` signed this head; raises `ProofError` otherwise."""
        message = tree_head_signature(self.timestamp, self.tree_size, self.root_hash)
        try:
            verifier.verify_tree_head(message, self.signature)
        except BadSignatureError:
            raise ProofError("tree head signature does not verify under the log key") from None

    def to_json(self) -> dict[str, Any]:
        return {
            "tree_size": self.tree_size,
            "timestamp": self.timestamp,
            "root_hash": _hex(self.root_hash),
            "signature": _hex(self.signature),
        }

    @classmethod
    def from_json(cls, raw: Any) -> SignedTreeHead:
        """From JSON text or a decoded object; `MalformedError` on any deviation."""
        doc = _object(raw, "tree head", ("tree_size", "timestamp", "root_hash", "signature"))
        return cls(
            _uint64(doc["tree_size"], "tree_size"),
            _uint64(doc["timestamp"], "timestamp"),
            parse_hex(doc["root_hash"], HASH_SIZE, "root_hash"),
            parse_hex(doc["signature"], 64, "signature"),
        )


@dataclass(frozen=True)
class InclusionProof:
    """RFC 9162 §2.1.3: the entry at ``leaf_index`` is in the tree of ``tree_size``."""

    leaf_index: int
    tree_size: int
    inclusion_path: tuple[bytes, ...]

    def verify(self, entry: bytes, head: SignedTreeHead) -> None:
        """Returns when this proves ``entry`` is in ``head``'s tree; raises `ProofError` otherwise. The head's
        signature is checked separately (`SignedTreeHead.verify`)."""
        if self.tree_size != head.tree_size:
            raise ProofError(f"proof is for tree size {self.tree_size}, the tree head has {head.tree_size}")
        verify_inclusion(leaf_hash(_entry(entry)), self.leaf_index, self.tree_size, self.inclusion_path, head.root_hash)

    def to_json(self) -> dict[str, Any]:
        return {
            "leaf_index": self.leaf_index,
            "tree_size": self.tree_size,
            "inclusion_path": [_hex(h) for h in self.inclusion_path],
        }

    @classmethod
    def from_json(cls, raw: Any) -> InclusionProof:
        """From JSON text or a decoded object; `MalformedError` on any deviation."""
        doc = _object(raw, "inclusion proof", ("leaf_index", "tree_size", "inclusion_path"))
        return cls(
            _uint64(doc["leaf_index"], "leaf_index"),
            _uint64(doc["tree_size"], "tree_size"),
            _path(doc["inclusion_path"], "inclusion_path", MAX_INCLUSION_PATH),
        )


@dataclass(frozen=True)
class ConsistencyProof:
    """RFC 9162 §2.1.4: the tree of size ``first`` is a prefix of the tree of size ``second``."""

    first: int
    second: int
    consistency_path: tuple[bytes, ...]

    def verify(self, old: SignedTreeHead, new: SignedTreeHead) -> None:
        """Returns when this proves ``old``'s tree is a prefix of ``new``'s; raises `ProofError` otherwise.
        The heads' signatures are checked separately (`SignedTreeHead.verify`)."""
        if (self.first, self.second) != (old.tree_size, new.tree_size):
            raise ProofError(
                f"proof is from size {self.first} to {self.second}, the tree heads have "
                f"{old.tree_size} and {new.tree_size}"
            )
        verify_consistency(self.first, self.second, old.root_hash, new.root_hash, self.consistency_path)

    def to_json(self) -> dict[str, Any]:
        return {
            "first": self.first,
            "second": self.second,
            "consistency_path": [_hex(h) for h in self.consistency_path],
        }

    @classmethod
    def from_json(cls, raw: Any) -> ConsistencyProof:
        """From JSON text or a decoded object; `MalformedError` on any deviation."""
        doc = _object(raw, "consistency proof", ("first", "second", "consistency_path"))
        return cls(
            _uint64(doc["first"], "first"),
            _uint64(doc["second"], "second"),
            _path(doc["consistency_path"], "consistency_path", MAX_CONSISTENCY_PATH),
        )


class LogStorage(Protocol):
    """Where the log's entries live, index order, append-only. Each entry is 32 bytes and appears once."""

    async def size(self) -> int:
        """The number of entries."""
        ...

    async def append(self, entries: Sequence[bytes]) -> list[int]:
        """Appends the entries not yet stored, in order; returns every entry's index (existing ones too)."""
        ...

    async def entries(self, start: int, end: int) -> list[bytes]:
        """The entries at indices ``[start, end)``."""
        ...

    async def index_of(self, entry: bytes) -> int | None:
        """The index of ``entry``, or None when it is not in the log."""
        ...


class MemoryLogStorage:
    """`LogStorage` in memory (tests, tools)."""

    def __init__(self) -> None:
        self._entries: list[bytes] = []
        self._index: dict[bytes, int] = {}

    async def size(self) -> int:
        return len(self._entries)

    async def append(self, entries: Sequence[bytes]) -> list[int]:
        for entry in entries:
            _entry(entry)
        indices: list[int] = []
        for entry in entries:
            index = self._index.get(entry)
            if index is None:
                index = self._index[entry] = len(self._entries)
                self._entries.append(entry)
            indices.append(index)
        return indices

    async def entries(self, start: int, end: int) -> list[bytes]:
        return self._entries[start:end]

    async def index_of(self, entry: bytes) -> int | None:
        return self._index.get(entry)


class TransparencyLog:
    """An append-only log of 32-byte entries: the storage holds them, an in-memory `MerkleTree` answers.

    The tree follows the storage: `load` (and every append) reads the entries it lacks, including those
    other writers appended to the same storage.
    """

    def __init__(self, storage: LogStorage) -> None:
        self._storage = storage
        self._tree = MerkleTree()
        self._lock = asyncio.Lock()

    @property
    def size(self) -> int:
        """The number of entries in the in-memory tree."""
        return self._tree.size

    async def load(self) -> int:
        """Reads the entries the tree lacks (all of them the first time); returns the size."""
        async with self._lock:
            await self._catch_up(await self._storage.size())
        return self.size

    async def append(self, entry: bytes) -> int:
        """Appends ``entry`` unless it is already logged; returns its index."""
        return (await self.append_many([entry]))[0]

    async def append_many(self, entries: Sequence[bytes]) -> list[int]:
        """Appends the entries not yet logged, in order; returns every entry's index."""
        hashes = [leaf_hash(_entry(e)) for e in entries]
        async with self._lock:
            indices = await self._storage.append(entries)
            if len(indices) != len(entries):
                raise MalformedError(f"log storage returned {len(indices)} indices for {len(entries)} entries")
            await self._catch_up(max(indices, default=-1) + 1)
        for index, expected in zip(indices, hashes, strict=True):
            if self._tree.leaf(index) != expected:
                raise MalformedError(f"log storage holds another entry at index {index}")
        return indices

    def tree_head(self, signer: Ed25519Signer, timestamp_ms: int, tree_size: int | None = None) -> SignedTreeHead:
        """A tree head for ``tree_size`` (default: the current size) signed at ``timestamp_ms``."""
        size = self.size if tree_size is None else tree_size
        return SignedTreeHead.sign(size, timestamp_ms, self._tree.root(size), signer)

    def root(self, tree_size: int | None = None) -> bytes:
        return self._tree.root(tree_size)

    async def prove_inclusion(self, entry: bytes, tree_size: int | None = None) -> InclusionProof:
        """The inclusion proof of ``entry`` in the tree of ``tree_size`` (default: current); `ProofError`
        when the entry is not logged or not within that size."""
        index = await self._storage.index_of(_entry(entry))
        if index is None:
            raise ProofError(f"{_hex(entry)} is not in the log")
        if index >= self.size:
            await self.load()
        size = self.size if tree_size is None else tree_size
        return InclusionProof(index, size, tuple(self._tree.inclusion_path(index, size)))

    def prove_consistency(self, first: int, second: int | None = None) -> ConsistencyProof:
        """The consistency proof from size ``first`` to ``second`` (default: current); `ProofError` unless
        ``1 <= first <= second <= size``."""
        second = self.size if second is None else second
        return ConsistencyProof(first, second, tuple(self._tree.consistency_path(first, second)))

    async def _catch_up(self, target: int) -> None:
        while self._tree.size < target:
            start = self._tree.size
            end = min(target, start + LOAD_BATCH)
            batch = await self._storage.entries(start, end)
            if len(batch) != end - start:
                raise MalformedError(f"log storage returned {len(batch)} entries for [{start}, {end})")
            for entry in batch:
                self._tree.append(leaf_hash(_entry(entry)))


def _hex(value: bytes) -> str:
    return "0x" + value.hex()


def _entry(entry: bytes) -> bytes:
    if not isinstance(entry, bytes) or len(entry) != HASH_SIZE:
        raise MalformedError("a log entry is a 32-byte digest")
    return entry


def _uint64(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= UINT64_MAX:
        raise MalformedError(f"{field}: expected an integer in [0, 2**64)")
    return value


def _object(raw: Any, what: str, keys: tuple[str, ...]) -> dict[str, Any]:
    if isinstance(raw, str | bytes):
        try:
            raw = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise MalformedError(f"{what} is not JSON: {exc}") from None
    if not isinstance(raw, dict) or set(raw) != set(keys):
        raise MalformedError(f"a {what} is an object with exactly {', '.join(keys)}")
    return raw


def _path(value: Any, field: str, limit: int) -> tuple[bytes, ...]:
    if not isinstance(value, list) or len(value) > limit:
        raise MalformedError(f"{field}: expected a list of at most {limit} hashes")
    return tuple(parse_hex(h, HASH_SIZE, f"{field}[{i}]") for i, h in enumerate(value))
