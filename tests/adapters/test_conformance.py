"""One conformance suite for every registered adapter: determinism, a basis and the rule-pack hash on
every decision, fail-closed on input it cannot assess, and no ALLOW resting on an unverified rule
(hypothesis over random requests)."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.decider import Decider
from adapters.errors import AdapterError
from adapters.registry import Adapter, builtin_adapters
from adapters.rulepack import RulePack, load_packs, parse_pack
from adapters.types import (
    AssetClass,
    Context,
    Decision,
    Evidence,
    Holder,
    HolderKind,
    OfferingFlag,
    Request,
    Screening,
    Security,
    Verdict,
)

ADAPTERS = builtin_adapters()
PACKS = load_packs()
CODES = sorted(ADAPTERS)
NOW = 1_790_000_000


def all_unverified(pack: RulePack) -> RulePack:
    """The same pack with every rule's source withdrawn."""
    document: dict[str, Any] = {
        "jurisdiction": pack.jurisdiction, "version": pack.version + "-unverified", "name": pack.name,
        "currency": pack.currency, "countries": sorted(pack.countries),
        "rules": {
            k: {"value": r.value, "citation": r.citation, "source": r.source, "verified": False}
            | ({"op": r.op} if r.op else {})
            for k, r in pack.rules.items()
        },
    }  # fmt: skip
    return parse_pack(document)


LICENCES = ["series-7", "series-65", "series-82", "kr-licensed-expert"]
amounts = st.one_of(st.none(), st.integers(min_value=0, max_value=10**12))


@st.composite
def requests(draw: st.DrawFn, code: str) -> Request:
    pack = PACKS[code]
    security = Security(
        security_id="0x" + draw(st.binary(min_size=32, max_size=32)).hex(),
        isin="KR7005930003",
        asset_class=draw(st.sampled_from(list(AssetClass))),
        issuer_sec_reporting=draw(st.booleans()),
        flags=frozenset(draw(st.sets(st.sampled_from(list(OfferingFlag))))),
    )
    currency = draw(st.sampled_from([pack.currency, pack.currency, "XAU"]))
    evidence = Evidence(
        currency=currency,
        net_worth=draw(amounts), primary_residence_equity=draw(amounts), income=draw(amounts),
        joint_income=draw(amounts), net_financial_assets=draw(amounts), financial_assets=draw(amounts),
        portfolio=draw(amounts), total_assets=draw(amounts), balance_sheet=draw(amounts),
        net_turnover=draw(amounts), own_funds=draw(amounts), securities_owned=draw(amounts),
        trades_per_quarter=draw(st.none() | st.integers(0, 100)), experience_years=draw(st.none() | st.integers(0, 40)),
        investment_balance=draw(amounts), investment_holding_years=draw(st.none() | st.integers(0, 10)),
        licences=frozenset(draw(st.sets(st.sampled_from(LICENCES)))),
        certifications=frozenset(draw(st.sets(st.sampled_from(["uk-hnw", "uk-sophisticated"])))),
        opted_in=draw(st.booleans()), institution=draw(st.booleans()),
    )  # fmt: skip
    holder = Holder(
        holder_id="0x" + "11" * 32,
        wallet="0x" + "22" * 20,
        residency=draw(st.sampled_from(sorted(pack.countries))),
        kind=draw(st.sampled_from(list(HolderKind))),
        evidence=evidence,
        us_person=draw(st.booleans()),
        sanctions=Screening.CLEAR,
    )
    with_value = draw(st.booleans())
    context = Context(
        now=NOW,
        amount=draw(st.integers(1, 10**9)),
        value=draw(st.integers(0, 10**9)) if with_value else None,
        value_currency=draw(st.sampled_from([pack.currency, "USD", "EUR"])) if with_value else None,
        acquired_at=draw(st.none() | st.integers(NOW - 10**8, NOW)),
        holders_in_jurisdiction=draw(st.integers(0, 3000)),
        holders_total=draw(st.integers(0, 3000)),
        purchases_12m=draw(st.none() | st.integers(0, 10**9)),
    )
    return Request(security, holder, context)


def decide(code: str, request: Request, pack: RulePack | None = None) -> Decision:
    adapter: Adapter = ADAPTERS[code]
    return adapter.decide(request, Decider(pack or PACKS[code]))


def test_every_adapter_has_a_pack_and_the_expected_set() -> None:
    assert set(CODES) == {"KR", "US", "EU", "SG", "HK", "JP", "CH", "UK"}
    assert set(CODES) <= set(PACKS)


@pytest.mark.parametrize("code", CODES)
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_decisions_are_deterministic_and_carry_basis_and_pack(code: str, data: st.DataObject) -> None:
    request = data.draw(requests(code))
    try:
        first = decide(code, request)
    except AdapterError:
        return  # the adapter's own typed error is an acceptable answer to odd input
    assert decide(code, request) == first
    assert first.jurisdiction == code
    assert first.basis, "every decision names its legal basis"
    assert first.rule_pack_id == PACKS[code].id
    assert first.rule_pack_hash == PACKS[code].content_hash
    assert first.reasons


@pytest.mark.parametrize("code", CODES)
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_no_unverified_rule_ever_allows(code: str, data: st.DataObject) -> None:
    request = data.draw(requests(code))
    try:
        decision = decide(code, request, all_unverified(PACKS[code]))
    except AdapterError:
        return
    assert not decision.verdict.allows, decision


@pytest.mark.parametrize("code", CODES)
@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_evidence_in_an_unknown_currency_never_allows(code: str, data: st.DataObject) -> None:
    """Fail closed: the adapter cannot assess amounts it cannot read."""
    request = data.draw(requests(code))
    foreign = replace(
        request, holder=replace(request.holder, evidence=replace(request.holder.evidence, currency="XAU"))
    )
    try:
        decision = decide(code, foreign)
    except AdapterError:
        return
    if decision.verdict.allows:
        # allowed without reading any amount: only offering-level allowances (e.g. an authorised retail offer)
        no_evidence = replace(foreign, holder=replace(foreign.holder, evidence=Evidence(currency="XAU")))
        assert decide(code, no_evidence).verdict.allows, decision


@pytest.mark.parametrize("code", CODES)
def test_a_retail_person_without_evidence_is_not_simply_allowed(code: str) -> None:
    """Fail closed: nothing known about the holder means no unconditional ALLOW of a plain equity."""
    pack = PACKS[code]
    holder = Holder(
        "0x" + hashlib.sha256(code.encode()).hexdigest(), "0x" + "33" * 20, sorted(pack.countries)[0],
        HolderKind.NATURAL_PERSON, Evidence(currency=pack.currency), sanctions=Screening.CLEAR,
    )  # fmt: skip
    security = Security("0x" + "44" * 32, "KR7005930003", AssetClass.EQUITY)
    assert decide(code, Request(security, holder, Context(now=NOW, amount=1))).verdict != Verdict.ALLOW
