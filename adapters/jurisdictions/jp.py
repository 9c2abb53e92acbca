"""Japan: under the FIEA as amended (in force 2020-05-01) tokenized trust beneficial interests and fund
interests (electronically recorded transferable rights, ERTRs) and tokenized shares/bonds are securities
dealt in through Type I operators. A holder comes in through a private placement: QII-only,
professional-only (opted-in specified investors) or fewer than 50 offerees in six months. Individual QIIs
and ERTRs for non-institutional holders rest on unverified rules, so such allowances ESCALATE."""

from __future__ import annotations

from enum import StrEnum

from adapters import reasons
from adapters.decider import Decider
from adapters.jurisdictions.common import currency_mismatch
from adapters.types import Conditions, Decision, HolderKind, Request

JURISDICTION = "JP"
QII_TRANSFEREES = ("jp-qualified-institutional-investor",)
PROFESSIONAL_TRANSFEREES = ("jp-qualified-institutional-investor", "jp-specified-investor")
ENTITY_OPT_IN = "jp-entity-opt-in"  # an opted-in entity beyond the small-number cap: not in the facts
ERTR_INSTITUTIONAL_ONLY = "jp-ertr-institutional-only"  # counsel set ertr_non_institutional_permitted = false


class Category(StrEnum):
    QII = "qualified-institutional-investor"
    PROFESSIONAL = "specified-investor"
    GENERAL = "general-investor"


def specified_investor(request: Request, rules: Decider) -> bool:
    """An opted-in individual with 1 year+ experience and either net AND financial assets >= JPY 300m,
    or net or financial assets >= JPY 500m, or income >= JPY 100m."""
    evidence = request.holder.evidence
    if request.holder.kind != HolderKind.NATURAL_PERSON:
        return False
    if rules.value("specified_investor_opt_in_required") and not evidence.opted_in:
        return False
    if not rules.meets("specified_investor_experience_years", evidence.experience_years):
        return False
    balanced = rules.meets("specified_investor_net_assets", evidence.net_worth) and rules.meets(
        "specified_investor_financial_assets", evidence.financial_assets
    )
    return (
        balanced
        or rules.meets("specified_investor_large_assets", evidence.net_worth)
        or rules.meets("specified_investor_large_assets", evidence.financial_assets)
        or rules.meets("specified_investor_income", evidence.income)
    )


def category(request: Request, rules: Decider) -> Category:
    """The narrowest placement the holder fits; an individual's institution flag relies on the unverified
    individual-QII rule, so it is tried only when the specified-investor tests fail."""
    holder = request.holder
    if specified_investor(request, rules):
        return Category.PROFESSIONAL
    if holder.evidence.institution and (holder.kind == HolderKind.ENTITY or rules.value("qii_individual_accepted")):
        return Category.QII
    return Category.GENERAL


def decide(request: Request, rules: Decider) -> Decision:
    mismatch = currency_mismatch(request, rules)
    if mismatch is not None:
        return mismatch
    asset = request.security.asset_class.value
    if asset in rules.strings("ertr_asset_classes"):
        rules.rule("ertr_securities")
        ertr = True
    elif asset in rules.strings("tokenized_security_asset_classes"):
        ertr = False
    else:
        return rules.escalate(reasons.ASSET_CLASS)
    dealing = (
        ("dealing in Japan only through a registered Type I Financial Instruments Business operator",)
        if rules.value("type_i_registration")
        else ()
    )
    holder_category = category(request, rules)
    if ertr and holder_category != Category.QII and not rules.value("ertr_non_institutional_permitted"):
        return rules.deny(ERTR_INSTITUTIONAL_ONLY)
    if holder_category == Category.QII:
        rules.rule("private_placement_qii_only")
        return rules.conditional(Conditions(permitted_transferees=QII_TRANSFEREES, notes=dealing), reasons.ELIGIBLE)
    if holder_category == Category.PROFESSIONAL:
        rules.rule("private_placement_professional_only")
        conditions = Conditions(permitted_transferees=PROFESSIONAL_TRANSFEREES, notes=dealing)
        return rules.conditional(conditions, reasons.ELIGIBLE)
    offerees = request.context.holders_in_jurisdiction + 1  # the new holder counts (conservatively, always)
    if not rules.meets("small_number_offerees", offerees):
        if request.holder.kind == HolderKind.ENTITY and request.holder.evidence.opted_in:
            return rules.escalate(ENTITY_OPT_IN)
        return rules.deny(reasons.INVESTOR_CATEGORY, reasons.HOLDER_CAP)
    cap = (
        f"offerees in Japan stay below {rules.amount('small_number_offerees')} aggregated over "
        f"{rules.amount('small_number_aggregation_months')} months (small-number private placement)"
    )
    return rules.conditional(Conditions(notes=(*dealing, cap)), reasons.ELIGIBLE)
