"""Switzerland: ledger-based securities under the DLT Act (Code of Obligations Art. 973d). FinSA professional
clients (large companies, opted-out wealthy clients; institutions on an unverified rule) need no prospectus
(FinSA Art. 36(1)); retail clients only under the fewer-than-500-investors or CHF 100,000-per-investor
exemption. Opting-out with CHF 500,000 "plus knowledge" rests on an unverified proxy, so it ESCALATEs."""

from __future__ import annotations

from adapters import reasons
from adapters.decider import Decider
from adapters.jurisdictions import common
from adapters.jurisdictions.common import currency_mismatch
from adapters.types import Conditions, Decision, HolderKind, Request

JURISDICTION = "CH"
KNOWLEDGE_NOT_EVIDENCED = "knowledge-not-evidenced"


def large_company(request: Request, rules: Decider) -> bool:
    """A company exceeding 2 of the 3 size criteria (balance sheet, turnover, equity)."""
    if request.holder.kind != HolderKind.ENTITY:
        return False
    evidence = request.holder.evidence
    sizes = (
        ("large_company_balance_sheet", evidence.balance_sheet),
        ("large_company_turnover", evidence.net_turnover),
        ("large_company_equity", evidence.own_funds),
    )
    return sum(rules.meets(key, amount) for key, amount in sizes) >= rules.amount("large_company_criteria_required")


def opted_out(request: Request, rules: Decider) -> bool:
    """Whether the client declared it wishes to be treated as professional (opting-out)."""
    required = bool(rules.value("opt_out_declaration_required"))
    return request.holder.evidence.opted_in or not required


def professional(request: Request, rules: Decider) -> bool:
    """Professional on verified rules: a large company, or a client opted out with CHF 2m of assets."""
    if large_company(request, rules):
        return True
    return opted_out(request, rules) and rules.meets("opt_out_assets", request.holder.evidence.financial_assets)


def retail_exemptions(request: Request, rules: Decider) -> list[str]:
    """The citations of the Art. 36(1) exemptions that clearly cover a retail investor."""
    return common.retail_exemptions(request, rules, "exempt_fewer_investors", "exempt_minimum_investment")


def decide(request: Request, rules: Decider) -> Decision:
    rules.rule("ledger_based_securities")
    mismatch = currency_mismatch(request, rules)
    if mismatch is not None:
        return mismatch
    if professional(request, rules):
        rules.rule("exempt_professional_clients")
        return rules.allow(reasons.ELIGIBLE)
    if request.holder.evidence.institution:  # ESCALATEs while the institution rule is unverified
        rules.rule("professional_institution")
        rules.rule("exempt_professional_clients")
        return rules.allow(reasons.ELIGIBLE)
    rules.rule("prospectus_required")
    exemptions = retail_exemptions(request, rules)
    if exemptions:
        rules.rule("dlt_trading_facility_retail")
        notes = tuple(f"prospectus exemption: {citation}; the offer must stay within it" for citation in exemptions)
        return rules.conditional(Conditions(notes=notes), reasons.ELIGIBLE)
    evidence = request.holder.evidence
    if opted_out(request, rules) and rules.meets("opt_out_assets_with_knowledge", evidence.financial_assets):
        # The law asks for "knowledge"; one year of experience is an unverified proxy for it.
        if rules.meets("opt_out_knowledge_experience_years", evidence.experience_years):
            rules.rule("exempt_professional_clients")
            return rules.allow(reasons.ELIGIBLE)
        return rules.escalate(KNOWLEDGE_NOT_EVIDENCED)
    return rules.deny(reasons.OFFERING)
