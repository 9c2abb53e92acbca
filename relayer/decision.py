"""What the relayer does with a finalized operation: approve, reject (refund) or hold for an operator.

Pure: the I/O layer gathers the chain facts; these functions decide over plain data. Refund reason
codes are the ``uint16`` stored on chain with the refund.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from adapters.compose import decide_transfer
from adapters.registry import Adapters
from adapters.sanctions import SanctionsList
from adapters.types import Context, Request, Screening, Security, Verdict
from relayer.kyc import KycRecord
from relayer.store import Operation
from relayer.transfer_state import Event

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
    event: Event
    reason: str | None = None
    decision: dict[str, Any] | None = None
    locked_until: int | None = None

    @property
    def reason_code(self) -> int | None:
        return REFUND_REASONS.get(self.reason) if self.event == Event.REJECTED and self.reason else None


@dataclass(frozen=True)
class TransferFacts:
    """What the chain and the KYC source say about a bridge-out's recipient."""

    now: int
    security: Security | None
    destination_known: bool
    recipient_eligible: bool  # HolderRegistry.isEligible(recipient, securityId) on the destination
    holder_id: str | None  # the recipient's HolderRegistry entry
    kyc: KycRecord | None
    holders_in_jurisdiction: int = 0
    holders_total: int = 0


def decide_bridge_out(
    op: Operation, facts: TransferFacts, adapters: Adapters, sanctions: SanctionsList | None
) -> Outcome:
    if facts.security is None:
        return Outcome(Event.REJECTED, "security-unlisted")
    if not facts.destination_known:
        return Outcome(Event.REJECTED, "destination-unsupported")
    if not facts.recipient_eligible or facts.holder_id is None or op.recipient is None or op.amount is None:
        return Outcome(Event.REJECTED, "recipient-not-verified")
    if facts.kyc is None:
        return Outcome(Event.ESCALATED, "kyc-missing")
    request = Request(
        facts.security,
        facts.kyc.holder(facts.holder_id, op.recipient),
        Context(
            now=facts.now,
            amount=op.amount,
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
    each transfer is decided again on its own). The holder's jurisdiction must not refuse every
    bridged security to this investor (a retail investor where only qualified ones may hold is refused)."""
    if not facts.still_linked:
        return Outcome(Event.REJECTED, "link-superseded")
    if not facts.investor_verified or facts.kyc_expiry <= facts.now:
        return Outcome(Event.REJECTED, "investor-not-verified")
    if facts.frozen:
        return Outcome(Event.REJECTED, "investor-frozen")
    if facts.kyc is None:
        return Outcome(Event.ESCALATED, "kyc-missing")
    holder = facts.kyc.holder(facts.holder_id, "0x" + "00" * 20)
    if facts.kyc.sanctions == Screening.HIT or (sanctions is not None and sanctions.hit(holder)):
        return Outcome(Event.REJECTED, "sanctions-hit")
    if facts.kyc.sanctions == Screening.NOT_SCREENED:
        return Outcome(Event.ESCALATED, "sanctions-not-screened")
    jurisdiction = adapters.jurisdiction_of(facts.kyc.residency)
    if jurisdiction is None:
        return Outcome(Event.REJECTED, "jurisdiction-unsupported")
    context = Context(now=facts.now, amount=1)
    verdicts = [adapters.decide(jurisdiction, Request(s, holder, context)).verdict for s in securities]
    if verdicts and all(v == Verdict.DENY for v in verdicts):
        return Outcome(Event.REJECTED, "investor-category")
    pack = adapters.packs[jurisdiction]
    statement = {
        "holderId": facts.holder_id,
        "country": facts.country,
        "investorClass": facts.investor_class,
        "validFrom": max(facts.now, facts.last_statement + 1),  # statements apply only in order
        "validUntil": min(facts.kyc_expiry, facts.now + HOLDER_VALIDITY_SECONDS),
        "rulePackId": pack.id,
        "rulePackHash": pack.content_hash,
    }
    return Outcome(Event.APPROVED, None, statement)
