"""European Union: tokenized securities are MiFID II financial instruments (MiCA Art. 2(4)(a) excludes
them). Professional clients (MiFID II Annex II) are qualified investors: no prospectus (Prospectus Regulation
Art. 1(4)(a)); institutions count as per se professionals on an unverified rule, so they ESCALATE. Retail
only under a clear exemption: fewer than 150 persons per Member State (Art. 1(4)(b)) or at least EUR 100,000
per investor (Art. 1(4)(d)); otherwise a prospectus is needed (DENY)."""

from __future__ import annotations

from adapters import reasons
from adapters.decider import Decider
from adapters.jurisdictions import common
from adapters.jurisdictions.common import currency_mismatch
from adapters.types import Conditions, Decision, HolderKind, Request

JURISDICTION = "EU"


def _two_of_three(rules: Decider, required: str, tests: tuple[tuple[str, int | None], ...]) -> bool:
    """Whether at least ``required`` of the threshold ``tests`` (rule key, holder amount) are met."""
    return sum(rules.meets(key, amount) for key, amount in tests) >= rules.amount(required)


def large_undertaking(request: Request, rules: Decider) -> bool:
    """Annex II per se: an undertaking meeting 2 of the 3 size requirements."""
    if request.holder.kind != HolderKind.ENTITY:
        return False
    evidence = request.holder.evidence
    sizes = (
        ("per_se_balance_sheet", evidence.balance_sheet),
        ("per_se_net_turnover", evidence.net_turnover),
        ("per_se_own_funds", evidence.own_funds),
    )
    return _two_of_three(rules, "per_se_criteria_required", sizes)


def elective_professional(request: Request, rules: Decider) -> bool:
    """Annex II elective: a client who asked to be treated as professional and meets 2 of 3 criteria."""
    evidence = request.holder.evidence
    if rules.value("elective_request_required") and not evidence.opted_in:
        return False
    criteria = (
        ("elective_trades_per_quarter", evidence.trades_per_quarter),
        ("elective_portfolio", evidence.portfolio),
        ("elective_experience_years", evidence.experience_years),
    )
    return _two_of_three(rules, "elective_criteria_required", criteria)


def retail_exemptions(request: Request, rules: Decider) -> list[str]:
    """The citations of the prospectus exemptions that clearly cover a retail investor."""
    return common.retail_exemptions(
        request, rules, "small_offer_persons_per_member_state", "minimum_consideration_per_investor"
    )


def decide(request: Request, rules: Decider) -> Decision:
    rules.rule("mica_excludes_financial_instruments")
    mismatch = currency_mismatch(request, rules)
    if mismatch is not None:
        return mismatch
    if large_undertaking(request, rules) or elective_professional(request, rules):
        rules.rule("qualified_investor_exemption")
        return rules.allow(reasons.ELIGIBLE)
    if request.holder.evidence.institution:  # per se as an institution: ESCALATEs while that rule is unverified
        rules.rule("per_se_institution")
        rules.rule("qualified_investor_exemption")
        return rules.allow(reasons.ELIGIBLE)
    rules.rule("prospectus_required")
    exemptions = retail_exemptions(request, rules)
    if exemptions:
        notes = tuple(f"prospectus exemption: {citation}; the offer must stay within it" for citation in exemptions)
        return rules.conditional(Conditions(notes=notes), reasons.ELIGIBLE)
    return rules.deny(reasons.OFFERING)
