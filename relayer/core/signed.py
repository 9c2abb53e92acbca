"""Statements signed by others than the attestors, and when they count (pure; the relayer and every
attestor apply the same rules):

- a **KYC claim** (`KycClaim`, signed by a configured claim issuer) counts for a holder when its signature is
  an issuer's, it is about that holder, it is the claim the registry anchors for the holder
  (`InvestorRegistry.claimOf`), and it has not expired at the decision time;
- an **operator decision** (`OperatorDecision`, signed by a configured compliance officer, who must be the
  officer it names) counts for the held item its source event started.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Protocol

from adapters.errors import AdapterError
from attestations.attestation import Attestation
from attestations.eip712 import Domain
from attestations.errors import AttestationError
from attestations.kinds import KycClaim, OperatorDecision, check_kyc_claim, check_operator_decision
from attestations.signing import AttestorKey, attest
from attestations.trust import TrustList
from attestations.verify import verify
from relayer.core.config import AttestorConfig, Config, SignerConfig
from relayer.core.errors import ConfigError, DariError, SecretError
from relayer.core.kyc import KycRecord, parse_record


class SourceEvent(Protocol):
    """Where a held item's source event happened (`relayer.core.model.Source`, `relayer.core.events.LogRef`)."""

    @property
    def chain_id(self) -> int: ...

    @property
    def tx_hash(self) -> str: ...

    @property
    def log_index(self) -> int: ...


class NotCounted(DariError):
    """A signed statement does not count: ``code`` says why (a stable reason code), the message what was seen."""

    def __init__(self, code: str, detail: str) -> None:
        self.code = code
        super().__init__(f"{code}: {detail}")


def signing_key(entry: SignerConfig | AttestorConfig, where: str) -> AttestorKey:
    """The key pair of the signer ``entry`` configures, from its key file or environment variable (on the
    signer's own machine); `ConfigError` (at ``where``) when it is missing, unreadable, or not the pair the
    configuration publishes for this id."""
    if entry.key is None:
        raise ConfigError(where, [f"{entry.id}'s key is not configured here (key_file or key_env)"])
    try:
        key = AttestorKey.from_json(json.loads(entry.key.read()))
    except SecretError as exc:
        raise ConfigError(where, [str(exc)]) from None
    except ValueError:
        raise ConfigError(where, ["the key is not key JSON {id, ed25519, secp256k1}"]) from None
    except AttestationError as exc:
        raise ConfigError(where, [str(exc)]) from None
    public = key.public()
    if (public["id"], public["ed25519"].lower(), public["address"].lower()) != (
        entry.id, entry.ed25519.lower(), entry.address.lower()
    ):  # fmt: skip
        raise ConfigError(where, [f"the key is not the one published for {entry.id} (id, ed25519, address)"])
    return key


def claims_domain(config: Config) -> Domain:
    """KYC claims are bound to the registry's InvestorRegistry (which anchors them)."""
    return Domain(config.registry.chain_id, config.registry.contracts["investorRegistry"])


def decisions_domain(config: Config) -> Domain:
    """Operator decisions are bound to the registry's escrow."""
    return Domain(config.registry.chain_id, config.registry.contracts["escrow"])


def trust_of(signers: Sequence[SignerConfig]) -> TrustList:
    """The trust list of ``signers``, any one of whom may sign (threshold 1)."""
    return TrustList.parse({
        "epoch": 1, "threshold": 1,
        "attestors": [{"id": s.id, "ed25519": s.ed25519, "address": s.address} for s in signers],
    })  # fmt: skip


def verified_claim(document: Attestation | dict[str, Any], issuers: TrustList, domain: Domain) -> Attestation:
    """The claim in ``document`` if an issuer of ``issuers`` signed it under ``domain`` (the registry's
    InvestorRegistry) and its fields are sound; `NotCounted` (``kyc-claim-invalid``) otherwise."""
    try:
        attestation = document if isinstance(document, Attestation) else Attestation.parse(document)
        claim = verify(attestation, issuers, domain=domain, kind=KycClaim)
        check_kyc_claim(claim)
    except AttestationError as exc:
        raise NotCounted("kyc-claim-invalid", str(exc)) from None
    return attestation


def claim_record(attestation: Attestation) -> KycRecord:
    """The KYC record a verified claim states; `NotCounted` (``kyc-claim-invalid``) if its evidence is not
    what the adapters read."""
    claim = attestation.statement
    if not isinstance(claim, KycClaim):
        raise NotCounted("kyc-claim-invalid", f"a {attestation.kind} is no KycClaim")
    raw = {
        "residency": claim.residency, "kind": claim.holder_kind, "usPerson": claim.us_person,
        "sanctions": claim.sanctions, "evidence": json.loads(claim.evidence),
    }  # fmt: skip
    try:
        record = parse_record(raw)
    except (ValueError, KeyError, TypeError, AdapterError) as exc:
        raise NotCounted("kyc-claim-invalid", f"evidence: {exc}") from None
    return KycRecord(record.residency, record.kind, record.us_person, record.sanctions, record.evidence, attestation)


def current_record(record: KycRecord | None, holder_id: bytes, anchor: bytes, now: int) -> KycRecord | None:
    """``record`` if its claim counts for ``holder_id`` at ``now``: the holder's, the one the registry anchors
    (``anchor``: `InvestorRegistry.claimOf`'s digest), not expired; None otherwise (no KYC evidence)."""
    if record is None or record.claim is None:
        return None
    claim = record.claim.statement
    if not isinstance(claim, KycClaim) or claim.holder_id != holder_id or record.claim.digest != anchor:
        return None
    return record if claim.issued_at <= now < claim.expires_at else None


def verified_decision(
    document: Attestation | dict[str, Any], officers: TrustList, domain: Domain, source: SourceEvent
) -> OperatorDecision:
    """The decision in ``document`` if the officer it names signed it under ``domain`` (the registry's
    escrow) about the held item ``source`` started; `NotCounted` (``operator-decision-invalid``) otherwise."""
    try:
        attestation = document if isinstance(document, Attestation) else Attestation.parse(document)
        decision = verify(attestation, officers, domain=domain, kind=OperatorDecision)
        check_operator_decision(decision)
    except AttestationError as exc:
        raise NotCounted("operator-decision-invalid", str(exc)) from None
    if [s.attestor for s in attestation.signatures] != [decision.officer]:
        raise NotCounted("operator-decision-invalid", f"signed by {attestation.signatures}, not by {decision.officer}")
    held = (source.chain_id, bytes.fromhex(source.tx_hash[2:]), source.log_index)
    if (decision.source_chain_id, decision.source_tx_hash, decision.source_log_index) != held:
        raise NotCounted("operator-decision-invalid", "the decision is about another source event")
    return decision


def signed_decision(
    key: AttestorKey, domain: Domain, source: SourceEvent, *, approve: bool, locked_until: int, reason: str, now: int
) -> Attestation:
    """The officer's decision about the held item ``source`` started, signed with the officer's ``key`` under
    ``domain`` (`decisions_domain`): approve keeping lock-up ``locked_until``, or reject (lock-up 0)."""
    decision = OperatorDecision(
        source.chain_id, bytes.fromhex(source.tx_hash.removeprefix("0x")), source.log_index, approve,
        locked_until if approve else 0, reason, key.id, now,
    )  # fmt: skip
    return attest(decision, domain, [key])
