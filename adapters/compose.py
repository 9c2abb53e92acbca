"""Composition: a transfer needs the home jurisdiction (KR, the register of record) AND the holder's
jurisdiction to agree; sanctions are screened first; an unknown jurisdiction fails closed."""

from __future__ import annotations

from dataclasses import dataclass

from adapters import reasons
from adapters.registry import Adapters
from adapters.sanctions import SanctionsList
from adapters.types import Conditions, Decision, Request, Screening, Verdict

HOME = "KR"
SANCTIONS_BASIS = (
    "OFAC FAQ 562 (digital-currency addresses on the SDN list, 2018-03-19)",
    "OFAC FAQ 560 (50% rule)",
)
_SEVERITY = (Verdict.DENY, Verdict.ESCALATE, Verdict.ALLOW_CONDITIONAL, Verdict.ALLOW)


@dataclass(frozen=True)
class CompositeDecision:
    """The combined verdict, its reasons and conditions, and every jurisdiction's own decision."""

    verdict: Verdict
    reasons: tuple[str, ...]
    conditions: Conditions
    decisions: tuple[Decision, ...]
    basis: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {
            "verdict": self.verdict.value,
            "reasons": list(self.reasons),
            "conditions": self.conditions.to_json(),
            "basis": list(self.basis),
            "decisions": [d.to_json() for d in self.decisions],
        }


def combine(decisions: list[Decision]) -> CompositeDecision:
    """AND: the most severe verdict wins (DENY > ESCALATE > ALLOW_CONDITIONAL > ALLOW); the reasons of
    the decisions at that verdict; conditions of every allowing decision merged."""
    verdict = min((d.verdict for d in decisions), key=_SEVERITY.index)
    why = tuple(dict.fromkeys(r for d in decisions if d.verdict == verdict for r in d.reasons))
    conditions = Conditions()
    for decision in decisions:
        conditions = conditions.merge(decision.conditions)
    if verdict == Verdict.DENY:
        conditions = Conditions()  # an ESCALATE keeps the conditions an approving officer must respect
    elif verdict == Verdict.ALLOW and not conditions.empty:
        verdict = Verdict.ALLOW_CONDITIONAL
    basis = tuple(dict.fromkeys(b for d in decisions for b in d.basis))
    return CompositeDecision(verdict, why, conditions, tuple(decisions), basis)


def decide_transfer(request: Request, adapters: Adapters, sanctions: SanctionsList | None = None) -> CompositeDecision:
    """Whether ``request.holder`` may receive ``request.security``, and under which conditions."""
    holder = request.holder
    if holder.sanctions == Screening.HIT or (sanctions is not None and sanctions.hit(holder)):
        basis = SANCTIONS_BASIS + (
            (f"sanctions list: {sanctions.source} ({sanctions.content_hash})",) if sanctions else ()
        )
        return CompositeDecision(Verdict.DENY, (reasons.SANCTIONS_HIT,), Conditions(), (), basis)
    if holder.sanctions == Screening.NOT_SCREENED:
        return CompositeDecision(Verdict.ESCALATE, (reasons.SANCTIONS_NOT_SCREENED,), Conditions(), (), SANCTIONS_BASIS)
    destination = adapters.jurisdiction_of(holder.residency)
    if destination is None or HOME not in adapters.adapters:
        why = f"no adapter decides for residents of {holder.residency}" if destination is None else "no home adapter"
        return CompositeDecision(Verdict.DENY, (reasons.JURISDICTION_UNSUPPORTED,), Conditions(), (), (why,))
    jurisdictions = [HOME] if destination == HOME else [HOME, destination]
    return combine([adapters.decide(j, request) for j in jurisdictions])
