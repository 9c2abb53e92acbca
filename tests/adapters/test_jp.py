"""Japan adapter: specified-investor tests at their edges, the three private placements, the small-number
cap of fewer than 50 offerees, ERTR vs tokenized shares/bonds, and the unverified individual-QII and
JSDA-ERTR rules (ESCALATE, never ALLOW)."""

from __future__ import annotations

from typing import Any

import pytest

from adapters import reasons
from adapters.decider import Decider
from adapters.jurisdictions import jp
from adapters.types import AssetClass, Decision, HolderKind, Verdict
from tests.adapters.factories import context, decider, holder, pack_with, request, security

ALLOWED, DENIED, ESCALATED = Verdict.ALLOW_CONDITIONAL, Verdict.DENY, Verdict.ESCALATE
M = 1_000_000
FULL = 49  # holders already in Japan: the small-number placement is closed to a new non-professional


def run(
    asset: AssetClass = AssetClass.EQUITY,
    kind: HolderKind = HolderKind.NATURAL_PERSON,
    holders: int = 0,
    currency: str = "JPY",
    rules: Decider | None = None,
    **evidence: Any,
) -> Decision:
    hold = holder("JP", currency, kind, **evidence)
    return jp.decide(request(security(asset), hold, context(holders_in_jurisdiction=holders)), rules or decider("JP"))


def specified(**evidence: Any) -> Verdict:
    """An opted-in individual with 1 year of experience unless overridden, small-number placement full."""
    return run(holders=FULL, **{"opted_in": True, "experience_years": 1, **evidence}).verdict


@pytest.mark.parametrize(
    ("evidence", "expected"),
    [
        # net assets >= JPY 300m AND financial assets >= JPY 300m AND 1 year+
        ({"net_worth": 300 * M - 1, "financial_assets": 300 * M}, DENIED),
        ({"net_worth": 300 * M, "financial_assets": 300 * M}, ALLOWED),
        ({"net_worth": 300 * M + 1, "financial_assets": 300 * M}, ALLOWED),
        ({"net_worth": 300 * M, "financial_assets": 300 * M - 1}, DENIED),
        ({"net_worth": 300 * M, "financial_assets": 300 * M + 1}, ALLOWED),
        ({"net_worth": 300 * M}, DENIED),
        # 1 year+ experience (both tests)
        ({"net_worth": 300 * M, "financial_assets": 300 * M, "experience_years": 0}, DENIED),
        ({"net_worth": 300 * M, "financial_assets": 300 * M, "experience_years": 2}, ALLOWED),
        ({"income": 100 * M, "experience_years": 0}, DENIED),
        ({"income": 100 * M, "experience_years": None}, DENIED),
        # net assets >= JPY 500m alone (plus experience)
        ({"net_worth": 500 * M - 1}, DENIED),
        ({"net_worth": 500 * M}, ALLOWED),
        ({"net_worth": 500 * M + 1}, ALLOWED),
        # financial assets >= JPY 500m alone
        ({"financial_assets": 500 * M - 1}, DENIED),
        ({"financial_assets": 500 * M}, ALLOWED),
        ({"financial_assets": 500 * M + 1}, ALLOWED),
        # income >= JPY 100m
        ({"income": 100 * M - 1}, DENIED),
        ({"income": 100 * M}, ALLOWED),
        ({"income": 100 * M + 1}, ALLOWED),
        # the status is an individual opt-in
        ({"income": 10**12, "opted_in": False}, DENIED),
        ({"kind": HolderKind.ENTITY, "income": 10**12}, ESCALATED),  # opted-in entity: not in the facts
    ],
)
def test_specified_investor_edges(evidence: dict[str, Any], expected: Verdict) -> None:
    assert specified(**evidence) == expected


@pytest.mark.parametrize(
    ("holders", "expected"),
    [(48, ALLOWED), (49, DENIED), (50, DENIED)],  # with the new holder: 49, 50, 51 offerees
)
def test_small_number_placement_edges(holders: int, expected: Verdict) -> None:
    """Fewer than 50 offerees: the holders already in Japan plus the new one."""
    decision = run(holders=holders, income=1 * M)
    assert decision.verdict == expected
    if expected == DENIED:
        assert decision.reasons == (reasons.INVESTOR_CATEGORY, reasons.HOLDER_CAP)
    else:
        assert decision.conditions.permitted_transferees == ()
        assert any("below 50 aggregated over 6 months" in note for note in decision.conditions.notes)


def test_entity_institution_is_a_qii_even_beyond_the_small_number_cap() -> None:
    decision = run(kind=HolderKind.ENTITY, holders=10_000, institution=True)
    assert decision.verdict == ALLOWED
    assert decision.conditions.permitted_transferees == jp.QII_TRANSFEREES
    assert "FIEA private placement: solicitation of qualified institutional investors only" in decision.basis


def test_specified_investor_may_transfer_to_professionals_only() -> None:
    decision = run(holders=FULL, opted_in=True, experience_years=1, income=100 * M)
    assert decision.conditions.permitted_transferees == jp.PROFESSIONAL_TRANSFEREES
    assert any("Type I Financial Instruments Business" in note for note in decision.conditions.notes)


def test_individual_qii_rests_on_an_unverified_rule() -> None:
    decision = run(holders=FULL, institution=True)
    assert (decision.verdict, decision.reasons[0]) == (ESCALATED, reasons.UNVERIFIED_RULE)
    assert "unverified rule: qii_individual_accepted" in decision.conditions.notes
    verified = decider("JP", pack_with("JP", qii_individual_accepted={"verified": True}))
    assert run(holders=FULL, institution=True, rules=verified).verdict == ALLOWED
    rejected = decider("JP", pack_with("JP", qii_individual_accepted={"value": False}))
    assert run(holders=FULL, institution=True, rules=rejected).verdict == DENIED


def test_an_individual_who_is_also_a_specified_investor_needs_no_qii_rule() -> None:
    assert run(holders=FULL, institution=True, opted_in=True, experience_years=1, income=100 * M).verdict == ALLOWED


ERTRS = (AssetClass.REAL_ESTATE_TRUST, AssetClass.FUND_UNIT, AssetClass.INVESTMENT_CONTRACT)
SPECIFIED: dict[str, Any] = {"opted_in": True, "experience_years": 1, "income": 100 * M}


@pytest.mark.parametrize("asset", ERTRS)
@pytest.mark.parametrize(
    ("kind", "evidence", "expected"),
    [
        (HolderKind.ENTITY, {"institution": True}, ALLOWED),
        (HolderKind.NATURAL_PERSON, SPECIFIED, ESCALATED),
        (HolderKind.NATURAL_PERSON, {"income": 1 * M}, ESCALATED),
    ],
)
def test_ertr_to_a_non_institutional_holder_escalates(
    asset: AssetClass, kind: HolderKind, evidence: dict[str, Any], expected: Verdict
) -> None:
    decision = run(asset, kind, **evidence)
    assert decision.verdict == expected
    if expected == ESCALATED:
        assert decision.reasons[0] == reasons.UNVERIFIED_RULE
        assert "unverified rule: ertr_non_institutional_permitted" in decision.conditions.notes


def test_ertr_beyond_the_small_number_cap_is_denied() -> None:
    assert run(AssetClass.FUND_UNIT, holders=FULL, income=1 * M).verdict == DENIED


def test_ertr_institutional_only_when_counsel_says_so() -> None:
    rules = decider("JP", pack_with("JP", ertr_non_institutional_permitted={"value": False}))
    decision = run(AssetClass.REAL_ESTATE_TRUST, rules=rules, **SPECIFIED)
    assert (decision.verdict, decision.reasons) == (DENIED, (jp.ERTR_INSTITUTIONAL_ONLY,))


def test_tokenized_bond_to_specified_investor_is_not_an_ertr() -> None:
    decision = run(AssetClass.DEBT, **SPECIFIED)
    assert decision.verdict == ALLOWED
    assert (
        "JSDA self-regulatory rules on electronically recorded transferable rights (UNVERIFIED)" not in decision.basis
    )


def test_unclassified_asset_class_escalates() -> None:
    decision = run(AssetClass.STRUCTURED_PRODUCT, kind=HolderKind.ENTITY, institution=True)
    assert (decision.verdict, decision.reasons) == (ESCALATED, (reasons.ASSET_CLASS,))


def test_retail_beyond_the_cap_is_denied_and_basis_is_recorded() -> None:
    decision = run(holders=FULL)
    assert (decision.verdict, decision.reasons) == (DENIED, (reasons.INVESTOR_CATEGORY, reasons.HOLDER_CAP))
    assert "FIEA small-number private placement: fewer than 50 offerees" in decision.basis
    assert decision.rule_pack_id == "JP@2026.11"
    assert decision.rule_pack_hash.startswith("0x")
    assert decision.sources


def test_evidence_in_another_currency_escalates() -> None:
    decision = run(currency="USD", kind=HolderKind.ENTITY, institution=True)
    assert (decision.verdict, decision.reasons) == (ESCALATED, (reasons.EVIDENCE_CURRENCY,))


@pytest.mark.parametrize(
    "rule", ["specified_investor_income", "private_placement_professional_only", "type_i_registration"]
)
def test_unverified_rule_escalates_instead_of_allowing(rule: str) -> None:
    rules = decider("JP", pack_with("JP", **{rule: {"verified": False}}))
    decision = run(rules=rules, **SPECIFIED)
    assert decision.verdict == ESCALATED
    assert decision.reasons[0] == reasons.UNVERIFIED_RULE


def test_shipped_pack_marks_the_unverified_facts() -> None:
    rules = decider("JP").pack.rules
    assert {key for key, rule in rules.items() if not rule.verified} == {
        "qii_individual_accepted",
        "ertr_non_institutional_permitted",
    }
