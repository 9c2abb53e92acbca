"""Threshold verification of an attestation against a trust list. Pure: ``now`` is passed in.

Returns the typed statement, or raises the `AttestationError` subclass naming what is wrong. Every
signature present must verify (ed25519 over the digest, and secp256k1 recovering the attestor's
address); at least ``threshold`` distinct trusted attestors must have signed.
"""

from __future__ import annotations

from typing import Any, TypeVar

from attestations.attestation import Attestation
from attestations.eip712 import DOMAIN_NAME, DOMAIN_VERSION, Domain
from attestations.errors import (
    BadSignatureError,
    BelowThresholdError,
    DuplicateAttestorError,
    ExpiredError,
    MalformedError,
    UnknownAttestorError,
    WrongDomainError,
)
from attestations.keys import recover_address
from attestations.kinds import Statement
from attestations.trust import TrustList

S = TypeVar("S", bound=Statement)


def verify(
    attestation: Attestation | str | bytes | dict[str, Any],
    trust: TrustList,
    *,
    now: int | None = None,
    domain: Domain | None = None,
    kind: type[S] = Statement,  # type: ignore[assignment]
) -> S:
    """The attested statement, if ``attestation`` is valid under ``trust`` at time ``now`` (Unix
    seconds; None skips the validity-window check) and, when given, for ``domain`` and ``kind``."""
    parsed = attestation if isinstance(attestation, Attestation) else Attestation.parse(attestation)
    statement = parsed.statement
    if not isinstance(statement, kind):
        raise MalformedError(f"expected a {kind.__name__}, got a {parsed.kind}")
    _check_domain(parsed.domain, domain)
    _check_signatures(parsed, trust)
    if now is not None:
        _check_window(statement, now)
    return statement


def _check_domain(actual: Domain, expected: Domain | None) -> None:
    if (actual.name, actual.version) != (DOMAIN_NAME, DOMAIN_VERSION):
        raise WrongDomainError(f"domain {actual.name!r} version {actual.version!r} is not Dari's")
    if expected is None:
        return
    if actual.chain_id != expected.chain_id:
        raise WrongDomainError(f"chain id {actual.chain_id}, expected {expected.chain_id}")
    if actual.verifying_contract.lower() != expected.verifying_contract.lower():
        raise WrongDomainError(
            f"verifying contract {actual.verifying_contract}, expected {expected.verifying_contract}"
        )


def _check_signatures(attestation: Attestation, trust: TrustList) -> None:
    digest = attestation.digest
    seen: set[str] = set()
    for signature in attestation.signatures:
        attestor = trust.attestor(signature.attestor)
        if attestor is None:
            raise UnknownAttestorError(f"attestor {signature.attestor!r} is not in trust list epoch {trust.epoch}")
        if signature.attestor in seen:
            raise DuplicateAttestorError(f"attestor {signature.attestor!r} signed twice")
        seen.add(signature.attestor)
        try:
            attestor.ed25519.verify(digest, signature.ed25519)
        except BadSignatureError as exc:
            raise BadSignatureError(f"attestor {signature.attestor!r}: {exc}") from None
        try:
            recovered = recover_address(digest, signature.secp256k1)
        except BadSignatureError as exc:
            raise BadSignatureError(f"attestor {signature.attestor!r}: {exc}") from None
        if recovered != attestor.address:
            raise BadSignatureError(
                f"attestor {signature.attestor!r}: secp256k1 signature is not by {attestor.address}"
            )
    if len(seen) < trust.threshold:
        raise BelowThresholdError(f"{len(seen)} attestor signature(s), threshold {trust.threshold}")


def _check_window(statement: Statement, now: int) -> None:
    window = statement.window()
    if window is None:
        return
    valid_from, valid_until = window
    if now < valid_from:
        raise ExpiredError(f"not valid before {valid_from} (now {now})")
    if now >= valid_until:
        raise ExpiredError(f"expired at {valid_until} (now {now})")
