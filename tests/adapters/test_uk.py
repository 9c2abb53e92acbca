"""United Kingdom adapter: the high-net-worth figures at their edges with and without the self-certification,
the self-certified sophisticated investor, the unverified investment-professional rule, retail denial."""

from __future__ import annotations

import calendar
from datetime import date
from typing import Any

import pytest

from adapters import reasons
from adapters.decider import Decider
from adapters.jurisdictions import uk
from adapters.types import AssetClass, Decision, HolderKind, Verdict
from tests.adapters.factories import context, decider, holder, pack_with, request, security

ALLOWED, DENIED, ESCALATED = Verdict.ALLOW, Verdict.DENY, Verdict.ESCALATE
HNW = frozenset({"uk-hnw"})
SOPHISTICATED = frozenset({"uk-sophisticated"})
REINSTATED = calendar.timegm(date(2024, 3, 27).timetuple())


def run(
    kind: HolderKind = HolderKind.NATURAL_PERSON,
    currency: str = "GBP",
    rules: Decider | None = None,
    now: int | None = None,
    **evidence: Any,
) -> Decision:
    ctx = context() if now is None else context(now=now)
    sec = security(AssetClass.EQUITY)
    return uk.decide(request(sec, holder("GB", currency, kind, **evidence), ctx), rules or decider("UK"))


@pytest.mark.parametrize(
    ("evidence", "expected"),
    [
        # income >= GBP 100k, certified
        ({"income": 99_999}, DENIED),
        ({"income": 100_000}, ALLOWED),
        ({"income": 100_001}, ALLOWED),
        # net assets >= GBP 250k, certified
        ({"net_worth": 249_999}, DENIED),
        ({"net_worth": 250_000}, ALLOWED),
        ({"net_worth": 250_001}, ALLOWED),
        # either figure suffices
        ({"income": 99_999, "net_worth": 250_000}, ALLOWED),
        ({"income": 100_000, "net_worth": 249_999}, ALLOWED),
        ({"income": 99_999, "net_worth": 249_999}, DENIED),
    ],
)
def test_high_net_worth_edges_with_certification(evidence: dict[str, Any], expected: Verdict) -> None:
    decision = run(certifications=HNW, **evidence)
    assert decision.verdict == expected
    if expected == DENIED:
        assert decision.reasons == (reasons.INVESTOR_CATEGORY,)


@pytest.mark.parametrize(
    "evidence", [{"income": 99_999}, {"income": 100_000}, {"income": 100_001}, {"net_worth": 250_000}]
)
def test_high_net_worth_figures_without_certification_are_denied(evidence: dict[str, Any]) -> None:
    decision = run(**evidence)
    assert decision.verdict == DENIED
    assert decision.reasons[0] == reasons.INVESTOR_CATEGORY
    assert (uk.CERTIFICATION_MISSING in decision.reasons) == (evidence != {"income": 99_999})


def test_certification_without_figures_escalates() -> None:
    decision = run(certifications=HNW)
    assert (decision.verdict, decision.reasons) == (ESCALATED, (uk.HNW_FIGURES_MISSING,))


@pytest.mark.parametrize(("now", "expected"), [(REINSTATED - 1, ESCALATED), (REINSTATED, ALLOWED)])
def test_high_net_worth_thresholds_apply_from_their_reinstatement(now: int, expected: Verdict) -> None:
    decision = run(now=now, certifications=HNW, income=100_000)
    assert decision.verdict == expected
    if expected == ESCALATED:
        assert decision.reasons == (uk.HNW_NOT_IN_FORCE,)


def test_self_certified_sophisticated_investor_is_allowed_on_the_certification() -> None:
    decision = run(certifications=SOPHISTICATED)
    assert (decision.verdict, decision.reasons) == (ALLOWED, (reasons.ELIGIBLE,))
    assert any("business-angel network for 6 months" in b for b in decision.basis)
    assert any("director of a company with turnover of GBP 1m" in b for b in decision.basis)


@pytest.mark.parametrize(
    ("kind", "evidence", "expected"),
    [
        (HolderKind.NATURAL_PERSON, {"income": 10**9}, DENIED),  # retail: not certified
        (HolderKind.NATURAL_PERSON, {"certifications": frozenset({"sg-accredited"})}, DENIED),
        (HolderKind.ENTITY, {"certifications": HNW, "net_worth": 10**9}, DENIED),  # HNW is for individuals
        (HolderKind.ENTITY, {"certifications": SOPHISTICATED}, DENIED),
        (HolderKind.ENTITY, {"institution": True}, ESCALATED),  # investment professional: unverified
    ],
)
def test_category_logic(kind: HolderKind, evidence: dict[str, Any], expected: Verdict) -> None:
    assert run(kind, **evidence).verdict == expected


def test_investment_professional_rests_on_an_unverified_rule() -> None:
    decision = run(HolderKind.ENTITY, institution=True)
    assert decision.reasons[0] == reasons.UNVERIFIED_RULE
    assert "unverified rule: investment_professional" in decision.conditions.notes
    verified = decider("UK", pack_with("UK", investment_professional={"verified": True}))
    assert run(HolderKind.ENTITY, institution=True, rules=verified).verdict == ALLOWED


def test_certified_individual_needs_no_investment_professional_rule() -> None:
    decision = run(institution=True, certifications=HNW, income=100_000)
    assert decision.verdict == ALLOWED
    assert "unverified rule: investment_professional" not in decision.conditions.notes


def test_retail_is_denied_and_basis_is_recorded() -> None:
    decision = run(income=20_000)
    assert (decision.verdict, decision.reasons) == (DENIED, (reasons.INVESTOR_CATEGORY,))
    assert "Financial Promotion Order: high-net-worth individual, income >= GBP 100,000 (SI 2024/301)" in decision.basis
    assert decision.rule_pack_id == "UK@2026.11"
    assert decision.jurisdiction == "UK"


def test_sandbox_is_not_relied_on() -> None:
    decision = run(certifications=HNW, income=100_000)
    assert not any("Digital Securities Sandbox" in b for b in decision.basis)


@pytest.mark.parametrize("currency", ["USD", "EUR", "JPY"])
def test_evidence_in_another_currency_escalates(currency: str) -> None:
    decision = run(currency=currency, certifications=HNW, income=10**9)
    assert (decision.verdict, decision.reasons) == (ESCALATED, (reasons.EVIDENCE_CURRENCY,))


@pytest.mark.parametrize("rule", ["hnw_income", "hnw_certification", "hnw_in_force_from"])
def test_unverified_rule_escalates_instead_of_allowing(rule: str) -> None:
    rules = decider("UK", pack_with("UK", **{rule: {"verified": False}}))
    decision = run(rules=rules, certifications=HNW, income=100_000)
    assert decision.verdict == ESCALATED
    assert decision.reasons[0] == reasons.UNVERIFIED_RULE


def test_shipped_pack_marks_the_unverified_facts_and_claims_gb() -> None:
    rule_pack = decider("UK").pack
    assert rule_pack.countries == frozenset({"GB"})
    assert {key for key, rule in rule_pack.rules.items() if not rule.verified} == {
        "investment_professional",
        "dss_volume_limits",
    }
