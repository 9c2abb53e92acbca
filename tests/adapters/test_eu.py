"""European Union adapter: MiFID II Annex II professional clients (per se 2 of 3, elective 2 of 3) at their
edges, Prospectus Regulation exemptions (Art. 1(4)(a), (b), (d)) and worked decision 2."""

from __future__ import annotations

from typing import Any

import pytest

from adapters import reasons
from adapters.jurisdictions import eu
from adapters.types import AssetClass, Context, Decision, HolderKind, OfferingFlag, Verdict
from tests.adapters.factories import context, decider, holder, pack, pack_with, request, security

ALLOWED, RETAIL_OK, DENIED = Verdict.ALLOW, Verdict.ALLOW_CONDITIONAL, Verdict.DENY
ENTITY = HolderKind.ENTITY
BOND = security(AssetClass.DEBT, OfferingFlag.INSTITUTIONAL_ONLY)
NO_EXEMPTION = context(holders_in_jurisdiction=1_000)  # no retail exemption: only professional status allows


def decide(kind: HolderKind = HolderKind.NATURAL_PERSON, ctx: Context = NO_EXEMPTION, **evidence: Any) -> Decision:
    return eu.decide(request(BOND, holder("DE", "EUR", kind, **evidence), ctx), decider("EU"))


@pytest.mark.parametrize(
    ("evidence", "expected"),
    [
        # balance sheet EUR 20m + net turnover EUR 40m ("meeting" the size requirements: >=)
        ({"balance_sheet": 19_999_999, "net_turnover": 40_000_000}, DENIED),
        ({"balance_sheet": 20_000_000, "net_turnover": 40_000_000}, ALLOWED),
        ({"balance_sheet": 20_000_001, "net_turnover": 40_000_001}, ALLOWED),
        ({"balance_sheet": 20_000_000, "net_turnover": 39_999_999}, DENIED),
        # balance sheet EUR 20m + own funds EUR 2m
        ({"balance_sheet": 20_000_000, "own_funds": 1_999_999}, DENIED),
        ({"balance_sheet": 20_000_000, "own_funds": 2_000_000}, ALLOWED),
        ({"balance_sheet": 20_000_000, "own_funds": 2_000_001}, ALLOWED),
        # net turnover EUR 40m + own funds EUR 2m
        ({"net_turnover": 39_999_999, "own_funds": 2_000_000}, DENIED),
        ({"net_turnover": 40_000_000, "own_funds": 2_000_000}, ALLOWED),
        ({"net_turnover": 40_000_001, "own_funds": 2_000_001}, ALLOWED),
        # one of three is not enough, however large; all three is
        ({"balance_sheet": 10**12}, DENIED),
        ({"net_turnover": 10**12, "balance_sheet": 19_999_999, "own_funds": 1_999_999}, DENIED),
        ({"balance_sheet": 20_000_000, "net_turnover": 40_000_000, "own_funds": 2_000_000}, ALLOWED),
    ],
)
def test_per_se_large_undertaking_edges(evidence: dict[str, Any], expected: Verdict) -> None:
    assert decide(ENTITY, **evidence).verdict == expected


def test_size_tests_are_for_undertakings_only() -> None:
    """A natural person with large figures is not a per se professional (and has no exemption here)."""
    sizes: dict[str, Any] = {"balance_sheet": 10**9, "net_turnover": 10**9, "own_funds": 10**9}
    assert decide(HolderKind.NATURAL_PERSON, **sizes).verdict == DENIED


@pytest.mark.parametrize("kind", [HolderKind.NATURAL_PERSON, ENTITY])
def test_institutions_escalate_until_the_institution_rule_is_verified(kind: HolderKind) -> None:
    """JURISDICTIONS.md itemises only large undertakings as per se: the institution rule is unverified."""
    decision = decide(kind, institution=True)
    assert (decision.verdict, decision.reasons) == (Verdict.ESCALATE, (reasons.UNVERIFIED_RULE, reasons.ELIGIBLE))
    assert "unverified rule: per_se_institution" in decision.conditions.notes
    verified = decider("EU", pack_with("EU", per_se_institution={"verified": True}))
    allowed = eu.decide(request(BOND, holder("DE", "EUR", kind, institution=True), NO_EXEMPTION), verified)
    assert allowed.verdict == ALLOWED
    assert "MiFID II Annex II (per se professional clients)" in allowed.basis
    assert "Prospectus Regulation (EU) 2017/1129 Art. 1(4)(a)" in allowed.basis


def test_an_institution_meeting_the_size_test_is_allowed_on_verified_rules() -> None:
    decision = decide(ENTITY, institution=True, balance_sheet=20_000_000, own_funds=2_000_000)
    assert decision.verdict == ALLOWED


@pytest.mark.parametrize(
    ("evidence", "expected"),
    [
        # 10 significant trades per quarter (>=) + 1 year in the financial sector (>=)
        ({"trades_per_quarter": 9, "experience_years": 1}, DENIED),
        ({"trades_per_quarter": 10, "experience_years": 1}, ALLOWED),
        ({"trades_per_quarter": 11, "experience_years": 1}, ALLOWED),
        ({"trades_per_quarter": 10, "experience_years": 0}, DENIED),
        ({"trades_per_quarter": 10, "experience_years": 2}, ALLOWED),
        # portfolio exceeding EUR 500k (>) + 10 trades
        ({"portfolio": 499_999, "trades_per_quarter": 10}, DENIED),
        ({"portfolio": 500_000, "trades_per_quarter": 10}, DENIED),
        ({"portfolio": 500_001, "trades_per_quarter": 10}, ALLOWED),
        # portfolio + 1 year
        ({"portfolio": 500_000, "experience_years": 1}, DENIED),
        ({"portfolio": 500_001, "experience_years": 1}, ALLOWED),
        # one criterion alone is not enough
        ({"portfolio": 10**9}, DENIED),
        ({"portfolio": 10**9, "trades_per_quarter": 9, "experience_years": 0}, DENIED),
    ],
)
def test_elective_professional_edges(evidence: dict[str, Any], expected: Verdict) -> None:
    assert decide(opted_in=True, **evidence).verdict == expected


def test_elective_status_needs_the_clients_request() -> None:
    criteria: dict[str, Any] = {"portfolio": 10**9, "trades_per_quarter": 50, "experience_years": 10}
    assert decide(opted_in=False, **criteria).verdict == DENIED
    assert decide(ENTITY, opted_in=True, **criteria).verdict == ALLOWED


@pytest.mark.parametrize(
    ("holders", "expected"),
    [(147, RETAIL_OK), (148, RETAIL_OK), (149, DENIED), (150, DENIED), (0, RETAIL_OK)],
)
def test_fewer_than_150_persons_exemption_edges(holders: int, expected: Verdict) -> None:
    """Art. 1(4)(b): the holders already in the EU plus this one must stay below 150 (149 after: allowed)."""
    decision = decide(ctx=context(holders_in_jurisdiction=holders))
    assert decision.verdict == expected
    if expected == RETAIL_OK:
        assert decision.conditions.notes == (
            "prospectus exemption: Prospectus Regulation (EU) 2017/1129 Art. 1(4)(b); the offer must stay within it",
        )
    else:
        assert decision.reasons == (reasons.OFFERING,)


@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [
        (99_999, "EUR", DENIED),
        (100_000, "EUR", RETAIL_OK),
        (100_001, "EUR", RETAIL_OK),
        (10_000_000, "USD", DENIED),  # no FX conversion: only a EUR value counts
    ],
)
def test_minimum_consideration_exemption_edges(value: int, currency: str, expected: Verdict) -> None:
    """Art. 1(4)(d): at least EUR 100,000 per investor (here with 200 holders, so Art. 1(4)(b) is out)."""
    decision = decide(ctx=context(value=value, value_currency=currency, holders_in_jurisdiction=200))
    assert decision.verdict == expected
    if expected == RETAIL_OK:
        assert "Prospectus Regulation (EU) 2017/1129 Art. 1(4)(d)" in decision.conditions.notes[0]


def test_both_retail_exemptions_are_named() -> None:
    decision = decide(ctx=context(value=100_000, value_currency="EUR", holders_in_jurisdiction=3))
    assert decision.verdict == RETAIL_OK
    assert len(decision.conditions.notes) == 2


def test_worked_decision_2_per_se_professional_bond() -> None:
    """KR tokenized bond -> EU per se professional (entity, 2 of 3): ALLOW, MiFID II instrument, no prospectus."""
    decision = decide(ENTITY, balance_sheet=25_000_000, own_funds=3_000_000)
    assert (decision.verdict, decision.reasons) == (ALLOWED, (reasons.ELIGIBLE,))
    assert decision.basis[0] == "MiCA, Regulation (EU) 2023/1114 Art. 2(4)(a)"
    assert "Prospectus Regulation (EU) 2017/1129 Art. 1(4)(a)" in decision.basis
    assert decision.rule_pack_id == "EU@2026.11"
    assert decision.rule_pack_hash == pack("EU").content_hash
    assert decision.conditions.empty


def test_worked_decision_2_elective_natural_person_is_allowed_on_the_eu_side() -> None:
    """The ESCALATE for an elective natural person comes from KR (institutional-only Phase 1), not from EU."""
    decision = decide(opted_in=True, portfolio=600_000, trades_per_quarter=12)
    assert decision.verdict == ALLOWED
    assert "MiFID II Annex II (elective professional clients)" in decision.basis


def test_retail_without_exemption_is_denied_for_offering() -> None:
    decision = decide(ctx=context(holders_in_jurisdiction=500, value=1_000, value_currency="EUR"))
    assert (decision.verdict, decision.reasons) == (DENIED, (reasons.OFFERING,))
    assert "Prospectus Regulation (EU) 2017/1129" in decision.basis


def test_pack_covers_the_27_member_states_and_keeps_the_facts() -> None:
    eu_pack = pack("EU")
    assert len(eu_pack.countries) == 27
    assert {"DE", "FR", "IE", "SE", "CY"} <= eu_pack.countries
    assert "GB" not in eu_pack.countries
    assert "CH" not in eu_pack.countries
    for key, value in [
        ("out_of_scope_total_12m", 1_000_000),
        ("member_state_exemption_total_12m", 8_000_000),
        ("dlt_pilot_share_issuer_market_cap", 500_000_000),
        ("dlt_pilot_bond_issue_size", 1_000_000_000),
        ("dlt_pilot_ucits_size", 500_000_000),
        ("dlt_pilot_aggregate_per_infrastructure", 6_000_000_000),
    ]:
        assert eu_pack.rule(key).value == value
    assert [key for key, rule in eu_pack.rules.items() if not rule.verified] == ["per_se_institution"]


def test_evidence_in_another_currency_escalates() -> None:
    decision = eu.decide(
        request(BOND, holder("FR", "USD", ENTITY, balance_sheet=10**9, own_funds=10**9)), decider("EU")
    )
    assert (decision.verdict, decision.reasons) == (Verdict.ESCALATE, (reasons.EVIDENCE_CURRENCY,))


@pytest.mark.parametrize(
    ("rule", "evidence"),
    [
        ("per_se_own_funds", {"kind": ENTITY, "balance_sheet": 25_000_000, "own_funds": 3_000_000}),
        ("elective_portfolio", {"opted_in": True, "portfolio": 600_000, "trades_per_quarter": 12}),
        ("qualified_investor_exemption", {"kind": ENTITY, "net_turnover": 10**8, "own_funds": 10**7}),
    ],
)
def test_unverified_rule_escalates_instead_of_allowing(rule: str, evidence: dict[str, Any]) -> None:
    fields = dict(evidence)
    kind = fields.pop("kind", HolderKind.NATURAL_PERSON)
    rules = decider("EU", pack_with("EU", **{rule: {"verified": False}}))
    decision = eu.decide(request(BOND, holder("DE", "EUR", kind, **fields)), rules)
    assert decision.verdict == Verdict.ESCALATE
    assert decision.reasons[0] == reasons.UNVERIFIED_RULE


def test_unverified_retail_exemption_escalates() -> None:
    rules = decider("EU", pack_with("EU", small_offer_persons_per_member_state={"verified": False}))
    decision = eu.decide(request(BOND, holder("DE", "EUR"), context(holders_in_jurisdiction=1)), rules)
    assert decision.verdict == Verdict.ESCALATE
    assert decision.reasons[0] == reasons.UNVERIFIED_RULE
