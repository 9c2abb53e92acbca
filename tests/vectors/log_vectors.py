"""Golden transparency-log vectors under ``tests/vectors/log/`` (SPEC section 5).

A seven-entry log: ``tree.json`` (entries, leaf hashes, the root of every size 0..7), tree heads of sizes 3
and 7 signed by the TEST-ONLY log key, an inclusion proof (index 2, size 7), a consistency proof (3 to 7)
and ``trust.json`` naming the log key. Everything is deterministic (ed25519 signatures are), so an outside
implementation can recompute each file. Regenerate (only when the format changes on purpose) with
``.venv/bin/python -m tests.vectors.log_vectors``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from attestations.keys import Ed25519Signer
from attestations.log import SignedTreeHead
from attestations.merkle import MerkleTree, leaf_hash
from tests.vectors.attestation_vectors import vector_trust

DIRECTORY = Path(__file__).parent / "log"
ENTRIES = [hashlib.sha256(f"dari-vector/log/entry-{i}".encode()).digest() for i in range(7)]
LOG_SEED = hashlib.sha256(b"dari-vector/ed25519/log").digest()  # the log key of the attestation vectors
TIMESTAMPS = {3: 1_790_000_000_000, 7: 1_790_000_060_000}
INCLUSION = (2, 7)  # (leaf_index, tree_size)
CONSISTENCY = (3, 7)  # (first, second)


def _hex(value: bytes) -> str:
    return "0x" + value.hex()


def log_signer() -> Ed25519Signer:
    return Ed25519Signer(LOG_SEED)


def build() -> dict[str, Any]:
    """Every vector file's JSON, by file name."""
    tree = MerkleTree(leaf_hash(e) for e in ENTRIES)
    signer = log_signer()
    heads = {n: SignedTreeHead.sign(n, ts, tree.root(n), signer) for n, ts in TIMESTAMPS.items()}
    index, size = INCLUSION
    first, second = CONSISTENCY
    return {
        "tree.json": {
            "entries": [_hex(e) for e in ENTRIES],
            "leaf_hashes": [_hex(leaf_hash(e)) for e in ENTRIES],
            "roots": [_hex(tree.root(n)) for n in range(len(ENTRIES) + 1)],
        },
        "trust.json": {**vector_trust().to_json(), "log": {"ed25519": signer.verifier.hex()}},
        "sth-3.json": heads[3].to_json(),
        "sth-7.json": heads[7].to_json(),
        "inclusion-2-7.json": {
            "leaf_index": index,
            "tree_size": size,
            "inclusion_path": [_hex(h) for h in tree.inclusion_path(index, size)],
        },
        "consistency-3-7.json": {
            "first": first,
            "second": second,
            "consistency_path": [_hex(h) for h in tree.consistency_path(first, second)],
        },
    }


def render(document: Any) -> str:
    return json.dumps(document, indent=2) + "\n"


def write() -> None:
    DIRECTORY.mkdir(parents=True, exist_ok=True)
    for name, document in build().items():
        (DIRECTORY / name).write_text(render(document))


if __name__ == "__main__":
    write()
