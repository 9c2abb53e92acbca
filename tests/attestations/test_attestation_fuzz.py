"""Hypothesis: junk never raises anything but the package's own errors; valid statements round-trip."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attestations.attestation import Attestation
from attestations.eip712 import Domain
from attestations.errors import AttestationError
from attestations.kinds import HolderEligibility, TransferAuthorization
from attestations.signing import attest
from attestations.trust import TrustList
from attestations.verify import verify
from tests.vectors.attestation_vectors import path, vector_keys, vector_trust

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=30,
)
VECTOR = json.loads(path("HolderEligibility").read_text())["attestation"]
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


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(_mutations(VECTOR))
def test_mutated_valid_attestation(mutation: tuple[tuple[Any, ...], Any]) -> None:
    only_own_errors(verify, _mutated(VECTOR, mutation), TRUST)


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
