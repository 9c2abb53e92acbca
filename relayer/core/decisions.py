"""What the relayer does with a finalized operation of each kind: approve, reject (refund) or hold for an
operator.

Pure: the decide stage gathers the chain facts; these functions decide over plain data. Refund reason
codes are the ``uint16`` stored on chain with the refund.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from adapters.compose import decide_transfer
from adapters.registry import Adapters
from adapters.sanctions import SanctionsList
from adapters.types import Context, Request, Screening, Security, Verdict
from relayer.core.constants import ZERO_ADDRESS
from relayer.core.kyc import KycRecord
from relayer.core.model import Operation
from relayer.core.records import HolderEntry
from relayer.core.transfer_state import Event

# Refund reason codes (RefundAuthorization.reason); 0 is never used.
REFUND_REASONS: dict[str, int] = {
    "recipient-not-verified": 1,
    "compliance-deny": 2,
    "sanctions-hit": 3,
    "operator-rejected": 4,
    "security-unlisted": 5,
    "destination-unsupported": 6,
}
HOLDER_VALIDITY_SECONDS = 365 * 24 * 3600


@dataclass(frozen=True)
class Outcome:
    """A decision: the event to apply, why, the decision record, the lock-up a mint carries, and what else
    the operation learns (a bridge-back's security and registry recipient, a revocation's issue time in
    ``payload``)."""

    event: Event
    reason: str | None = None
    decision: dict[str, Any] | None = None
    locked_until: int | None = None
    security_id: str | None = None
    payload: Mapping[str, Any] | None = None
    recipient: str | None = None

    @property
    def reason_code(self) -> int | None:
        return REFUND_REASONS.get(self.reason) if self.event == Event.REJECTED and self.reason else None

    def columns(self) -> dict[str, Any]:
        """The operation's columns this decision sets."""
        found: dict[str, Any] = {
            "decision": self.decision, "reason": self.reason, "reason_code": self.reason_code,
            "locked_until": self.locked_until,
        }  # fmt: skip
        if self.security_id is not None:
            found["security_id"] = self.security_id
        if self.recipient is not None:
            found["recipient"] = self.recipient
        if self.payload is not None:
            found["payload"] = dict(self.payload)
        return found


def decide_destination(op: Operation, public_chain_ids: Collection[int]) -> Outcome | None:
    """A holder statement is only for a configured public chain: rejected otherwise, else None (decide on)."""
    if op.dest_chain_id in public_chain_ids:
        return None
    return Outcome(Event.REJECTED, "destination-unsupported")


@dataclass(frozen=True)
class TransferFacts:
    """What the chain and the KYC source say about a bridge-out and its recipient, at the decision time
    ``now`` (the bridge-out's block time: every decider reaches the same decision)."""

    now: int
    security: Security | None
    destination_known: bool
    recipient: str | None
    amount: int | None
    recipient_eligible: bool  # HolderRegistry.isEligible(recipient, securityId) on the destination
    holder_id: str | None  # the recipient's HolderRegistry entry
    kyc: KycRecord | None
    holders_in_jurisdiction: int = 0
    holders_total: int = 0


def decide_bridge_out(facts: TransferFacts, adapters: Adapters, sanctions: SanctionsList | None) -> Outcome:
    """Whether a bridge-out is minted (with its lock-up), refunded (with a reason code) or held."""
    if facts.security is None:
        return Outcome(Event.REJECTED, "security-unlisted")
    if not facts.destination_known:
        return Outcome(Event.REJECTED, "destination-unsupported")
    if not facts.recipient_eligible or facts.holder_id is None or facts.recipient is None or facts.amount is None:
        return Outcome(Event.REJECTED, "recipient-not-verified")
    if facts.kyc is None:
        return Outcome(Event.ESCALATED, "kyc-missing")
    request = Request(
        facts.security,
        facts.kyc.holder(facts.holder_id, facts.recipient),
        Context(
            now=facts.now,
            amount=facts.amount,
            holders_in_jurisdiction=facts.holders_in_jurisdiction,
            holders_total=facts.holders_total,
        ),
    )
    composite = decide_transfer(request, adapters, sanctions)
    record = composite.to_json()
    if composite.verdict == Verdict.DENY:
        reason = "sanctions-hit" if "sanctions-hit" in composite.reasons else "compliance-deny"
        return Outcome(Event.REJECTED, reason, record)
    if composite.verdict == Verdict.ESCALATE:
        # an operator who approves still delivers under every condition the jurisdictions set
        reason = composite.reasons[0] if composite.reasons else "escalated"
        return Outcome(Event.ESCALATED, reason, record, composite.conditions.lockup_until or 0)
    return Outcome(Event.APPROVED, None, record, composite.conditions.lockup_until or 0)


@dataclass(frozen=True)
class RegistrationFacts:
    """What the registry says about the investor behind a wallet link, and the KYC source."""

    now: int
    investor_verified: bool
    still_linked: bool
    holder_id: str
    country: int  # ISO 3166-1 numeric, from the InvestorRegistry
    investor_class: int
    kyc_expiry: int
    kyc: KycRecord | None
    frozen: bool = False  # an agent froze the investor on a bridged security
    last_statement: int = 0  # issue time of the last statement the holder registry applied to the wallet


def decide_registration(
    facts: RegistrationFacts, adapters: Adapters, sanctions: SanctionsList | None, securities: list[Security]
) -> Outcome:
    """Whether a linked wallet becomes a verified holder on its public chain (scope: every security;
    each transfer is decided again on its own). The holder's jurisdiction must allow at least one bridged
    security to this investor: refusing every one rejects the link (a retail investor where only qualified
    ones may hold), allowing none but holding some for review (a rule without a verified source) holds it.
    A held registration carries the statement an operator's approval delivers (`registration_statement`)."""
    if not facts.still_linked:
        return Outcome(Event.REJECTED, "link-superseded")
    if not facts.investor_verified or facts.kyc_expiry <= facts.now:
        return Outcome(Event.REJECTED, "investor-not-verified")
    if facts.frozen:
        return Outcome(Event.REJECTED, "investor-frozen")
    if facts.kyc is None:
        return Outcome(Event.ESCALATED, "kyc-missing", registration_statement(facts, None))
    holder = facts.kyc.holder(facts.holder_id, ZERO_ADDRESS)
    if facts.kyc.sanctions == Screening.HIT or (sanctions is not None and sanctions.hit(holder)):
        return Outcome(Event.REJECTED, "sanctions-hit")
    if facts.kyc.sanctions == Screening.NOT_SCREENED:
        return Outcome(Event.ESCALATED, "sanctions-not-screened", registration_statement(facts, None))
    jurisdiction = adapters.jurisdiction_of(facts.kyc.residency)
    if jurisdiction is None:
        return Outcome(Event.REJECTED, "jurisdiction-unsupported")
    context = Context(now=facts.now, amount=1)
    decided = [adapters.decide(jurisdiction, Request(s, holder, context)) for s in securities]
    pack = adapters.packs[jurisdiction]
    statement = registration_statement(facts, (pack.id, pack.content_hash))
    if decided and all(d.verdict == Verdict.DENY for d in decided):
        return Outcome(Event.REJECTED, "investor-category")
    if decided and not any(d.verdict.allows for d in decided):
        held = next(d for d in decided if d.verdict == Verdict.ESCALATE)
        return Outcome(Event.ESCALATED, held.reasons[0] if held.reasons else "escalated", statement)
    return Outcome(Event.APPROVED, None, statement)


def registration_statement(facts: RegistrationFacts, pack: tuple[str, str] | None) -> dict[str, Any]:
    """The eligibility statement fields of a registration: the registry's facts, valid from the decision time
    (after the wallet's last statement: statements apply only in order) for a year at most and never beyond
    the KYC expiry; ``pack``: the rule pack (id, content hash) it was decided by, None for an operator's
    decision alone (hash zero)."""
    valid_from = max(facts.now, facts.last_statement + 1)
    return {
        "holderId": facts.holder_id,
        "country": facts.country,
        "investorClass": facts.investor_class,
        "validFrom": valid_from,
        "validUntil": min(facts.kyc_expiry, valid_from + HOLDER_VALIDITY_SECONDS),
        "rulePackId": None if pack is None else pack[0],
        "rulePackHash": "0x" + "00" * 32 if pack is None else pack[1],
    }


@dataclass(frozen=True)
class BridgeBackFacts:
    """What the chains say about a bridge-back: its wrapped token's security, the burner's own registry address
    (the investor whose latest wallet link names the burning wallet on its chain) and whether it is verified."""

    security_id: bytes  # WrappedSecurity.securityId() of the burned token
    burner: str | None  # the investor of the latest WalletLinkRequested naming the burning wallet (None: none)
    burner_verified: bool  # InvestorRegistry.isVerified(burner)


def decide_bridge_back(facts: BridgeBackFacts) -> Outcome:
    """Released to the burner's own registry address (whatever registry recipient the bridge-back names: a
    locked-up holder cannot pass units to another investor this way), if verified; held otherwise."""
    security_id = "0x" + facts.security_id.hex()
    if facts.burner is None:
        return Outcome(Event.ESCALATED, "burner-not-linked", security_id=security_id)
    if not facts.burner_verified:
        return Outcome(
            Event.ESCALATED, "registry-recipient-unverified", security_id=security_id, recipient=facts.burner
        )
    return Outcome(Event.APPROVED, security_id=security_id, recipient=facts.burner)


@dataclass(frozen=True)
class RevocationFacts:
    """The wallet's entry in the destination's holder registry."""

    now: int
    holder: HolderEntry


def decide_revocation(op: Operation, facts: RevocationFacts) -> Outcome:
    """A live entry is revoked by a statement issued after the entry's last one; nothing live: rejected."""
    if not facts.holder.registered:
        return Outcome(Event.REJECTED, "nothing-to-revoke")
    return Outcome(Event.APPROVED, payload={**op.payload, "issuedAt": max(facts.now, facts.holder.updated_at + 1)})
