"""The kinds signed by someone other than the attestors: a claim issuer's `KycClaim` and a compliance
officer's `OperatorDecision`. Their field checks, and verification against a trust list of one signer."""

from __future__ import annotations

import dataclasses
from typing import TypeVar

import pytest

from attestations.attestation import Attestation
from attestations.eip712 import encode_type
from attestations.errors import (
    BadSignatureError,
    BelowThresholdError,
    ExpiredError,
    MalformedError,
    UnknownAttestorError,
    WrongDomainError,
)
from attestations.kinds import (
    MAX_EVIDENCE_CHARS,
    KycClaim,
    OperatorDecision,
    Statement,
    check_kyc_claim,
    check_operator_decision,
)
from attestations.signing import attest
from attestations.trust import TrustList
from attestations.verify import verify
from tests.vectors.attestation_vectors import (
    INVESTORS,
    REGISTRY,
    SIGNERS,
    STATEMENTS,
    signer_key,
    signer_trust,
    vector_keys,
    vector_trust,
)

S = TypeVar("S", bound=Statement)


def vector_statement(kind: type[S]) -> S:
    statement = STATEMENTS[kind.KIND][1]
    assert isinstance(statement, kind)
    return statement


CLAIM = vector_statement(KycClaim)
DECISION = vector_statement(OperatorDecision)
ISSUER = signer_key(SIGNERS["KycClaim"])
OFFICER = signer_key(SIGNERS["OperatorDecision"])
NOW = 1_790_000_000


def test_type_strings() -> None:
    assert encode_type("KycClaim") == (
        "KycClaim(bytes32 holderId,uint64 sequence,string residency,string holderKind,bool usPerson,"
        "string sanctions,string evidence,uint64 issuedAt,uint64 expiresAt)"
    )
    assert encode_type("OperatorDecision") == (
        "OperatorDecision(uint256 sourceChainId,bytes32 sourceTxHash,uint64 sourceLogIndex,bool approve,"
        "uint64 lockedUntil,string reason,string officer,uint64 decidedAt)"
    )


def test_fields_are_the_eip712_fields_in_snake_case() -> None:
    assert CLAIM.to_message() == {
        "holderId": "0x" + CLAIM.holder_id.hex(),
        "sequence": 3,
        "residency": "KR",
        "holderKind": "natural-person",
        "usPerson": False,
        "sanctions": "clear",
        "evidence": CLAIM.evidence,
        "issuedAt": 1_780_000_000,
        "expiresAt": 1_811_536_000,
    }
    assert list(DECISION.to_message()) == [
        "sourceChainId", "sourceTxHash", "sourceLogIndex", "approve", "lockedUntil", "reason", "officer", "decidedAt"
    ]  # fmt: skip
    assert DECISION.to_message()["sourceChainId"] == "820001"  # uint256: a decimal string
    assert KycClaim.from_message(CLAIM.to_message()) == CLAIM
    assert OperatorDecision.from_message(DECISION.to_message()) == DECISION


def test_only_the_claim_has_a_window() -> None:
    assert CLAIM.window() == (CLAIM.issued_at, CLAIM.expires_at)
    assert DECISION.window() is None


@pytest.mark.parametrize(
    ("field", "value"),
    [("usPerson", 0), ("usPerson", "false"), ("sequence", -1), ("sequence", 2**64), ("holderId", "0x00"),
     ("residency", 82), ("evidence", None)],
)  # fmt: skip
def test_claim_types_are_checked_on_parsing(field: str, value: object) -> None:
    with pytest.raises(MalformedError):
        KycClaim.from_message({**CLAIM.to_message(), field: value})


# --- field checks ----------------------------------------------------------------------------------------


def test_vector_claim_and_decision_pass_their_checks() -> None:
    check_kyc_claim(CLAIM)
    check_operator_decision(DECISION)
    check_operator_decision(dataclasses.replace(DECISION, approve=False, locked_until=0))


@pytest.mark.parametrize("residency", ["", "K", "KOR", "kr", "Kr", "K1", "410", "KR\n", " KR", "ＫＲ"])
def test_residency_is_iso_alpha_2(residency: str) -> None:
    with pytest.raises(MalformedError, match="residency"):
        check_kyc_claim(dataclasses.replace(CLAIM, residency=residency))


@pytest.mark.parametrize("expires_at", [1_780_000_000, 1_779_999_999, 0])
def test_claim_expires_after_it_is_issued(expires_at: int) -> None:
    with pytest.raises(MalformedError, match="expiresAt"):
        check_kyc_claim(dataclasses.replace(CLAIM, expires_at=expires_at))
    check_kyc_claim(dataclasses.replace(CLAIM, expires_at=CLAIM.issued_at + 1))


@pytest.mark.parametrize(
    "evidence",
    ["{}", '{"a":1}', '{"a":{"b":[1,"x",null,true]},"b":-2.5}', '{"name":"김민준"}', '{"A":1,"a":2,"é":3}',
     '{"q":"say \\"hi\\"\\n"}'],
)  # fmt: skip
def test_canonical_evidence_passes(evidence: str) -> None:
    check_kyc_claim(dataclasses.replace(CLAIM, evidence=evidence))


def test_evidence_up_to_the_length_bound_passes() -> None:
    evidence = '{"a":"' + "x" * (MAX_EVIDENCE_CHARS - 8) + '"}'
    assert len(evidence) == MAX_EVIDENCE_CHARS
    check_kyc_claim(dataclasses.replace(CLAIM, evidence=evidence))


@pytest.mark.parametrize(
    ("evidence", "problem"),
    [
        ("", "not JSON"),
        ("passport", "not JSON"),
        ('{"a":1', "not JSON"),
        ('{"a":NaN}', "not JSON"),
        ('{"a":Infinity}', "not JSON"),
        # As deep as the length bound allows: an array, or RecursionError under the default recursion limit
        # (this suite runs under web3's 100000, as the relayer and the attestor do): never a crash.
        ("[" * 8192 + "]" * 8192, "not (a JSON object|JSON)"),
        ("[" * 8193 + "]" * 8193, "longer than 16384 characters"),
        ('{"a":"' + "x" * 16_379 + '"}', "longer than 16384 characters"),
        ("[]", "not a JSON object"),
        ('["a"]', "not a JSON object"),
        ('"a"', "not a JSON object"),
        ("1", "not a JSON object"),
        ("null", "not a JSON object"),
        ('{"b":1,"a":2}', "not canonical"),  # unsorted keys
        ('{"a": 1}', "not canonical"),  # spaces
        ('{"a":1,"b":2}\n', "not canonical"),  # trailing newline
        (' {"a":1}', "not canonical"),
        ('{\n  "a": 1\n}', "not canonical"),
        ('{"a":1,"a":2}', "not canonical"),  # a duplicate key
        ('{"name":"\\uae40"}', "not canonical"),  # non-ASCII escaped, not UTF-8 as is
        ('{"a":"\\/"}', "not canonical"),  # a needless escape
        ('{"a":1.0e0}', "not canonical"),
    ],
)
def test_non_canonical_evidence_fails(evidence: str, problem: str) -> None:
    with pytest.raises(MalformedError, match=f"evidence: {problem}"):
        check_kyc_claim(dataclasses.replace(CLAIM, evidence=evidence))


@pytest.mark.parametrize("value", ["", " ", "\t\n"])
def test_decision_names_its_officer_and_reason(value: str) -> None:
    with pytest.raises(MalformedError, match=r"OperatorDecision\.officer: empty"):
        check_operator_decision(dataclasses.replace(DECISION, officer=value))
    with pytest.raises(MalformedError, match=r"OperatorDecision\.reason: empty"):
        check_operator_decision(dataclasses.replace(DECISION, reason=value))


# --- verification against a trust list of one signer ---------------------------------------------------


def test_one_signer_trust_list() -> None:
    trust = signer_trust(ISSUER)
    assert trust.threshold == 1
    assert [a.to_json() for a in trust.attestors] == [ISSUER.public()]
    assert TrustList.parse(trust.to_json()).to_json() == trust.to_json()


def test_claim_verifies_under_its_issuer() -> None:
    signed = attest(CLAIM, INVESTORS, [ISSUER])
    assert [s.attestor for s in signed.signatures] == ["kyc-issuer-1"]
    assert verify(signed.dumps(), signer_trust(ISSUER), now=NOW, domain=INVESTORS, kind=KycClaim) == CLAIM


def test_decision_verifies_under_its_officer() -> None:
    signed = attest(DECISION, REGISTRY, [OFFICER])
    assert [s.attestor for s in signed.signatures] == [DECISION.officer]
    statement = verify(signed.dumps(), signer_trust(OFFICER), now=NOW, domain=REGISTRY, kind=OperatorDecision)
    assert statement == DECISION
    verify(signed, signer_trust(OFFICER), now=2**64 - 1)  # a decision has no window


def test_claim_window() -> None:
    signed = attest(CLAIM, INVESTORS, [ISSUER])
    trust = signer_trust(ISSUER)
    verify(signed, trust, now=CLAIM.issued_at)
    verify(signed, trust, now=CLAIM.expires_at - 1)
    with pytest.raises(ExpiredError):
        verify(signed, trust, now=CLAIM.issued_at - 1)
    with pytest.raises(ExpiredError):
        verify(signed, trust, now=CLAIM.expires_at)


@pytest.mark.parametrize("kind", ["KycClaim", "OperatorDecision"])
def test_signers_are_not_interchangeable(kind: str) -> None:
    """The signer's trust list accepts no other signer, attestor or key under the signer's id, and the
    attestors' trust list does not accept the signer."""
    _, statement, domain = STATEMENTS[kind]
    signer = signer_key(SIGNERS[kind])
    trust = signer_trust(signer)
    signed = attest(statement, domain, [signer])
    verify(signed, trust)
    for wrong in (OFFICER if signer.id == ISSUER.id else ISSUER, vector_keys()[0]):
        with pytest.raises(UnknownAttestorError):
            verify(attest(statement, domain, [wrong]), trust)
    impostor = dataclasses.replace(signer_key("impostor"), id=signer.id)
    with pytest.raises(BadSignatureError):
        verify(attest(statement, domain, [impostor]), trust)
    with pytest.raises(UnknownAttestorError):
        verify(signed, vector_trust())
    with pytest.raises(BelowThresholdError):
        verify(signed.with_signatures([]), trust)


def test_claim_is_bound_to_the_investor_registry() -> None:
    signed = attest(CLAIM, INVESTORS, [ISSUER])
    with pytest.raises(WrongDomainError):
        verify(signed, signer_trust(ISSUER), domain=REGISTRY)
    with pytest.raises(WrongDomainError):
        verify(attest(CLAIM, REGISTRY, [ISSUER]), signer_trust(ISSUER), domain=INVESTORS)


def test_wrong_kind_requested() -> None:
    signed = attest(CLAIM, INVESTORS, [ISSUER])
    with pytest.raises(MalformedError):
        verify(signed, signer_trust(ISSUER), kind=OperatorDecision)
    assert Attestation.parse(signed.dumps()).kind == "KycClaim"


def test_a_string_with_a_lone_surrogate_is_malformed_never_a_unicode_error() -> None:
    """Parsing promises only the package's own errors: a string with no UTF-8 form is malformed."""
    claim = vector_statement(KycClaim)
    message = {**claim.to_message(), "holderKind": "natural-\ud800person"}
    with pytest.raises(MalformedError):
        KycClaim.from_message(message).digest(INVESTORS)
