"""Golden vectors: the committed files are what the code produces, digests agree with eth-account,
signatures verify, and a one-bit change anywhere fails with the right typed error."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from eth_account.messages import encode_typed_data
from eth_utils.crypto import keccak

from attestations.attestation import Attestation
from attestations.eip712 import Domain
from attestations.errors import (
    AttestationError,
    BadSignatureError,
    BelowThresholdError,
    DigestMismatchError,
    DuplicateAttestorError,
    ExpiredError,
    MalformedError,
    UnknownAttestorError,
    WrongDomainError,
)
from attestations.kinds import KINDS, RefundAuthorization, Statement
from attestations.trust import TrustList
from attestations.verify import verify
from tests.vectors.attestation_vectors import STATEMENTS, build, path

KINDS_UNDER_TEST = sorted(STATEMENTS)


def load(kind: str) -> dict[str, Any]:
    return dict(json.loads(path(kind).read_text()))


def test_every_kind_has_a_vector() -> None:
    assert set(KINDS_UNDER_TEST) == set(KINDS)


@pytest.mark.parametrize("kind", KINDS_UNDER_TEST)
def test_committed_vector_is_reproduced_exactly(kind: str) -> None:
    assert load(kind) == json.loads(json.dumps(build(kind)))


@pytest.mark.parametrize("kind", KINDS_UNDER_TEST)
def test_digest_agrees_with_eth_account(kind: str) -> None:
    vector = load(kind)
    signable = encode_typed_data(full_message=vector["attestation"]["typedData"])
    assert (
        "0x" + keccak(b"\x19" + signable.version + signable.header + signable.body).hex()
        == vector["attestation"]["digest"]
    )
    assert "0x" + signable.header.hex() == vector["domainSeparator"]
    assert "0x" + signable.body.hex() == vector["structHash"]


@pytest.mark.parametrize("kind", KINDS_UNDER_TEST)
def test_vector_verifies(kind: str) -> None:
    vector = load(kind)
    trust = TrustList.parse(vector["trust"])
    statement: Statement = verify(vector["attestation"], trust, now=vector["verifiedAt"])
    assert statement == STATEMENTS[kind][1]
    assert Attestation.parse(json.dumps(vector["attestation"])).log_index is not None


def leaf_paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, child in value.items():
            yield from leaf_paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from leaf_paths(child, (*prefix, index))
    else:
        yield prefix


def flip_one_bit(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value ^ 1
    if value.startswith("0x") and len(value) > 2:
        last = int(value[-1], 16) ^ 1
        return value[:-1] + format(last, "x")
    if value.isdigit():
        return str(int(value) ^ 1)
    return chr(ord(value[0]) ^ 1) + value[1:] if value else "x"


def set_path(document: dict[str, Any], where: tuple[Any, ...], value: Any) -> None:
    target: Any = document
    for key in where[:-1]:
        target = target[key]
    target[where[-1]] = value


def get_path(document: dict[str, Any], where: tuple[Any, ...]) -> Any:
    target: Any = document
    for key in where:
        target = target[key]
    return target


def expected_error(where: tuple[Any, ...]) -> type[AttestationError]:
    """Which error a one-bit change at ``where`` must raise (with the stated digest left as it was)."""
    if where[0] == "log":
        return AttestationError  # the log index is not signed: see test_log_index_is_not_signed
    if where[0] == "signatures":
        return UnknownAttestorError if where[-1] == "attestor" else BadSignatureError
    if where[0] in ("kind",) or where[:2] in (("typedData", "types"), ("typedData", "primaryType")):
        return MalformedError
    return DigestMismatchError  # message, domain or the digest itself


@pytest.mark.parametrize("kind", KINDS_UNDER_TEST)
def test_one_bit_change_anywhere_fails_with_the_right_error(kind: str) -> None:
    vector = load(kind)
    trust = TrustList.parse(vector["trust"])
    document = vector["attestation"]
    checked = 0
    for where in leaf_paths(document):
        if where[0] == "log":
            continue
        tampered = copy.deepcopy(document)
        set_path(tampered, where, flip_one_bit(get_path(document, where)))
        error = expected_error(where)
        with pytest.raises(AttestationError) as info:
            verify(tampered, trust, now=vector["verifiedAt"])
        assert isinstance(info.value, error), (where, info.value)
        checked += 1
    assert checked > 20


@pytest.mark.parametrize("kind", KINDS_UNDER_TEST)
def test_resigned_digest_with_tampered_message_fails_signatures(kind: str) -> None:
    """A tamperer who also recomputes the digest still fails on the signatures."""
    vector = load(kind)
    trust = TrustList.parse(vector["trust"])
    parsed = Attestation.parse(vector["attestation"])
    for where in leaf_paths(vector["attestation"]["typedData"]["message"]):
        tampered = copy.deepcopy(vector["attestation"])
        full = ("typedData", "message", *where)
        set_path(tampered, full, flip_one_bit(get_path(tampered, full)))
        try:
            statement = type(parsed.statement).from_message(tampered["typedData"]["message"])
        except MalformedError:
            continue  # the flip left the field's range (e.g. an address turned invalid)
        tampered["digest"] = "0x" + statement.digest(parsed.domain).hex()
        with pytest.raises(BadSignatureError):
            verify(tampered, trust, now=vector["verifiedAt"])


def test_domain_name_and_expected_domain() -> None:
    vector = load("TransferAuthorization")
    trust = TrustList.parse(vector["trust"])
    parsed = Attestation.parse(vector["attestation"])
    other_name = Attestation(
        parsed.statement, Domain(parsed.domain.chain_id, parsed.domain.verifying_contract, name="Evil")
    )
    with pytest.raises(WrongDomainError):
        verify(other_name, trust)
    with pytest.raises(WrongDomainError):
        verify(parsed, trust, domain=Domain(1, parsed.domain.verifying_contract))
    with pytest.raises(WrongDomainError):
        verify(parsed, trust, domain=Domain(parsed.domain.chain_id, "0x" + "00" * 20))
    verify(parsed, trust, domain=parsed.domain)


def test_signature_set_errors() -> None:
    vector = load("TransferAuthorization")
    trust = TrustList.parse(vector["trust"])
    parsed = Attestation.parse(vector["attestation"])
    first, second = parsed.signatures
    with pytest.raises(DuplicateAttestorError):
        verify(parsed.with_signatures([first, first, second]), trust)
    with pytest.raises(BelowThresholdError):
        verify(parsed.with_signatures([first]), trust)
    with pytest.raises(BelowThresholdError):
        verify(parsed.with_signatures([]), trust)
    swapped = type(first)(first.attestor, second.ed25519, first.secp256k1)
    with pytest.raises(BadSignatureError):
        verify(parsed.with_signatures([swapped, second]), trust)


WINDOWED = [kind for kind in KINDS_UNDER_TEST if KINDS[kind].VALID_FROM is not None]


def test_windowed_kinds() -> None:
    assert WINDOWED == ["HolderEligibility", "KycClaim", "RecognitionRecord"]


@pytest.mark.parametrize("kind", WINDOWED)
def test_validity_window(kind: str) -> None:
    vector = load(kind)
    trust = TrustList.parse(vector["trust"])
    window = STATEMENTS[kind][1].window()
    assert window is not None
    valid_from, valid_until = window
    verify(vector["attestation"], trust, now=valid_from)
    verify(vector["attestation"], trust, now=valid_until - 1)
    with pytest.raises(ExpiredError):
        verify(vector["attestation"], trust, now=valid_until)
    with pytest.raises(ExpiredError):
        verify(vector["attestation"], trust, now=valid_from - 1)


def test_wrong_kind_requested() -> None:
    vector = load("TransferAuthorization")
    with pytest.raises(MalformedError):
        verify(vector["attestation"], TrustList.parse(vector["trust"]), kind=RefundAuthorization)


def test_log_index_is_not_signed() -> None:
    """The log index is where the log put the digest, checked by an inclusion proof, not by signatures."""
    vector = load("TransferAuthorization")
    document = copy.deepcopy(vector["attestation"])
    document["log"]["index"] = 99
    verify(document, TrustList.parse(vector["trust"]))
