"""Singapore adapter: SFA s4A accredited-investor tests at their edges, s275(1)/(1A), s276 resale."""

from __future__ import annotations

import pytest

from adapters import reasons
from adapters.jurisdictions import sg
from adapters.types import HolderKind, Verdict
from tests.adapters.factories import DAY, NOW, context, decider, holder, pack_with, request, security


def decide(**evidence: object) -> Verdict:
    kind = evidence.pop("kind", HolderKind.NATURAL_PERSON)
    ctx = evidence.pop("ctx", None)
    hold = holder("SG", "SGD", kind, opted_in=evidence.pop("opted_in", True), **evidence)  # type: ignore[arg-type]
    return sg.decide(request(security(), hold, ctx), decider("SG")).verdict  # type: ignore[arg-type]


ALLOWED, DENIED = Verdict.ALLOW_CONDITIONAL, Verdict.DENY


@pytest.mark.parametrize(
    ("evidence", "expected"),
    [
        # net personal assets > SGD 2m
        ({"net_worth": 1_999_999}, DENIED),
        ({"net_worth": 2_000_000}, DENIED),
        ({"net_worth": 2_000_001}, ALLOWED),
        # the primary residence counts at most SGD 1m
        ({"net_worth": 1_000_000, "primary_residence_equity": 1_000_000}, DENIED),
        ({"net_worth": 1_000_001, "primary_residence_equity": 5_000_000}, ALLOWED),
        ({"net_worth": 1_000_000, "primary_residence_equity": 5_000_000}, DENIED),
        # income >= SGD 300k
        ({"income": 299_999}, DENIED),
        ({"income": 300_000}, ALLOWED),
        ({"income": 300_001}, ALLOWED),
        # net financial assets > SGD 1m
        ({"net_financial_assets": 1_000_000}, DENIED),
        ({"net_financial_assets": 1_000_001}, ALLOWED),
        # corporations: net assets > SGD 10m
        ({"kind": HolderKind.ENTITY, "net_worth": 10_000_000}, DENIED),
        ({"kind": HolderKind.ENTITY, "net_worth": 10_000_001}, ALLOWED),
        # the accredited status is opt-in
        ({"income": 1_000_000, "opted_in": False}, DENIED),
        # institutions are relevant persons
        ({"institution": True, "opted_in": False}, ALLOWED),
    ],
)
def test_accredited_investor_edges(evidence: dict[str, object], expected: Verdict) -> None:
    assert decide(**evidence) == expected


@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [(199_999, "SGD", DENIED), (200_000, "SGD", ALLOWED), (200_001, "SGD", ALLOWED), (10_000_000, "USD", DENIED)],
)
def test_large_transaction_offer_edges(value: int, currency: str, expected: Verdict) -> None:
    """s275(1A): any person, at least SGD 200,000 per transaction (in SGD: no FX here)."""
    assert decide(opted_in=False, ctx=context(value=value, value_currency=currency)) == expected


def test_retail_is_denied_with_investor_category() -> None:
    """Worked decision 3: any security to a Singapore retail investor under s275: DENY."""
    decision = sg.decide(request(security(), holder("SG", "SGD", income=50_000)), decider("SG"))
    assert decision.verdict == Verdict.DENY
    assert decision.reasons == (reasons.INVESTOR_CATEGORY,)


def test_resale_restriction_and_basis() -> None:
    decision = sg.decide(request(security(), holder("SG", "SGD", opted_in=True, income=400_000)), decider("SG"))
    assert decision.conditions.lockup_until == NOW + 183 * DAY
    assert decision.conditions.permitted_transferees == sg.RESALE_TRANSFEREES
    assert "SFA s4A(1)(a)(i)(C)" in decision.basis
    assert "SFA s276" in decision.basis
    assert decision.rule_pack_id == "SG@2026.11"


def test_evidence_in_another_currency_escalates() -> None:
    decision = sg.decide(request(security(), holder("SG", "USD", opted_in=True, income=10**9)), decider("SG"))
    assert (decision.verdict, decision.reasons) == (Verdict.ESCALATE, (reasons.EVIDENCE_CURRENCY,))


def test_unverified_rule_escalates_instead_of_allowing() -> None:
    rules = decider("SG", pack_with("SG", accredited_income={"verified": False}))
    decision = sg.decide(request(security(), holder("SG", "SGD", opted_in=True, income=400_000)), rules)
    assert decision.verdict == Verdict.ESCALATE
    assert decision.reasons[0] == reasons.UNVERIFIED_RULE
