"""Hypothesis: junk never raises anything but the package's own errors; valid statements round-trip."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attestations.attestation import Attestation
from attestations.eip712 import Domain
from attestations.errors import AttestationError, MalformedError
from attestations.kinds import (
    KINDS,
    HolderEligibility,
    KycClaim,
    OperatorDecision,
    TransferAuthorization,
    check_kyc_claim,
    check_operator_decision,
)
from attestations.signing import attest
from attestations.trust import TrustList
from attestations.verify import verify
from tests.vectors.attestation_vectors import SIGNERS, path, signer_key, signer_trust, vector_keys, vector_trust

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=30,
)
VECTORS = {kind: json.loads(path(kind).read_text()) for kind in sorted(KINDS)}
TRUST = vector_trust()
addresses = st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())


def uint(bits: int) -> st.SearchStrategy[int]:
    return st.integers(min_value=0, max_value=2**bits - 1)


def only_own_errors(call: Any, *args: Any) -> None:
    with contextlib.suppress(AttestationError):
        call(*args)


@given(json_values)
def test_junk_json_values(value: Any) -> None:
    only_own_errors(verify, value, TRUST)
    only_own_errors(Attestation.parse, value)
    only_own_errors(TrustList.parse, value)


@given(st.text(max_size=200) | st.binary(max_size=200))
def test_junk_text(text: str | bytes) -> None:
    only_own_errors(Attestation.parse, text)
    only_own_errors(TrustList.parse, text)


def _mutations(document: Any) -> st.SearchStrategy[Any]:
    """Strategies replacing one node of ``document`` by a junk value."""
    paths: list[tuple[Any, ...]] = []

    def walk(node: Any, prefix: tuple[Any, ...]) -> None:
        paths.append(prefix)
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, (*prefix, k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, (*prefix, i))

    walk(document, ())
    return st.tuples(st.sampled_from(paths[1:]), json_values | st.just("__delete__"))


def _mutated(document: Any, mutation: tuple[tuple[Any, ...], Any]) -> Any:
    where, value = mutation
    copy = json.loads(json.dumps(document))
    target = copy
    for key in where[:-1]:
        target = target[key]
    if value == "__delete__":
        del target[where[-1]]
    else:
        target[where[-1]] = value
    return copy


@pytest.mark.parametrize("kind", sorted(VECTORS))
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_valid_attestation(kind: str, data: st.DataObject) -> None:
    vector = VECTORS[kind]
    mutation = data.draw(_mutations(vector["attestation"]))
    only_own_errors(verify, _mutated(vector["attestation"], mutation), TrustList.parse(vector["trust"]))


@settings(max_examples=200)
@given(_mutations(TRUST.to_json()))
def test_mutated_valid_trust_list(mutation: tuple[tuple[Any, ...], Any]) -> None:
    """A trust list with one node replaced or deleted raises only the package's errors; if it still parses,
    it is a trust list that round-trips."""
    try:
        parsed = TrustList.parse(_mutated(TRUST.to_json(), mutation))
    except AttestationError:
        return
    assert TrustList.parse(parsed.to_json()).to_json() == parsed.to_json()


@settings(max_examples=50, deadline=None)
@given(
    source_chain=uint(256).filter(lambda v: v > 0),
    nonce=uint(64),
    security=st.binary(min_size=32, max_size=32),
    sender=addresses,
    recipient=addresses,
    amount=uint(256),
    locked=uint(64),
    chain_id=st.integers(min_value=1, max_value=2**64),
    contract=addresses,
)
def test_valid_transfer_authorizations_round_trip(
    source_chain: int, nonce: int, security: bytes, sender: str, recipient: str, amount: int, locked: int,
    chain_id: int, contract: str,
) -> None:  # fmt: skip
    statement = TransferAuthorization(source_chain, nonce, security, sender, recipient, amount, locked)
    signed = attest(statement, Domain(chain_id, contract), vector_keys()[1:])
    assert verify(signed.dumps(), TRUST) == statement


@settings(max_examples=30, deadline=None)
@given(valid_from=uint(63), span=st.integers(min_value=1, max_value=2**32), now=uint(64))
def test_window_is_checked_exactly(valid_from: int, span: int, now: int) -> None:
    statement = HolderEligibility(
        b"\x01" * 32, "0x" + "11" * 20, 1, 410, 1, b"\0" * 32, b"\0" * 32, valid_from, valid_from + span
    )
    signed = attest(statement, Domain(1, "0x" + "22" * 20), vector_keys()[:2])
    inside = valid_from <= now < valid_from + span
    try:
        verify(signed, TRUST, now=now)
        assert inside
    except AttestationError:
        assert not inside


ISSUER, OFFICER = signer_key(SIGNERS["KycClaim"]), signer_key(SIGNERS["OperatorDecision"])
alpha2 = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2, max_size=2)
finite_json_values = st.recursive(  # JSON proper: Python's json also reads and writes Infinity
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=30,
)
json_objects = st.dictionaries(st.text(max_size=12), finite_json_values, max_size=5)


@settings(max_examples=50, deadline=None)
@given(
    holder=st.binary(min_size=32, max_size=32),
    sequence=uint(64),
    residency=alpha2,
    holder_kind=st.text(max_size=20),
    us_person=st.booleans(),
    sanctions=st.text(max_size=20),
    evidence=json_objects,
    issued_at=uint(63),
    span=st.integers(min_value=1, max_value=2**32),
    now=uint(64),
)
def test_valid_kyc_claims_round_trip(
    holder: bytes, sequence: int, residency: str, holder_kind: str, us_person: bool, sanctions: str,
    evidence: dict[str, Any], issued_at: int, span: int, now: int,
) -> None:  # fmt: skip
    """A claim with canonical evidence passes the field check, and verifies under its issuer's trust list
    exactly inside (issuedAt, expiresAt)."""
    text = json.dumps(evidence, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    claim = KycClaim(holder, sequence, residency, holder_kind, us_person, sanctions, text, issued_at, issued_at + span)
    check_kyc_claim(claim)
    signed = attest(claim, Domain(820001, "0x" + "33" * 20), [ISSUER])
    assert verify(signed.dumps(), signer_trust(ISSUER), kind=KycClaim) == claim
    inside = issued_at <= now < issued_at + span
    try:
        verify(signed, signer_trust(ISSUER), now=now, kind=KycClaim)
        assert inside
    except AttestationError:
        assert not inside


@settings(max_examples=100)
@given(evidence=json_objects, indent=st.none() | st.integers(min_value=0, max_value=2), sort=st.booleans())
def test_evidence_is_accepted_exactly_when_canonical(evidence: dict[str, Any], indent: int | None, sort: bool) -> None:
    text = json.dumps(evidence, indent=indent, sort_keys=sort, ensure_ascii=False)
    canonical = json.dumps(evidence, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    claim = KycClaim(b"\x01" * 32, 1, "KR", "natural-person", False, "clear", text, 1, 2)
    try:
        check_kyc_claim(claim)
        assert text == canonical
    except MalformedError:
        assert text != canonical


@settings(max_examples=50, deadline=None)
@given(
    source_chain=uint(256),
    tx_hash=st.binary(min_size=32, max_size=32),
    log_index=uint(64),
    approve=st.booleans(),
    locked=uint(64),
    reason=st.text(min_size=1, max_size=40).filter(str.strip),
    decided_at=uint(64),
)
def test_valid_operator_decisions_round_trip(
    source_chain: int, tx_hash: bytes, log_index: int, approve: bool, locked: int, reason: str, decided_at: int
) -> None:
    decision = OperatorDecision(source_chain, tx_hash, log_index, approve, locked, reason, OFFICER.id, decided_at)
    check_operator_decision(decision)
    signed = attest(decision, Domain(820001, "0x" + "44" * 20), [OFFICER])
    assert verify(signed.dumps(), signer_trust(OFFICER), now=decided_at, kind=OperatorDecision) == decision
