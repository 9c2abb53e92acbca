"""Switzerland adapter: FinSA client segmentation (opting-out CHF 2m / CHF 500k plus knowledge, large
companies 2 of 3) at their edges and the FinSA Art. 36(1) prospectus exemptions for retail clients."""

from __future__ import annotations

from typing import Any

import pytest

from adapters import reasons
from adapters.jurisdictions import ch
from adapters.types import AssetClass, Context, Decision, HolderKind, Verdict
from tests.adapters.factories import context, decider, holder, pack, pack_with, request, security

ALLOWED, RETAIL_OK, DENIED, ESCALATED = Verdict.ALLOW, Verdict.ALLOW_CONDITIONAL, Verdict.DENY, Verdict.ESCALATE
PERSON, ENTITY = HolderKind.NATURAL_PERSON, HolderKind.ENTITY
SHARE = security(AssetClass.EQUITY)
NO_EXEMPTION = context(holders_in_jurisdiction=10_000)  # no retail exemption: only professional status allows


def decide(kind: HolderKind = PERSON, ctx: Context = NO_EXEMPTION, **evidence: Any) -> Decision:
    return ch.decide(request(SHARE, holder("CH", "CHF", kind, **evidence), ctx), decider("CH"))


@pytest.mark.parametrize(
    ("evidence", "expected"),
    [
        # opting-out with assets of at least CHF 2m
        ({"financial_assets": 1_999_999}, ESCALATED),  # >= CHF 500k: the knowledge path is open
        ({"financial_assets": 2_000_000}, ALLOWED),
        ({"financial_assets": 2_000_001}, ALLOWED),
        # without the declaration no amount makes a client professional
        ({"financial_assets": 10**9, "opted_in": False}, DENIED),
        # CHF 500k plus knowledge: rests on the unverified 1-year experience proxy
        ({"financial_assets": 499_999, "experience_years": 5}, DENIED),
        ({"financial_assets": 500_000, "experience_years": 5}, ESCALATED),
        ({"financial_assets": 500_001, "experience_years": 5}, ESCALATED),
    ],
)
def test_opting_out_edges(evidence: dict[str, Any], expected: Verdict) -> None:
    fields = {"opted_in": True, **evidence}
    assert decide(**fields).verdict == expected


@pytest.mark.parametrize(
    ("years", "expected_reasons"),
    [
        (0, (ch.KNOWLEDGE_NOT_EVIDENCED,)),
        (None, (ch.KNOWLEDGE_NOT_EVIDENCED,)),
        (1, (reasons.UNVERIFIED_RULE, reasons.ELIGIBLE)),
        (2, (reasons.UNVERIFIED_RULE, reasons.ELIGIBLE)),
    ],
)
def test_knowledge_proxy_always_escalates(years: int | None, expected_reasons: tuple[str, ...]) -> None:
    """The source says "knowledge": the evidence cannot settle it, and the proxy itself is unverified."""
    decision = decide(opted_in=True, financial_assets=600_000, experience_years=years)
    assert (decision.verdict, decision.reasons) == (ESCALATED, expected_reasons)


def test_knowledge_proxy_once_verified_allows_at_one_year() -> None:
    rules = decider("CH", pack_with("CH", opt_out_knowledge_experience_years={"verified": True}))
    for years, expected in [(0, ESCALATED), (1, ALLOWED), (2, ALLOWED)]:
        evidence: dict[str, Any] = {"opted_in": True, "financial_assets": 600_000, "experience_years": years}
        decision = ch.decide(request(SHARE, holder("CH", "CHF", **evidence), NO_EXEMPTION), rules)
        assert decision.verdict == expected, years


@pytest.mark.parametrize(
    ("evidence", "expected"),
    [
        # balance sheet CHF 20m + turnover CHF 40m (exceeding: >)
        ({"balance_sheet": 20_000_000, "net_turnover": 40_000_001}, DENIED),
        ({"balance_sheet": 20_000_001, "net_turnover": 40_000_001}, ALLOWED),
        ({"balance_sheet": 20_000_001, "net_turnover": 40_000_000}, DENIED),
        ({"balance_sheet": 19_999_999, "net_turnover": 10**12}, DENIED),
        # balance sheet + equity CHF 2m
        ({"balance_sheet": 20_000_001, "own_funds": 1_999_999}, DENIED),
        ({"balance_sheet": 20_000_001, "own_funds": 2_000_000}, DENIED),
        ({"balance_sheet": 20_000_001, "own_funds": 2_000_001}, ALLOWED),
        # turnover + equity
        ({"net_turnover": 39_999_999, "own_funds": 2_000_001}, DENIED),
        ({"net_turnover": 40_000_000, "own_funds": 2_000_001}, DENIED),
        ({"net_turnover": 40_000_001, "own_funds": 2_000_001}, ALLOWED),
        # one of three is not enough; all three is
        ({"own_funds": 10**12}, DENIED),
        ({"balance_sheet": 20_000_001, "net_turnover": 40_000_001, "own_funds": 2_000_001}, ALLOWED),
    ],
)
def test_large_company_edges(evidence: dict[str, Any], expected: Verdict) -> None:
    assert decide(ENTITY, **evidence).verdict == expected


def test_size_criteria_are_for_companies_only() -> None:
    assert decide(PERSON, balance_sheet=10**9, net_turnover=10**9, own_funds=10**9).verdict == DENIED


@pytest.mark.parametrize("kind", [PERSON, ENTITY])
def test_institutions_escalate_until_the_institution_rule_is_verified(kind: HolderKind) -> None:
    """JURISDICTIONS.md gives only the opting-out and large-company tests: the institution rule is unverified."""
    decision = decide(kind, institution=True)
    assert (decision.verdict, decision.reasons) == (ESCALATED, (reasons.UNVERIFIED_RULE, reasons.ELIGIBLE))
    verified = decider("CH", pack_with("CH", professional_institution={"verified": True}))
    allowed = ch.decide(request(SHARE, holder("CH", "CHF", kind, institution=True), NO_EXEMPTION), verified)
    assert (allowed.verdict, allowed.reasons) == (ALLOWED, (reasons.ELIGIBLE,))
    assert "FinSA Art. 36(1) (offers to professional clients only)" in allowed.basis
    # an institution that is also a large company is allowed on verified rules
    large: dict[str, Any] = {"balance_sheet": 20_000_001, "net_turnover": 40_000_001}
    assert decide(ENTITY, institution=True, **large).verdict == ALLOWED


@pytest.mark.parametrize(
    ("holders", "expected"),
    [(0, RETAIL_OK), (497, RETAIL_OK), (498, RETAIL_OK), (499, DENIED), (500, DENIED)],
)
def test_fewer_than_500_investors_edges(holders: int, expected: Verdict) -> None:
    """The investors already in Switzerland plus this one must stay below 500 (499 after: allowed)."""
    decision = decide(ctx=context(holders_in_jurisdiction=holders))
    assert decision.verdict == expected
    if expected == RETAIL_OK:
        assert decision.conditions.notes == (
            "prospectus exemption: FinSA Art. 36(1) (fewer than 500 investors); the offer must stay within it",
        )
        assert "FMIA Art. 73a ff. (DLT trading facilities)" in decision.basis
    else:
        assert decision.reasons == (reasons.OFFERING,)


@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [(99_999, "CHF", DENIED), (100_000, "CHF", RETAIL_OK), (100_001, "CHF", RETAIL_OK), (10**7, "EUR", DENIED)],
)
def test_minimum_investment_edges(value: int, currency: str, expected: Verdict) -> None:
    """At least CHF 100,000 per investor, stated in CHF (no FX conversion here)."""
    decision = decide(ctx=context(value=value, value_currency=currency, holders_in_jurisdiction=10_000))
    assert decision.verdict == expected
    if expected == RETAIL_OK:
        assert "FinSA Art. 36(1) (at least CHF 100,000 per investor)" in decision.conditions.notes[0]


def test_retail_exemption_comes_before_the_unverified_knowledge_path() -> None:
    """An opted-out CHF 500k client inside a retail exemption is allowed as retail, on verified rules only."""
    ctx = context(holders_in_jurisdiction=10)
    decision = decide(ctx=ctx, opted_in=True, financial_assets=600_000, experience_years=3)
    assert decision.verdict == RETAIL_OK
    knowledge = pack("CH").rule("opt_out_knowledge_experience_years")
    assert knowledge.citation not in decision.basis
    assert knowledge.source not in decision.sources


def test_professional_basis_and_pack() -> None:
    decision = decide(opted_in=True, financial_assets=2_000_000)
    assert decision.basis[0] == "DLT Act of 2020-09-25; Code of Obligations Art. 973d (ledger-based securities)"
    assert "FinSA (opting-out: assets of at least CHF 2m)" in decision.basis
    assert decision.rule_pack_id == "CH@2026.11"
    assert decision.rule_pack_hash == pack("CH").content_hash
    ch_pack = pack("CH")
    assert ch_pack.countries == frozenset({"CH"})
    assert ch_pack.rule("exempt_total_12m").value == 8_000_000
    unverified = [key for key, rule in ch_pack.rules.items() if not rule.verified]
    assert unverified == ["professional_institution", "opt_out_knowledge_experience_years"]


def test_evidence_in_another_currency_escalates() -> None:
    decision = ch.decide(request(SHARE, holder("CH", "EUR", opted_in=True, financial_assets=10**9)), decider("CH"))
    assert (decision.verdict, decision.reasons) == (ESCALATED, (reasons.EVIDENCE_CURRENCY,))


@pytest.mark.parametrize(
    ("rule", "kind", "evidence", "ctx"),
    [
        ("opt_out_assets", PERSON, {"opted_in": True, "financial_assets": 3_000_000}, NO_EXEMPTION),
        ("large_company_equity", ENTITY, {"balance_sheet": 10**8, "own_funds": 10**7}, NO_EXEMPTION),
        ("exempt_fewer_investors", PERSON, {}, context(holders_in_jurisdiction=1)),
        (
            "exempt_minimum_investment",
            PERSON,
            {},
            context(value=200_000, value_currency="CHF", holders_in_jurisdiction=10_000),
        ),
    ],
)
def test_unverified_rule_escalates_instead_of_allowing(
    rule: str, kind: HolderKind, evidence: dict[str, Any], ctx: Context
) -> None:
    rules = decider("CH", pack_with("CH", **{rule: {"verified": False}}))
    decision = ch.decide(request(SHARE, holder("CH", "CHF", kind, **evidence), ctx), rules)
    assert decision.verdict == ESCALATED
    assert decision.reasons[0] == reasons.UNVERIFIED_RULE
