"""United Kingdom: the financial promotion restriction admits self-certified high-net-worth individuals
(income >= GBP 100k or net assets >= GBP 250k, as reinstated 2024-03-27 by SI 2024/301) and self-certified
sophisticated investors; investment professionals rest on an unverified rule (ESCALATE); retail is denied.
The Digital Securities Sandbox is recorded in the pack but not relied on."""

from __future__ import annotations

from adapters import reasons
from adapters.decider import Decider
from adapters.jurisdictions.common import currency_mismatch
from adapters.types import Decision, HolderKind, Request

JURISDICTION = "UK"
CERTIFICATION_MISSING = "uk-certification-missing"  # meets the HNW figures but has not self-certified
HNW_FIGURES_MISSING = "uk-hnw-figures-missing"  # self-certified HNW, but KYC evidenced neither figure
HNW_NOT_IN_FORCE = "uk-hnw-not-in-force"  # decided before the pack's HNW thresholds applied
SOPHISTICATED_CRITERIA = (
    "sophisticated_angel_network_months",
    "sophisticated_unlisted_investments",
    "sophisticated_lookback_years",
    "sophisticated_director_turnover",
)


def _certified(rules: Decider, key: str, request: Request) -> bool:
    return rules.value(key) in request.holder.evidence.certifications


def _wealthy(rules: Decider, request: Request) -> bool:
    evidence = request.holder.evidence
    return rules.meets("hnw_income", evidence.income) or rules.meets("hnw_net_assets", evidence.net_worth)


def individual(request: Request, rules: Decider) -> Decision | None:
    """The self-certified routes of a natural person; None when neither settles the decision."""
    if _certified(rules, "sophisticated_certification", request):
        for key in SOPHISTICATED_CRITERIA:
            rules.rule(key)  # the certification attests one of them
        return rules.allow(reasons.ELIGIBLE)
    if not _certified(rules, "hnw_certification", request):
        return None
    evidence = request.holder.evidence
    if evidence.income is None and evidence.net_worth is None:
        return rules.escalate(HNW_FIGURES_MISSING)
    if not _wealthy(rules, request):
        return None
    if request.context.now < rules.date("hnw_in_force_from"):
        return rules.escalate(HNW_NOT_IN_FORCE)
    return rules.allow(reasons.ELIGIBLE)


def decide(request: Request, rules: Decider) -> Decision:
    mismatch = currency_mismatch(request, rules)
    if mismatch is not None:
        return mismatch
    person = request.holder.kind == HolderKind.NATURAL_PERSON
    if person:
        decision = individual(request, rules)
        if decision is not None:
            return decision
    if request.holder.evidence.institution and rules.value("investment_professional"):
        return rules.allow(reasons.ELIGIBLE)  # unverified: ESCALATEs until counsel confirms it
    if person and not _certified(rules, "hnw_certification", request) and _wealthy(rules, request):
        return rules.deny(reasons.INVESTOR_CATEGORY, CERTIFICATION_MISSING)
    return rules.deny(reasons.INVESTOR_CATEGORY)
