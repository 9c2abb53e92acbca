"""United States: accredited investors (Rule 501(a)) under Rule 506(c), verified by minimum investment
(SEC no-action letter 2025-03-12), or QIBs under Rule 144A; Rule 144 holding period meanwhile (resale
only to QIBs or offshore to non-US persons); Exchange Act 12(g) holder count. Never Regulation S: the
holder resides in the US and is a US person."""

from __future__ import annotations

from adapters import reasons
from adapters.decider import Decider
from adapters.jurisdictions.common import DAY, currency_mismatch, value_in
from adapters.types import Conditions, Decision, HolderKind, Request

JURISDICTION = "US"
VERIFICATION_REQUIRED = "verification-required"  # 506(c): below the minimum investment, counsel verifies
RESALE_TRANSFEREES = ("us-qib", "offshore-non-us-person")
VERIFICATION_NOTE = "Rule 506(c) verification by minimum investment: written representations required"


def qib(request: Request, rules: Decider) -> bool:
    """Rule 144A: an entity owning and investing USD 100m+ in securities; never a natural person."""
    if request.holder.kind != HolderKind.ENTITY:
        return False
    return rules.meets("qib_securities_owned", request.holder.evidence.securities_owned)


def accredited(request: Request, rules: Decider) -> bool:
    """Rule 501(a): net worth, income, joint income or licence (natural persons); assets or investments,
    or an institution (entities)."""
    evidence = request.holder.evidence
    if request.holder.kind == HolderKind.ENTITY:
        if evidence.institution:
            rules.rule("accredited_institution")
            return True
        return rules.meets("accredited_entity_assets", evidence.total_assets) or rules.meets(
            "accredited_entity_assets", evidence.securities_owned
        )
    return (
        rules.meets("accredited_net_worth", evidence.net_worth)
        or rules.meets("accredited_income", evidence.income)
        or rules.meets("accredited_joint_income", evidence.joint_income)
        or bool(evidence.licences & rules.strings("accredited_licences"))
    )


def decide(request: Request, rules: Decider) -> Decision:
    rules.rule("custodial_wrapper")
    mismatch = currency_mismatch(request, rules)
    if mismatch is not None:
        return mismatch
    rules.rule("regulation_s_not_basis")
    is_qib = qib(request, rules)
    if not is_qib and not accredited(request, rules):
        rules.rule("rule_506c")
        return rules.deny(reasons.INVESTOR_CATEGORY)
    if not rules.meets("exchange_act_12g_holders", request.context.holders_total + 1):
        rules.rule("exchange_act_12g_assets")
        return rules.escalate(reasons.HOLDER_CAP)
    notes: tuple[str, ...] = ()
    if not is_qib:
        rules.rule("rule_506c")
        entity = request.holder.kind == HolderKind.ENTITY
        minimum = "verification_min_entity" if entity else "verification_min_natural_person"
        if not rules.meets(minimum, value_in(request, rules.pack.currency)):
            return rules.escalate(VERIFICATION_REQUIRED, conditions=_holding_period(request, rules, notes))
        notes = (VERIFICATION_NOTE,)
    return rules.conditional(_holding_period(request, rules, notes), reasons.ELIGIBLE)


def _holding_period(request: Request, rules: Decider, notes: tuple[str, ...]) -> Conditions:
    """Rule 144(d): 6 months (reporting issuer) or 1 year from acquisition; meanwhile resale only to
    QIBs (Rule 144A) or offshore to non-US persons (Rule 904)."""
    key = (
        "rule144_holding_days_reporting"
        if request.security.issuer_sec_reporting
        else "rule144_holding_days_non_reporting"
    )
    rules.rule("resale_to_qib")
    rules.rule("resale_offshore")
    return Conditions(
        lockup_until=request.context.acquisition + rules.amount(key) * DAY,
        permitted_transferees=RESALE_TRANSFEREES,
        notes=notes,
    )
