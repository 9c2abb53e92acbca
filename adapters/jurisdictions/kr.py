"""Korea, the home jurisdiction and register of record: asked about every transfer.

For a holder resident abroad it decides whether Korean tokens may be distributed offshore (UNVERIFIED:
ESCALATE unless the rule pack marks it verified). For a resident it applies the Phase 1
institutional-only scope, the 50-person private-placement limit, the professional-investor tests and
the general-investor purchase limits.
"""

from __future__ import annotations

from adapters import reasons
from adapters.decider import Decider
from adapters.jurisdictions.common import currency_mismatch, value_in
from adapters.types import Decision, HolderKind, OfferingFlag, Request

JURISDICTION = "KR"
HOME_INSTITUTIONAL_ONLY = "home-institutional-only"  # non-resident, institutional-only security, not an institution
PURCHASES_UNKNOWN = "purchases-unknown"  # general investor: the KRW value or the 12-month purchases are unknown


def decide(request: Request, rules: Decider) -> Decision:
    rules.rule("security_tokens_are_securities")
    if request.holder.residency in rules.pack.countries:
        return _domestic(request, rules)
    return _offshore(request, rules)


def institution(request: Request) -> bool:
    """An entity the KYC established as a licensed financial institution or institutional investor."""
    return request.holder.kind == HolderKind.ENTITY and request.holder.evidence.institution


def professional(request: Request, rules: Decider) -> bool:
    """Enforcement Decree (2019-08-13): KRW 50m+ held 1 year+ in the last 5 years AND (income, joint
    income or net assets excluding the home); licensed experts need the balance test only."""
    evidence = request.holder.evidence
    if request.holder.kind != HolderKind.NATURAL_PERSON:
        return False
    rules.rule("professional_lookback_years")
    balance = rules.meets("professional_investment_balance", evidence.investment_balance) and rules.meets(
        "professional_holding_years", evidence.investment_holding_years
    )
    if not balance:
        return False
    if evidence.licences & rules.strings("professional_expert_licences"):
        return True
    return (
        rules.meets("professional_income", evidence.income)
        or rules.meets("professional_joint_income", evidence.joint_income)
        or rules.meets("professional_net_assets", evidence.net_worth)
    )


def _offshore(request: Request, rules: Decider) -> Decision:
    """Home side for a non-resident: the Phase 1 scope, then offshore distribution (UNVERIFIED)."""
    if OfferingFlag.INSTITUTIONAL_ONLY in request.security.flags and not institution(request):
        rules.rule("phase1_institutional_only")
        return rules.escalate(HOME_INSTITUTIONAL_ONLY)
    permitted = rules.rule("offshore_distribution_permitted")
    if not permitted.verified:
        return rules.escalate(reasons.UNVERIFIED_RULE, reasons.HOME_OFFSHORE)
    if permitted.value is not True:
        return rules.deny(reasons.HOME_OFFSHORE)
    rules.rule("foreign_investor_registration_abolished")
    return rules.allow(reasons.ELIGIBLE)


def _domestic(request: Request, rules: Decider) -> Decision:
    mismatch = currency_mismatch(request, rules)
    if mismatch is not None:
        return mismatch
    flags = request.security.flags
    if OfferingFlag.INSTITUTIONAL_ONLY in flags and not institution(request):
        rules.rule("phase1_institutional_only")
        return rules.deny(reasons.INVESTOR_CATEGORY)
    if OfferingFlag.PUBLIC_OFFER in flags:
        rules.rule("registration_statement_threshold")
    elif not rules.meets("private_placement_persons", request.context.holders_in_jurisdiction + 1):
        return rules.deny(reasons.HOLDER_CAP)
    if institution(request) or professional(request, rules):
        return rules.allow(reasons.ELIGIBLE)
    return _general_investor(request, rules)


def _general_investor(request: Request, rules: Decider) -> Decision:
    """OTC limit per venue and year; the per-issuer / per-year caps of capped classes (UNVERIFIED)."""
    rules.rule("general_investor_otc_annual_limit")
    value, purchases = value_in(request, rules.pack.currency), request.context.purchases_12m
    if value is None or purchases is None:
        return rules.escalate(PURCHASES_UNKNOWN)
    total = purchases + value
    if not rules.meets("general_investor_otc_annual_limit", total):
        return rules.deny(reasons.AMOUNT_CAP)
    if request.security.asset_class.value in rules.strings("general_investor_capped_classes"):
        # The context holds no per-issuer purchases: all 12-month purchases count, an upper bound.
        for key in ("general_investor_issuer_cap", "general_investor_annual_cap"):
            if not rules.meets(key, total):
                if rules.rule(key).verified:
                    return rules.deny(reasons.AMOUNT_CAP)
                return rules.escalate(reasons.UNVERIFIED_RULE, reasons.AMOUNT_CAP)
    return rules.allow(reasons.ELIGIBLE)
