"""Hong Kong adapter: Cap. 571D professional-investor tests at their edges, the authorised-offer flag for
retail (worked decision 4) and the unverified complex-product rule for collective-investment schemes."""

from __future__ import annotations

from typing import Any

import pytest

from adapters import reasons
from adapters.jurisdictions import hk
from adapters.types import AssetClass, Decision, HolderKind, OfferingFlag, Security, Verdict
from tests.adapters.factories import decider, holder, pack, pack_with, request, security

ALLOWED, DENIED, ESCALATED = Verdict.ALLOW, Verdict.DENY, Verdict.ESCALATE
PERSON, ENTITY = HolderKind.NATURAL_PERSON, HolderKind.ENTITY
EQUITY = security(AssetClass.EQUITY)
AUTHORISED = security(AssetClass.EQUITY, OfferingFlag.HK_AUTHORISED_OFFER)
CIS = security(AssetClass.FUND_UNIT, OfferingFlag.COLLECTIVE_INVESTMENT_SCHEME)
AUTHORISED_CIS = security(
    AssetClass.FUND_UNIT, OfferingFlag.COLLECTIVE_INVESTMENT_SCHEME, OfferingFlag.HK_AUTHORISED_OFFER
)


def decide(sec: Security = EQUITY, kind: HolderKind = PERSON, **evidence: Any) -> Decision:
    return hk.decide(request(sec, holder("HK", "HKD", kind, **evidence)), decider("HK"))


@pytest.mark.parametrize(
    ("kind", "evidence", "expected"),
    [
        # individual: portfolio not less than HKD 8m
        (PERSON, {"portfolio": 7_999_999}, DENIED),
        (PERSON, {"portfolio": 8_000_000}, ALLOWED),
        (PERSON, {"portfolio": 8_000_001}, ALLOWED),
        # an individual's total assets do not count (only the portfolio)
        (PERSON, {"total_assets": 10**9}, DENIED),
        # corporation or partnership: portfolio not less than HKD 8m ...
        (ENTITY, {"portfolio": 7_999_999}, DENIED),
        (ENTITY, {"portfolio": 8_000_000}, ALLOWED),
        (ENTITY, {"portfolio": 8_000_001}, ALLOWED),
        # ... or total assets not less than HKD 40m
        (ENTITY, {"total_assets": 39_999_999}, DENIED),
        (ENTITY, {"total_assets": 40_000_000}, ALLOWED),
        (ENTITY, {"total_assets": 40_000_001}, ALLOWED),
        (ENTITY, {"portfolio": 7_999_999, "total_assets": 39_999_999}, DENIED),
    ],
)
def test_professional_investor_edges(kind: HolderKind, evidence: dict[str, Any], expected: Verdict) -> None:
    """Without an authorised offer only professional investors may hold: DENY otherwise."""
    decision = decide(EQUITY, kind, **evidence)
    assert decision.verdict == expected
    if expected == DENIED:
        assert decision.reasons == (reasons.OFFERING,)


@pytest.mark.parametrize(
    ("sec", "expected"),
    [(EQUITY, DENIED), (AUTHORISED, ALLOWED), (CIS, DENIED), (AUTHORISED_CIS, ESCALATED)],
)
def test_retail_needs_the_authorised_offer_flag(sec: Security, expected: Verdict) -> None:
    assert decide(sec, portfolio=100_000).verdict == expected


def test_worked_decision_4_kr_equity_to_hk_retail() -> None:
    """KR equity token -> HK retail: DENY (offering) without the authorised-offer flag, ALLOW with it."""
    denied = decide(EQUITY, portfolio=50_000)
    assert (denied.verdict, denied.reasons) == (DENIED, (reasons.OFFERING,))
    assert "SFO (Cap. 571) Part IV and the prospectus regime (SFC circular 2023-11-02)" in denied.basis
    allowed = decide(AUTHORISED, portfolio=50_000)
    assert (allowed.verdict, allowed.reasons) == (ALLOWED, (reasons.ELIGIBLE,))
    assert allowed.basis[0] == "SFC circular of 2023-11-02 on tokenised securities"


def test_worked_decision_4_professional_investor_is_allowed() -> None:
    decision = decide(EQUITY, portfolio=8_000_000)
    assert (decision.verdict, decision.reasons) == (ALLOWED, (reasons.ELIGIBLE,))
    assert "Securities and Futures (Professional Investor) Rules (Cap. 571D): individual" in decision.basis
    assert decision.rule_pack_id == "HK@2026.11"
    assert decision.rule_pack_hash == pack("HK").content_hash


@pytest.mark.parametrize("kind", [PERSON, ENTITY])
def test_institutions_escalate_until_the_institution_rule_is_verified(kind: HolderKind) -> None:
    """JURISDICTIONS.md gives only the Cap. 571D tests: the institution rule is unverified."""
    decision = decide(EQUITY, kind, institution=True)
    assert (decision.verdict, decision.reasons) == (ESCALATED, (reasons.UNVERIFIED_RULE, reasons.ELIGIBLE))
    verified = decider("HK", pack_with("HK", pi_institution={"verified": True}))
    assert hk.decide(request(EQUITY, holder("HK", "HKD", kind, institution=True)), verified).verdict == ALLOWED
    # an institution meeting a Cap. 571D test is allowed on verified rules
    assert decide(EQUITY, kind, institution=True, portfolio=8_000_000).verdict == ALLOWED


def test_professional_investor_may_hold_a_cis_token() -> None:
    """The complex-product question is a retail one."""
    assert decide(CIS, ENTITY, total_assets=40_000_000).verdict == ALLOWED


def test_retail_cis_escalates_on_the_unverified_complex_product_rule() -> None:
    decision = decide(AUTHORISED_CIS, portfolio=10_000)
    assert decision.verdict == ESCALATED
    assert decision.reasons == (reasons.UNVERIFIED_RULE, hk.COMPLEX_PRODUCT)
    assert "unverified rule: cis_complex_product" in decision.conditions.notes
    unverified = [key for key, rule in pack("HK").rules.items() if not rule.verified]
    assert unverified == ["pi_institution", "cis_complex_product"]


def test_retail_cis_once_verified_is_conditional_on_complex_product_requirements() -> None:
    rules = decider("HK", pack_with("HK", cis_complex_product={"verified": True}))
    decision = hk.decide(request(AUTHORISED_CIS, holder("HK", "HKD", portfolio=10_000)), rules)
    assert (decision.verdict, decision.reasons) == (Verdict.ALLOW_CONDITIONAL, (hk.COMPLEX_PRODUCT,))
    assert decision.conditions.notes == (hk.COMPLEX_PRODUCT_NOTE,)


def test_evidence_in_another_currency_escalates() -> None:
    decision = hk.decide(request(AUTHORISED, holder("HK", "USD", portfolio=10**9)), decider("HK"))
    assert (decision.verdict, decision.reasons) == (ESCALATED, (reasons.EVIDENCE_CURRENCY,))


@pytest.mark.parametrize(
    ("rule", "sec", "kind", "evidence"),
    [
        ("pi_individual_portfolio", EQUITY, PERSON, {"portfolio": 9_000_000}),
        ("pi_corporate_total_assets", EQUITY, ENTITY, {"total_assets": 50_000_000}),
        ("retail_offer_regime", AUTHORISED, PERSON, {"portfolio": 10_000}),
    ],
)
def test_unverified_rule_escalates_instead_of_allowing(
    rule: str, sec: Security, kind: HolderKind, evidence: dict[str, Any]
) -> None:
    rules = decider("HK", pack_with("HK", **{rule: {"verified": False}}))
    decision = hk.decide(request(sec, holder("HK", "HKD", kind, **evidence)), rules)
    assert decision.verdict == ESCALATED
    assert decision.reasons[0] == reasons.UNVERIFIED_RULE
