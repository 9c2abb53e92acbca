"""The transparency log over memory storage: idempotent appends, signed tree heads, proofs through their
JSON, strict parsing of junk, and the golden vectors under ``tests/vectors/log/``."""

from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attestations.errors import AttestationError, MalformedError, ProofError
from attestations.keys import Ed25519Signer
from attestations.log import (
    ConsistencyProof,
    InclusionProof,
    MemoryLogStorage,
    SignedTreeHead,
    TransparencyLog,
    tree_head_signature,
)
from attestations.merkle import EMPTY_ROOT, leaf_hash, mth
from attestations.trust import TrustList
from tests.vectors import log_vectors

SIGNER = Ed25519Signer(hashlib.sha256(b"test/log-key").digest())
OTHER = Ed25519Signer(hashlib.sha256(b"test/other-key").digest())
NOW = 1_790_000_000_000


def digest(i: int) -> bytes:
    return hashlib.sha256(f"attestation-{i}".encode()).digest()


async def filled(n: int) -> TransparencyLog:
    log = TransparencyLog(MemoryLogStorage())
    await log.append_many([digest(i) for i in range(n)])
    return log


def flip_hex(text: str) -> str:
    return text[:-1] + ("0" if text[-1] != "0" else "1")


# --- appending -----------------------------------------------------------------------------------------


async def test_append_is_idempotent() -> None:
    storage = MemoryLogStorage()
    log = TransparencyLog(storage)
    assert await log.append(digest(0)) == 0
    assert await log.append(digest(1)) == 1
    assert await log.append(digest(0)) == 0
    assert await log.append_many([digest(2), digest(1), digest(2), digest(3)]) == [2, 1, 2, 3]
    assert log.size == await storage.size() == 4
    assert log.root() == mth([leaf_hash(digest(i)) for i in range(4)])


async def test_entries_are_32_bytes() -> None:
    log = TransparencyLog(MemoryLogStorage())
    for bad in (b"", b"x" * 31, b"x" * 33):
        with pytest.raises(MalformedError):
            await log.append(bad)
    with pytest.raises(MalformedError):
        await log.append_many([digest(0), b"short"])
    assert log.size == 0


async def test_load_rebuilds_and_follows_other_writers() -> None:
    storage = MemoryLogStorage()
    writer = TransparencyLog(storage)
    await writer.append_many([digest(i) for i in range(10)])
    reader = TransparencyLog(storage)
    assert await reader.load() == 10
    assert reader.root() == writer.root()
    await writer.append_many([digest(i) for i in range(10, 15)])
    assert reader.size == 10
    proof = await reader.prove_inclusion(digest(12))  # an entry past the loaded tree: catches up
    assert (proof.leaf_index, proof.tree_size) == (12, 15)
    assert await reader.load() == 15 and reader.root() == writer.root()


async def test_empty_log() -> None:
    log = TransparencyLog(MemoryLogStorage())
    assert await log.load() == 0
    head = log.tree_head(SIGNER, NOW)
    assert (head.tree_size, head.root_hash) == (0, EMPTY_ROOT)
    head.verify(SIGNER.verifier)
    with pytest.raises(ProofError, match="not in the log"):
        await log.prove_inclusion(digest(0))
    with pytest.raises(ProofError):
        log.prove_consistency(0, 0)


# --- signed tree heads ---------------------------------------------------------------------------------


def test_tree_head_signature_layout() -> None:
    root = bytes(range(32))
    message = tree_head_signature(0x0102030405060708, 0x1112131415161718, root)
    assert message == bytes.fromhex("0102030405060708111213141516171820") + root + b"\x00\x00"
    assert len(message) == 51


async def test_tree_head_signs_and_verifies() -> None:
    log = await filled(9)
    head = log.tree_head(SIGNER, NOW)
    assert (head.tree_size, head.timestamp, head.root_hash) == (9, NOW, log.root())
    head.verify(SIGNER.verifier)
    older = log.tree_head(SIGNER, NOW, tree_size=4)
    assert older.root_hash == mth([leaf_hash(digest(i)) for i in range(4)])
    older.verify(SIGNER.verifier)
    with pytest.raises(ProofError):
        head.verify(OTHER.verifier)
    with pytest.raises(ProofError):
        log.tree_head(SIGNER, NOW, tree_size=10)


@pytest.mark.parametrize(
    "change",
    [
        {"tree_size": 8},
        {"tree_size": 10},
        {"timestamp": NOW + 1},
        {"root_hash": bytes(32)},
        {"signature": bytes(64)},
        {"signature": b"\x01" * 63},
    ],
)
async def test_tampered_tree_head_is_rejected(change: dict[str, Any]) -> None:
    head = (await filled(9)).tree_head(SIGNER, NOW)
    with pytest.raises(ProofError):
        replace(head, **change).verify(SIGNER.verifier)


@pytest.mark.parametrize("field", ["tree_size", "timestamp", "root_hash", "signature"])
async def test_tree_head_json_tampering_is_rejected(field: str) -> None:
    document = (await filled(9)).tree_head(SIGNER, NOW).to_json()
    value = document[field]
    document[field] = value + 1 if isinstance(value, int) else flip_hex(value)
    with pytest.raises(ProofError):
        SignedTreeHead.from_json(json.dumps(document)).verify(SIGNER.verifier)


# --- proofs through their JSON -------------------------------------------------------------------------


async def test_inclusion_proofs_round_trip_and_verify() -> None:
    log = await filled(13)
    heads = {n: log.tree_head(SIGNER, NOW, n) for n in range(1, 14)}
    for i in range(13):
        for size in (i + 1, 13):
            proof = await log.prove_inclusion(digest(i), size)
            text = json.dumps(proof.to_json())
            parsed = InclusionProof.from_json(text)
            assert parsed == proof == InclusionProof.from_json(json.loads(text))
            parsed.verify(digest(i), SignedTreeHead.from_json(json.dumps(heads[size].to_json())))
            with pytest.raises(ProofError):
                parsed.verify(digest(i + 1), heads[size])  # another entry
            if size < 13:
                with pytest.raises(ProofError, match="tree size"):
                    parsed.verify(digest(i), heads[13])  # another tree head
    with pytest.raises(ProofError, match="not in a tree of size"):
        await log.prove_inclusion(digest(5), tree_size=5)
    with pytest.raises(ProofError, match="not in the log"):
        await log.prove_inclusion(digest(99))


async def test_consistency_proofs_round_trip_and_verify() -> None:
    log = await filled(13)
    heads = {n: log.tree_head(SIGNER, NOW, n) for n in range(1, 14)}
    for first in range(1, 14):
        for second in range(first, 14):
            proof = log.prove_consistency(first, second)
            parsed = ConsistencyProof.from_json(json.dumps(proof.to_json()))
            assert parsed == proof
            parsed.verify(heads[first], heads[second])
            if first < second:
                with pytest.raises(ProofError):
                    parsed.verify(heads[second], heads[first])
    assert log.prove_consistency(5) == log.prove_consistency(5, 13)
    with pytest.raises(ProofError):
        log.prove_consistency(0, 5)
    with pytest.raises(ProofError):
        log.prove_consistency(3, 14)


async def test_tampered_proof_json_is_rejected() -> None:
    log = await filled(11)
    head, old = log.tree_head(SIGNER, NOW), log.tree_head(SIGNER, NOW, 6)
    inclusion = (await log.prove_inclusion(digest(4))).to_json()
    for i in range(len(inclusion["inclusion_path"])):
        bad = json.loads(json.dumps(inclusion))
        bad["inclusion_path"][i] = flip_hex(bad["inclusion_path"][i])
        with pytest.raises(ProofError):
            InclusionProof.from_json(bad).verify(digest(4), head)
    with pytest.raises(ProofError):
        InclusionProof.from_json({**inclusion, "leaf_index": 5}).verify(digest(4), head)
    consistency = log.prove_consistency(6).to_json()
    for i in range(len(consistency["consistency_path"])):
        bad = json.loads(json.dumps(consistency))
        bad["consistency_path"][i] = flip_hex(bad["consistency_path"][i])
        with pytest.raises(ProofError):
            ConsistencyProof.from_json(bad).verify(old, head)
    with pytest.raises(ProofError):
        ConsistencyProof.from_json({**consistency, "consistency_path": []}).verify(old, head)


# --- strict parsing ------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=70),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=20), children, max_size=5),
    max_leaves=20,
)
hexes = st.one_of(
    st.binary(max_size=70).map(lambda b: "0x" + b.hex()),
    st.text(alphabet="0123456789abcdefABCDEFxX \n", max_size=140),
)
fields = st.one_of(json_values, hexes, st.integers(min_value=-(2**70), max_value=2**70), st.lists(hexes, max_size=70))
PARSERS = [SignedTreeHead.from_json, InclusionProof.from_json, ConsistencyProof.from_json]
KEYS = [
    ("tree_size", "timestamp", "root_hash", "signature"),
    ("leaf_index", "tree_size", "inclusion_path"),
    ("first", "second", "consistency_path"),
]


def parses_or_fails_typed(parser: Any, raw: Any) -> None:
    """Parsing returns or raises an `AttestationError`; anything else propagates and fails the test."""
    with contextlib.suppress(AttestationError):
        parser(raw)


@settings(max_examples=300, deadline=None)
@given(raw=json_values)
def test_junk_json_values_raise_only_attestation_errors(raw: Any) -> None:
    for parser in PARSERS:
        parses_or_fails_typed(parser, raw)
        parses_or_fails_typed(parser, json.dumps(raw))


@settings(max_examples=300, deadline=None)
@given(which=st.integers(0, 2), data=st.data())
def test_near_miss_objects_raise_only_attestation_errors(which: int, data: st.DataObject) -> None:
    keys = KEYS[which]
    document = {key: data.draw(fields) for key in keys}
    if data.draw(st.booleans()):
        document.pop(keys[data.draw(st.integers(0, len(keys) - 1))])
    if data.draw(st.booleans()):
        document[data.draw(st.text(max_size=10))] = data.draw(json_values)
    parses_or_fails_typed(PARSERS[which], document)


@settings(max_examples=200, deadline=None)
@given(raw=st.binary(max_size=200) | st.text(max_size=200))
def test_junk_text_raises_only_attestation_errors(raw: bytes | str) -> None:
    for parser in PARSERS:
        parses_or_fails_typed(parser, raw)


@pytest.mark.parametrize(
    "document",
    [
        {"leaf_index": True, "tree_size": 2, "inclusion_path": []},
        {"leaf_index": -1, "tree_size": 2, "inclusion_path": []},
        {"leaf_index": 0, "tree_size": 2**64, "inclusion_path": []},
        {"leaf_index": 0, "tree_size": 2.0, "inclusion_path": []},
        {"leaf_index": 0, "tree_size": 2, "inclusion_path": ["0x" + "00" * 31]},
        {"leaf_index": 0, "tree_size": 2, "inclusion_path": ["00" * 32]},
        {"leaf_index": 0, "tree_size": 2, "inclusion_path": ["0x" + "00" * 32] * 65},
        {"leaf_index": 0, "tree_size": 2, "inclusion_path": "0x" + "00" * 32},
        {"leaf_index": 0, "tree_size": 2, "inclusion_path": [], "extra": 1},
        {"leaf_index": 0, "tree_size": 2},
        [0, 2, []],
    ],
)
def test_malformed_inclusion_proofs(document: Any) -> None:
    with pytest.raises(MalformedError):
        InclusionProof.from_json(document)


# --- golden vectors ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(log_vectors.build()))
def test_vector_files_are_what_the_code_produces(name: str) -> None:
    assert (log_vectors.DIRECTORY / name).read_text() == log_vectors.render(log_vectors.build()[name])


async def test_vectors_recomputed_by_the_log() -> None:
    files = {p.name: json.loads(p.read_text()) for p in log_vectors.DIRECTORY.glob("*.json")}
    tree = files["tree.json"]
    entries = [bytes.fromhex(e[2:]) for e in tree["entries"]]
    assert [leaf_hash(e).hex() for e in entries] == [h[2:] for h in tree["leaf_hashes"]]
    log = TransparencyLog(MemoryLogStorage())
    await log.append_many(entries)
    assert ["0x" + log.root(n).hex() for n in range(len(entries) + 1)] == tree["roots"]
    signer = log_vectors.log_signer()
    log_key = TrustList.parse(files["trust.json"]).log_key
    assert log_key is not None
    assert log_key.public_key == signer.verifier.public_key
    for name, size in (("sth-3.json", 3), ("sth-7.json", 7)):
        head = log.tree_head(signer, files[name]["timestamp"], size)
        assert head.to_json() == files[name]
        SignedTreeHead.from_json(files[name]).verify(signer.verifier)
    inclusion = await log.prove_inclusion(entries[2], 7)
    assert inclusion.to_json() == files["inclusion-2-7.json"]
    assert log.prove_consistency(3, 7).to_json() == files["consistency-3-7.json"]
    new, old = SignedTreeHead.from_json(files["sth-7.json"]), SignedTreeHead.from_json(files["sth-3.json"])
    InclusionProof.from_json(files["inclusion-2-7.json"]).verify(entries[2], new)
    ConsistencyProof.from_json(files["consistency-3-7.json"]).verify(old, new)
