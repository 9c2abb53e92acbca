"""The worked decisions of JURISDICTIONS.md, through the real composition of the home (KR) and the
holder's jurisdiction, with the shipped rule packs and with a KR pack in which counsel has verified
offshore distribution."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from adapters import reasons
from adapters.compose import decide_transfer
from adapters.registry import Adapters, builtin_adapters
from adapters.rulepack import load_packs
from adapters.types import AssetClass, HolderKind, OfferingFlag, Request, Verdict
from tests.adapters.factories import DAY, NOW, context, holder, pack_with, request, security


def adapters(offshore_verified: bool) -> Adapters:
    packs = load_packs()
    if offshore_verified:
        packs["KR"] = pack_with("KR", offshore_distribution_permitted={"verified": True, "value": True})
    return Adapters(packs, builtin_adapters())


@dataclass(frozen=True)
class Case:
    name: str
    request: Request
    shipped: Verdict  # with the shipped packs (KR offshore distribution unverified)
    offshore_verified: Verdict  # with KR offshore distribution verified by counsel
    reason: str | None = None  # a reason the offshore-verified decision must carry


US_ACCREDITED = holder("US", "USD", us_person=True, net_worth=3_000_000)
EU_PER_SE = holder("DE", "EUR", HolderKind.ENTITY, balance_sheet=25_000_000, net_turnover=50_000_000, own_funds=1)
EU_ELECTIVE = holder("FR", "EUR", opted_in=True, trades_per_quarter=12, portfolio=600_000, experience_years=2)
SG_RETAIL = holder("SG", "SGD", income=50_000)
HK_RETAIL = holder("HK", "HKD", portfolio=100_000)
HK_PROFESSIONAL = holder("HK", "HKD", portfolio=8_000_000)

CASES = [
    Case(
        "1 KR real-estate trust certificate -> US accredited natural person",
        request(security(AssetClass.REAL_ESTATE_TRUST), US_ACCREDITED, context(value=250_000, value_currency="USD")),
        Verdict.ESCALATE, Verdict.ALLOW_CONDITIONAL,
    ),
    Case(
        "2 KR bond -> EU per se professional client",
        request(security(AssetClass.DEBT), EU_PER_SE),
        Verdict.ESCALATE, Verdict.ALLOW,
    ),
    Case(
        "2 KR institutional-only bond -> EU elective natural-person professional",
        request(security(AssetClass.DEBT, OfferingFlag.INSTITUTIONAL_ONLY), EU_ELECTIVE),
        Verdict.ESCALATE, Verdict.ESCALATE, "home-institutional-only",
    ),
    Case(
        "3 any security -> SG retail",
        request(security(AssetClass.EQUITY), SG_RETAIL),
        Verdict.DENY, Verdict.DENY, reasons.INVESTOR_CATEGORY,
    ),
    Case(
        "4 KR equity -> HK retail without an authorised offer",
        request(security(AssetClass.EQUITY), HK_RETAIL),
        Verdict.DENY, Verdict.DENY, reasons.OFFERING,
    ),
    Case(
        "4 KR equity -> HK retail with an authorised offer",
        request(security(AssetClass.EQUITY, OfferingFlag.HK_AUTHORISED_OFFER), HK_RETAIL),
        Verdict.ESCALATE, Verdict.ALLOW,
    ),
    Case(
        "4 KR equity -> HK professional investor",
        request(security(AssetClass.EQUITY), HK_PROFESSIONAL),
        Verdict.ESCALATE, Verdict.ALLOW,
    ),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_worked_decision(case: Case) -> None:
    shipped = decide_transfer(case.request, adapters(offshore_verified=False))
    assert shipped.verdict == case.shipped, shipped.to_json()
    if shipped.verdict == Verdict.ESCALATE and case.offshore_verified != Verdict.ESCALATE:
        assert reasons.HOME_OFFSHORE in shipped.reasons
    verified = decide_transfer(case.request, adapters(offshore_verified=True))
    assert verified.verdict == case.offshore_verified, verified.to_json()
    if case.reason is not None:
        assert case.reason in verified.reasons
    assert all(d.basis and d.rule_pack_hash.startswith("0x") for d in verified.decisions)


def test_worked_decision_1_conditions() -> None:
    """US basis Rule 506(c); non-reporting issuer: Rule 144 lock-up 365 days; QIBs or offshore meanwhile."""
    case = CASES[0]
    decision = decide_transfer(case.request, adapters(offshore_verified=True))
    assert decision.conditions.lockup_until == NOW + 365 * DAY
    assert set(decision.conditions.permitted_transferees) == {"us-qib", "offshore-non-us-person"}
    us = next(d for d in decision.decisions if d.jurisdiction == "US")
    assert any("506(c)" in b for b in us.basis)
