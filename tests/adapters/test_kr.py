"""Korea adapter (home): offshore distribution (UNVERIFIED), Phase 1 institutional-only scope, the
professional-investor tests at their edges, the 50-person private-placement limit, general-investor caps."""

from __future__ import annotations

from typing import Any

import pytest

from adapters import reasons
from adapters.jurisdictions import kr
from adapters.rulepack import RulePack
from adapters.types import AssetClass, Context, Decision, Holder, HolderKind, OfferingFlag, Security, Verdict
from tests.adapters.factories import context, decider, holder, pack, pack_with, request, security

ALLOW, DENY, ESCALATE = Verdict.ALLOW, Verdict.DENY, Verdict.ESCALATE
PRO: dict[str, Any] = {"investment_balance": 50_000_000, "investment_holding_years": 1, "income": 100_000_000}
OTC_VERIFIED: dict[str, Any] = {"general_investor_otc_annual_limit": {"verified": True}}
CAPS_VERIFIED: dict[str, Any] = {
    **OTC_VERIFIED,
    "general_investor_issuer_cap": {"verified": True},
    "general_investor_annual_cap": {"verified": True},
}


def resident(kind: HolderKind = HolderKind.NATURAL_PERSON, **evidence: Any) -> Holder:
    return holder("KR", "KRW", kind, **evidence)


def decide(
    hold: Holder, sec: Security | None = None, ctx: Context | None = None, rule_pack: RulePack | None = None
) -> Decision:
    return kr.decide(request(sec or security(), hold, ctx), decider("KR", rule_pack))


def spend(purchases: int | None, value: int | None, currency: str = "KRW") -> Context:
    return context(purchases_12m=purchases, value=value, value_currency=None if value is None else currency)


# --- home side: a holder resident abroad ---


def test_worked_decision_1_home_side_escalates_until_the_pack_verifies_offshore_distribution() -> None:
    """KR real-estate trust token to a US accredited natural person: the home side ESCALATEs."""
    sec = security(AssetClass.REAL_ESTATE_TRUST)
    us_holder = holder("US", "USD", net_worth=2_000_000, us_person=True)
    ctx = context(value=250_000, value_currency="USD")
    shipped = decide(us_holder, sec, ctx)
    assert shipped.verdict == ESCALATE
    assert shipped.reasons == (reasons.UNVERIFIED_RULE, reasons.HOME_OFFSHORE)
    verified = decide(us_holder, sec, ctx, pack_with("KR", offshore_distribution_permitted={"verified": True}))
    assert verified.verdict == ALLOW
    assert "FSC: foreign-investor registration requirement abolished 2023-12-14" in verified.basis


def test_offshore_distribution_verified_as_not_permitted_denies() -> None:
    rule_pack = pack_with("KR", offshore_distribution_permitted={"value": False, "verified": True})
    decision = decide(holder("SG", "SGD", income=10**6), rule_pack=rule_pack)
    assert (decision.verdict, decision.reasons) == (DENY, (reasons.HOME_OFFSHORE,))


def test_non_resident_evidence_currency_is_not_the_home_sides_concern() -> None:
    rule_pack = pack_with("KR", offshore_distribution_permitted={"verified": True})
    assert decide(holder("JP", "JPY"), rule_pack=rule_pack).verdict == ALLOW


@pytest.mark.parametrize(
    ("kind", "institution", "offshore_verified", "expected", "reason"),
    [
        (HolderKind.NATURAL_PERSON, False, True, ESCALATE, kr.HOME_INSTITUTIONAL_ONLY),
        (HolderKind.NATURAL_PERSON, True, True, ESCALATE, kr.HOME_INSTITUTIONAL_ONLY),
        (HolderKind.ENTITY, False, True, ESCALATE, kr.HOME_INSTITUTIONAL_ONLY),
        (HolderKind.ENTITY, True, True, ALLOW, reasons.ELIGIBLE),
        (HolderKind.ENTITY, True, False, ESCALATE, reasons.HOME_OFFSHORE),
    ],
)
def test_institutional_only_security_to_a_non_resident(
    kind: HolderKind, institution: bool, offshore_verified: bool, expected: Verdict, reason: str
) -> None:
    rule_pack = pack_with("KR", offshore_distribution_permitted={"verified": offshore_verified})
    sec = security(AssetClass.DEBT, OfferingFlag.INSTITUTIONAL_ONLY)
    decision = decide(holder("DE", "EUR", kind, institution=institution), sec, rule_pack=rule_pack)
    assert decision.verdict == expected
    assert reason in decision.reasons


# --- domestic: professional investors ---


@pytest.mark.parametrize(
    ("evidence", "expected"),
    [
        # KRW 50m+ of financial-investment products ...
        ({**PRO, "investment_balance": 49_999_999}, False),
        ({**PRO, "investment_balance": 50_000_000}, True),
        ({**PRO, "investment_balance": 50_000_001}, True),
        ({**PRO, "investment_balance": None}, False),
        # ... held 1 year+ within the last 5 years
        ({**PRO, "investment_holding_years": 0}, False),
        ({**PRO, "investment_holding_years": 1}, True),
        ({**PRO, "investment_holding_years": 2}, True),
        ({**PRO, "investment_holding_years": None}, False),
        # AND income >= KRW 100m ...
        ({**PRO, "income": 99_999_999}, False),
        ({**PRO, "income": 100_000_000}, True),
        ({**PRO, "income": 100_000_001}, True),
        # ... or >= KRW 150m with spouse ...
        ({**PRO, "income": None, "joint_income": 149_999_999}, False),
        ({**PRO, "income": None, "joint_income": 150_000_000}, True),
        ({**PRO, "income": None, "joint_income": 150_000_001}, True),
        # ... or net assets >= KRW 500m excluding the home
        ({**PRO, "income": None, "net_worth": 499_999_999}, False),
        ({**PRO, "income": None, "net_worth": 500_000_000}, True),
        ({**PRO, "income": None, "net_worth": 500_000_001}, True),
        # wealth without the balance test is not enough
        ({"income": 10**12, "joint_income": 10**12, "net_worth": 10**12}, False),
        # licensed experts: the balance test only
        ({**PRO, "income": None, "licences": frozenset({"kr-licensed-expert"})}, True),
        (
            {**PRO, "income": None, "investment_balance": 49_999_999, "licences": frozenset({"kr-licensed-expert"})},
            False,
        ),
        ({**PRO, "income": None, "investment_holding_years": 0, "licences": frozenset({"kr-licensed-expert"})}, False),
        ({**PRO, "income": None, "licences": frozenset({"series-7"})}, False),
    ],
)
def test_professional_investor_edges(evidence: dict[str, Any], expected: bool) -> None:
    assert kr.professional(request(security(), resident(**evidence)), decider("KR")) is expected


def test_entities_are_not_individual_professional_investors() -> None:
    assert kr.professional(request(security(), resident(HolderKind.ENTITY, **PRO)), decider("KR")) is False


def test_professional_resident_is_allowed_with_basis() -> None:
    decision = decide(resident(**PRO))
    assert (decision.verdict, decision.reasons) == (ALLOW, (reasons.ELIGIBLE,))
    assert "Capital Markets Act Enforcement Decree (2019-08-13): professional investor, income" in decision.basis
    assert "Electronic Securities Act (distributed-ledger securities)" in decision.basis
    assert decision.rule_pack_id == "KR@2026.11"
    assert decision.rule_pack_hash == pack("KR").content_hash
    assert any("fsc.go.kr" in source for source in decision.sources)


def test_resident_institution_is_allowed() -> None:
    assert decide(resident(HolderKind.ENTITY, institution=True)).verdict == ALLOW


# --- domestic: institutional-only securities, private placement ---


@pytest.mark.parametrize(
    ("hold", "expected"),
    [
        (resident(**PRO), DENY),
        (resident(HolderKind.ENTITY), DENY),
        (resident(HolderKind.NATURAL_PERSON, institution=True), DENY),
        (resident(HolderKind.ENTITY, institution=True), ALLOW),
    ],
)
def test_institutional_only_security_to_residents(hold: Holder, expected: Verdict) -> None:
    decision = decide(hold, security(AssetClass.FUND_UNIT, OfferingFlag.INSTITUTIONAL_ONLY))
    assert decision.verdict == expected
    if expected == DENY:
        assert decision.reasons == (reasons.INVESTOR_CATEGORY,)


@pytest.mark.parametrize(
    ("holders", "public_offer", "expected"),
    [
        (48, False, ALLOW),  # the new holder is the 49th person
        (49, False, DENY),  # the 50th: a public offering
        (50, False, DENY),
        (49, True, ALLOW),
        (10_000, True, ALLOW),
    ],
)
def test_private_placement_stays_below_50_persons(holders: int, public_offer: bool, expected: Verdict) -> None:
    sec = security(AssetClass.EQUITY, *([OfferingFlag.PUBLIC_OFFER] if public_offer else []))
    decision = decide(resident(**PRO), sec, context(holders_in_jurisdiction=holders))
    assert decision.verdict == expected
    if expected == DENY:
        assert decision.reasons == (reasons.HOLDER_CAP,)
    if public_offer:
        assert "Capital Markets Act: registration statement for public offerings above KRW 1 billion" in decision.basis


# --- domestic: general investors ---


@pytest.mark.parametrize(
    ("purchases", "value", "expected"),
    [
        (50_000_000, 49_999_999, ALLOW),
        (50_000_000, 50_000_000, ALLOW),  # exactly KRW 100m per year per venue
        (50_000_000, 50_000_001, DENY),
        (0, 100_000_001, DENY),
    ],
)
def test_general_investor_otc_limit_edges(purchases: int, value: int, expected: Verdict) -> None:
    decision = decide(resident(income=10**6), ctx=spend(purchases, value), rule_pack=pack_with("KR", **OTC_VERIFIED))
    assert decision.verdict == expected
    if expected == DENY:
        assert decision.reasons == (reasons.AMOUNT_CAP,)


def test_general_investor_with_the_shipped_pack_escalates_below_the_limit_and_denies_above() -> None:
    """The OTC limit comes from a secondary source: a general investor's ALLOW ESCALATEs."""
    below = decide(resident(income=10**6), ctx=spend(50_000_000, 50_000_000))
    assert (below.verdict, below.reasons[0]) == (ESCALATE, reasons.UNVERIFIED_RULE)
    assert below.conditions.notes == ("unverified rule: general_investor_otc_annual_limit",)
    above = decide(resident(income=10**6), ctx=spend(50_000_000, 50_000_001))
    assert (above.verdict, above.reasons) == (DENY, (reasons.AMOUNT_CAP,))


@pytest.mark.parametrize(
    "ctx",
    [spend(None, 1_000_000), spend(0, None), spend(0, 1_000, "USD")],
)
def test_general_investor_with_unknown_purchases_escalates(ctx: Context) -> None:
    decision = decide(resident(HolderKind.ENTITY), ctx=ctx, rule_pack=pack_with("KR", **OTC_VERIFIED))
    assert (decision.verdict, decision.reasons) == (ESCALATE, (kr.PURCHASES_UNKNOWN,))


@pytest.mark.parametrize("asset_class", [AssetClass.INVESTMENT_CONTRACT, AssetClass.REAL_ESTATE_TRUST])
def test_capped_classes_escalate_while_the_caps_are_unverified(asset_class: AssetClass) -> None:
    rule_pack = pack_with("KR", **OTC_VERIFIED)
    within = decide(resident(), security(asset_class), spend(0, 1_000_000), rule_pack)
    assert (within.verdict, within.reasons[0]) == (ESCALATE, reasons.UNVERIFIED_RULE)
    over = decide(resident(), security(asset_class), spend(0, 3_000_000), rule_pack)
    assert (over.verdict, over.reasons) == (ESCALATE, (reasons.UNVERIFIED_RULE, reasons.AMOUNT_CAP))
    other = decide(resident(), security(AssetClass.EQUITY), spend(0, 3_000_000), rule_pack)
    assert other.verdict == ALLOW


@pytest.mark.parametrize(
    ("overrides", "total", "expected"),
    [
        ({}, 1_999_999, ALLOW),
        ({}, 2_000_000, ALLOW),
        ({}, 2_000_001, DENY),  # per-issuer cap (placeholder value)
        ({"general_investor_issuer_cap": {"verified": True, "value": 10_000_000}}, 4_999_999, ALLOW),
        ({"general_investor_issuer_cap": {"verified": True, "value": 10_000_000}}, 5_000_000, ALLOW),
        ({"general_investor_issuer_cap": {"verified": True, "value": 10_000_000}}, 5_000_001, DENY),  # per year
    ],
)
def test_capped_classes_once_counsel_verifies_the_caps(
    overrides: dict[str, Any], total: int, expected: Verdict
) -> None:
    rule_pack = pack_with("KR", **{**CAPS_VERIFIED, **overrides})
    decision = decide(resident(), security(AssetClass.INVESTMENT_CONTRACT), spend(1, total - 1), rule_pack)
    assert decision.verdict == expected
    if expected == DENY:
        assert decision.reasons == (reasons.AMOUNT_CAP,)


# --- evidence currency, unverified rules, the pack itself ---


def test_resident_evidence_in_another_currency_escalates() -> None:
    decision = decide(holder("KR", "USD", **PRO))
    assert (decision.verdict, decision.reasons) == (ESCALATE, (reasons.EVIDENCE_CURRENCY,))


def test_unverified_rule_escalates_instead_of_allowing() -> None:
    decision = decide(resident(**PRO), rule_pack=pack_with("KR", professional_income={"verified": False}))
    assert decision.verdict == ESCALATE
    assert decision.reasons[0] == reasons.UNVERIFIED_RULE


def test_unverified_facts_of_the_sources_are_unverified_in_the_pack() -> None:
    unverified = {key for key, rule in pack("KR").rules.items() if not rule.verified}
    assert unverified == {
        "offshore_distribution_permitted",
        "phase1_institutional_only",
        "general_investor_otc_annual_limit",
        "general_investor_issuer_cap",
        "general_investor_annual_cap",
    }
