"""Recognition records: for each security x jurisdiction, how that jurisdiction's adapter treats the
security, published as signed ``RecognitionRecord`` attestations for foreign regulators.

The status is derived from the adapter's decisions for two reference holders resident there: a retail
natural person with no evidence, and a qualified institution. ``recognized``: retail investors may
hold it without conditions; ``conditional``: some investors may hold it, under conditions (which are
listed); ``not-recognized``: no reference investor may (DENY or ESCALATE for both). The home (KR)
view of the qualified holder is carried in the conditions, since every transfer also needs it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from adapters.compose import HOME
from adapters.registry import Adapters
from adapters.types import Context, Decision, Evidence, Holder, HolderKind, Request, Screening, Security, Verdict
from attestations.kinds import RecognitionRecord

DAY = 86_400
_REFERENCE_ID = "0x" + "00" * 31 + "01"
_REFERENCE_WALLET = "0x" + "00" * 19 + "01"


@dataclass(frozen=True)
class Recognition:
    """A record with the decisions it was derived from."""

    record: RecognitionRecord
    retail: Decision
    qualified: Decision
    home: Decision


def _reference(country: str, currency: str, qualified: bool) -> Holder:
    return Holder(
        holder_id=_REFERENCE_ID,
        wallet=_REFERENCE_WALLET,
        residency=country,
        kind=HolderKind.ENTITY if qualified else HolderKind.NATURAL_PERSON,
        evidence=Evidence(currency=currency, institution=qualified),
        us_person=country == "US",
        sanctions=Screening.CLEAR,
    )


def _status(retail: Decision, qualified: Decision) -> str:
    if retail.verdict == Verdict.ALLOW and qualified.verdict == Verdict.ALLOW:
        return "recognized"
    if retail.verdict.allows or qualified.verdict.allows:
        return "conditional"
    return "not-recognized"


def _summary(decision: Decision, now: int) -> dict[str, object]:
    lockup = decision.conditions.lockup_until
    return {
        "verdict": decision.verdict.value,
        "reasons": list(decision.reasons),
        "lockupDays": None if lockup is None else max(0, (lockup - now + DAY - 1) // DAY),
        "permittedTransferees": list(decision.conditions.permitted_transferees),
        "notes": list(decision.conditions.notes),
    }


def recognize(security: Security, jurisdiction: str, adapters: Adapters, now: int, validity_days: int) -> Recognition:
    """The recognition record of ``security`` in ``jurisdiction`` at ``now``."""
    pack = adapters.packs[jurisdiction]
    country = sorted(pack.countries)[0]
    context = Context(now=now, amount=1)
    retail = adapters.decide(jurisdiction, Request(security, _reference(country, pack.currency, False), context))
    qualified = adapters.decide(jurisdiction, Request(security, _reference(country, pack.currency, True), context))
    home_pack = adapters.packs[HOME]
    home_holder = _reference(country, home_pack.currency, True)
    home = adapters.decide(HOME, Request(security, home_holder, context))
    status = _status(retail, qualified)
    investors = [name for name, d in (("retail", retail), ("qualified", qualified)) if d.verdict.allows]
    conditions = {
        "investors": investors,
        "retail": _summary(retail, now),
        "qualified": _summary(qualified, now),
        "home": {"jurisdiction": HOME, "verdict": home.verdict.value, "reasons": list(home.reasons)},
    }
    chosen = retail if retail.verdict.allows else qualified
    record = RecognitionRecord(
        security_id=bytes.fromhex(security.security_id[2:]),
        isin=security.isin,
        jurisdiction=jurisdiction,
        status=status,
        basis="; ".join(chosen.basis),
        conditions=json.dumps(conditions, sort_keys=True, separators=(",", ":")),
        valid_from=now,
        valid_until=now + validity_days * DAY,
        rule_pack_id=pack.id,
        rule_pack_hash=bytes.fromhex(pack.content_hash[2:]),
    )
    return Recognition(record, retail, qualified, home)
