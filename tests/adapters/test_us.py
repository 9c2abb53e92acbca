"""United States adapter: Rule 501(a) at its edges, Rule 506(c) verification by minimum investment, Rule
144A QIBs, the Rule 144 holding period, Exchange Act 12(g), and worked decision 1."""

from __future__ import annotations

from typing import Any

import pytest

from adapters import reasons
from adapters.compose import decide_transfer
from adapters.jurisdictions import kr, us
from adapters.registry import Adapter, Adapters
from adapters.rulepack import RulePack
from adapters.types import AssetClass, Context, Decision, Holder, HolderKind, Security, Verdict
from tests.adapters.factories import DAY, NOW, context, decider, holder, pack, pack_with, request, security

ALLOWED, DENY, ESCALATE = Verdict.ALLOW_CONDITIONAL, Verdict.DENY, Verdict.ESCALATE
PERSON, ENTITY = HolderKind.NATURAL_PERSON, HolderKind.ENTITY


def us_holder(kind: HolderKind = PERSON, **evidence: Any) -> Holder:
    return holder("US", "USD", kind, us_person=True, **evidence)


def usd(value: int | None, **overrides: Any) -> Context:
    return context(value=value, value_currency=None if value is None else "USD", **overrides)


def decide(
    hold: Holder, ctx: Context | None = None, sec: Security | None = None, rule_pack: RulePack | None = None
) -> Decision:
    return us.decide(request(sec or security(), hold, ctx or usd(1_000_000)), decider("US", rule_pack))


def test_worked_decision_1_real_estate_trust_to_an_accredited_natural_person() -> None:
    """KR real-estate trust token, non-reporting foreign issuer, USD 250k: Rule 506(c) + Rule 144."""
    acquired = NOW + 3 * DAY
    sec = security(AssetClass.REAL_ESTATE_TRUST, reporting=False)
    decision = decide(us_holder(net_worth=2_000_000), usd(250_000, acquired_at=acquired), sec)
    assert decision.verdict == ALLOWED
    assert "Rule 506(c)" in decision.basis
    assert "Rule 144(d)" in decision.basis
    assert {"Rule 144A", "Rule 904"} <= set(decision.basis)
    assert decision.conditions.lockup_until == acquired + 365 * DAY
    assert decision.conditions.permitted_transferees == ("us-qib", "offshore-non-us-person")
    assert us.VERIFICATION_NOTE in decision.conditions.notes
    assert any(b.startswith("Regulation S (not relied on") for b in decision.basis)


@pytest.mark.parametrize(
    ("offshore_verified", "expected", "why"),
    [(False, ESCALATE, (reasons.UNVERIFIED_RULE, reasons.HOME_OFFSHORE)), (True, ALLOWED, (reasons.ELIGIBLE,))],
)
def test_worked_decision_1_composed_with_the_home_side(
    offshore_verified: bool, expected: Verdict, why: tuple[str, ...]
) -> None:
    """KR (home) AND US: ESCALATE while offshore distribution is unverified, else ALLOW_CONDITIONAL."""
    kr_pack = pack_with("KR", offshore_distribution_permitted={"verified": offshore_verified})
    adapters = Adapters(
        {"KR": kr_pack, "US": pack("US")}, {"KR": Adapter("KR", kr.decide), "US": Adapter("US", us.decide)}
    )
    req = request(security(AssetClass.REAL_ESTATE_TRUST), us_holder(net_worth=2_000_000), usd(250_000))
    composite = decide_transfer(req, adapters)
    assert (composite.verdict, composite.reasons) == (expected, why)
    assert [d.jurisdiction for d in composite.decisions] == ["KR", "US"]
    if expected == ALLOWED:
        assert composite.conditions.lockup_until == NOW + 365 * DAY
        assert composite.conditions.permitted_transferees == us.RESALE_TRANSFEREES


@pytest.mark.parametrize(
    ("kind", "evidence", "expected"),
    [
        # natural person: net worth > USD 1m excluding the primary residence
        (PERSON, {"net_worth": 999_999}, DENY),
        (PERSON, {"net_worth": 1_000_000}, DENY),
        (PERSON, {"net_worth": 1_000_001}, ALLOWED),
        # income > USD 200k (the lower of the last two years)
        (PERSON, {"income": 199_999}, DENY),
        (PERSON, {"income": 200_000}, DENY),
        (PERSON, {"income": 200_001}, ALLOWED),
        # joint income > USD 300k
        (PERSON, {"joint_income": 299_999}, DENY),
        (PERSON, {"joint_income": 300_000}, DENY),
        (PERSON, {"joint_income": 300_001}, ALLOWED),
        # Series 7 / 65 / 82 licence holders
        (PERSON, {"licences": frozenset({"series-7"})}, ALLOWED),
        (PERSON, {"licences": frozenset({"series-65"})}, ALLOWED),
        (PERSON, {"licences": frozenset({"series-82"})}, ALLOWED),
        (PERSON, {"licences": frozenset({"series-6"})}, DENY),
        # entity tests do not apply to natural persons
        (PERSON, {"total_assets": 10**9, "institution": True}, DENY),
        # entities: > USD 5m in assets or investments, or an institution
        (ENTITY, {"total_assets": 4_999_999}, DENY),
        (ENTITY, {"total_assets": 5_000_000}, DENY),
        (ENTITY, {"total_assets": 5_000_001}, ALLOWED),
        (ENTITY, {"securities_owned": 5_000_000}, DENY),
        (ENTITY, {"securities_owned": 5_000_001}, ALLOWED),
        (ENTITY, {"institution": True}, ALLOWED),
        # natural-person tests do not apply to entities
        (ENTITY, {"net_worth": 10**9, "income": 10**9}, DENY),
        (PERSON, {}, DENY),
    ],
)
def test_accredited_investor_edges(kind: HolderKind, evidence: dict[str, Any], expected: Verdict) -> None:
    decision = decide(us_holder(kind, **evidence))
    assert decision.verdict == expected
    if expected == DENY:
        assert decision.reasons == (reasons.INVESTOR_CATEGORY,)
        assert "Rule 506(c)" in decision.basis


@pytest.mark.parametrize(
    ("kind", "evidence", "value", "expected"),
    [
        # natural person: minimum investment USD 200k plus written representations
        (PERSON, {"net_worth": 2_000_000}, 199_999, ESCALATE),
        (PERSON, {"net_worth": 2_000_000}, 200_000, ALLOWED),
        (PERSON, {"net_worth": 2_000_000}, 200_001, ALLOWED),
        (PERSON, {"net_worth": 2_000_000}, None, ESCALATE),
        # entity: minimum investment USD 1m
        (ENTITY, {"total_assets": 10_000_000}, 999_999, ESCALATE),
        (ENTITY, {"total_assets": 10_000_000}, 1_000_000, ALLOWED),
        (ENTITY, {"total_assets": 10_000_000}, 1_000_001, ALLOWED),
        (ENTITY, {"institution": True}, 200_000, ESCALATE),
    ],
)
def test_rule_506c_verification_by_minimum_investment(
    kind: HolderKind, evidence: dict[str, Any], value: int | None, expected: Verdict
) -> None:
    decision = decide(us_holder(kind, **evidence), usd(value))
    assert decision.verdict == expected
    if expected == ESCALATE:
        assert decision.reasons == (us.VERIFICATION_REQUIRED,)


def test_a_value_in_another_currency_is_not_a_verified_minimum_investment() -> None:
    ctx = context(value=10**12, value_currency="KRW")
    decision = decide(us_holder(net_worth=2_000_000), ctx)
    assert (decision.verdict, decision.reasons) == (ESCALATE, (us.VERIFICATION_REQUIRED,))


@pytest.mark.parametrize(
    ("kind", "securities_owned", "expected"),
    [
        (ENTITY, 99_999_999, ESCALATE),  # accredited (investments) but not a QIB: 506(c) verification
        (ENTITY, 100_000_000, ALLOWED),
        (ENTITY, 100_000_001, ALLOWED),
        (PERSON, 10**12, ESCALATE),  # natural persons are never QIBs
    ],
)
def test_qualified_institutional_buyer_edges(kind: HolderKind, securities_owned: int, expected: Verdict) -> None:
    """A QIB takes under Rule 144A without the 506(c) minimum investment (USD 150k here)."""
    decision = decide(us_holder(kind, securities_owned=securities_owned, net_worth=2_000_000), usd(150_000))
    assert decision.verdict == expected
    if expected == ALLOWED:
        assert "Rule 144A" in decision.basis
        assert "Rule 506(c)" not in decision.basis
        assert decision.conditions.permitted_transferees == us.RESALE_TRANSFEREES


@pytest.mark.parametrize(
    ("holders_total", "expected"),
    [(1_998, ALLOWED), (1_999, ESCALATE), (2_000, ESCALATE)],
)
def test_exchange_act_12g_holders_of_record(holders_total: int, expected: Verdict) -> None:
    """The new holder must keep the holders of record below 2,000 (the 2,000th ESCALATEs)."""
    decision = decide(us_holder(net_worth=2_000_000), usd(1_000_000, holders_total=holders_total))
    assert decision.verdict == expected
    if expected == ESCALATE:
        assert decision.reasons == (reasons.HOLDER_CAP,)
        assert "Exchange Act Section 12(g)" in decision.basis


@pytest.mark.parametrize(("reporting", "days"), [(True, 184), (False, 365)])
def test_rule_144_holding_period(reporting: bool, days: int) -> None:
    acquired = NOW - 10 * DAY
    sec = security(AssetClass.EQUITY, reporting=reporting)
    decision = decide(us_holder(income=300_000), usd(500_000, acquired_at=acquired), sec)
    assert decision.verdict == ALLOWED
    assert decision.conditions.lockup_until == acquired + days * DAY
    assert decision.rule_pack_id == "US@2026.11"
    assert decision.rule_pack_hash == pack("US").content_hash


def test_holding_period_runs_from_now_when_acquisition_is_not_given() -> None:
    decision = decide(us_holder(income=300_000), usd(500_000))
    assert decision.conditions.lockup_until == NOW + 365 * DAY


def test_evidence_in_another_currency_escalates() -> None:
    decision = decide(holder("US", "KRW", net_worth=10**12))
    assert (decision.verdict, decision.reasons) == (ESCALATE, (reasons.EVIDENCE_CURRENCY,))


@pytest.mark.parametrize("key", ["accredited_net_worth", "rule_506c", "rule144_holding_days_non_reporting"])
def test_unverified_rule_escalates_instead_of_allowing(key: str) -> None:
    decision = decide(us_holder(net_worth=2_000_000), rule_pack=pack_with("US", **{key: {"verified": False}}))
    assert decision.verdict == ESCALATE
    assert decision.reasons[0] == reasons.UNVERIFIED_RULE
    assert f"unverified rule: {key}" in decision.conditions.notes


def test_every_shipped_rule_is_verified() -> None:
    """The US facts used here all have sources; nothing in the US section is marked UNVERIFIED."""
    assert all(rule.verified for rule in pack("US").rules.values())
