"""Small helpers shared by the jurisdiction modules (pure)."""

from __future__ import annotations

from adapters import reasons
from adapters.decider import Decider
from adapters.types import Decision, Request

DAY = 86_400


def currency_mismatch(request: Request, rules: Decider) -> Decision | None:
    """ESCALATE when the holder's evidence is not in the pack's currency (no FX conversion here)."""
    if request.holder.evidence.currency != rules.pack.currency:
        return rules.escalate(reasons.EVIDENCE_CURRENCY)
    return None


def value_in(request: Request, currency: str) -> int | None:
    """The transfer's value when it is stated in ``currency``, else None."""
    context = request.context
    return context.value if context.value_currency == currency else None
