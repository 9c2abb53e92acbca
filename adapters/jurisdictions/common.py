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


def retail_exemptions(request: Request, rules: Decider, persons_rule: str, minimum_rule: str) -> list[str]:
    """Citations of the offering exemptions that clearly cover a retail investor: few enough holders
    with this one counted (``persons_rule``), or a large enough transfer (``minimum_rule``)."""
    exemptions: list[str] = []
    if rules.meets(persons_rule, request.context.holders_in_jurisdiction + 1):
        exemptions.append(rules.rule(persons_rule).citation)
    if rules.meets(minimum_rule, value_in(request, rules.pack.currency)):
        exemptions.append(rules.rule(minimum_rule).citation)
    return exemptions


def value_in(request: Request, currency: str) -> int | None:
    """The transfer's value when it is stated in ``currency``, else None."""
    context = request.context
    return context.value if context.value_currency == currency else None
