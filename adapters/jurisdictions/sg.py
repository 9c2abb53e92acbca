"""Singapore: offers to accredited (opted-in) or institutional investors under SFA s275(1), or of at
least SGD 200,000 per transaction under s275(1A); s276 restricts resale for six months."""

from __future__ import annotations

from adapters import reasons
from adapters.decider import Decider
from adapters.jurisdictions.common import DAY, currency_mismatch, value_in
from adapters.types import Conditions, Decision, HolderKind, Request

JURISDICTION = "SG"
RESALE_TRANSFEREES = ("sg-institutional-investor", "sg-relevant-person")


def accredited(request: Request, rules: Decider) -> bool:
    """SFA s4A: an opted-in individual or corporation meeting one of the wealth or income tests."""
    evidence = request.holder.evidence
    if rules.value("accredited_opt_in_required") and not evidence.opted_in:
        return False
    if request.holder.kind == HolderKind.ENTITY:
        return rules.meets("accredited_corporation_net_assets", evidence.net_worth)
    residence = min(evidence.primary_residence_equity or 0, rules.amount("accredited_primary_residence_cap"))
    net_personal_assets = None if evidence.net_worth is None else evidence.net_worth + residence
    return (
        rules.meets("accredited_net_personal_assets", net_personal_assets)
        or rules.meets("accredited_income", evidence.income)
        or rules.meets("accredited_net_financial_assets", evidence.net_financial_assets)
    )


def decide(request: Request, rules: Decider) -> Decision:
    rules.rule("treated_as_underlying")
    mismatch = currency_mismatch(request, rules)
    if mismatch is not None:
        return mismatch
    resale = Conditions(
        lockup_until=request.context.acquisition + rules.amount("resale_restriction_days") * DAY,
        permitted_transferees=RESALE_TRANSFEREES,
    )
    if request.holder.evidence.institution or accredited(request, rules):
        rules.rule("relevant_person_offer")
        return rules.conditional(resale, reasons.ELIGIBLE)
    if rules.meets("large_transaction_minimum", value_in(request, rules.pack.currency)):
        return rules.conditional(resale, reasons.ELIGIBLE)
    return rules.deny(reasons.INVESTOR_CATEGORY)
