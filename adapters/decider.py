"""The one way an adapter reads rules and answers, so every decision carries its basis, its rule pack
and its sources, and no decision resting on an unverified rule ever allows (it ESCALATEs instead)."""

from __future__ import annotations

import calendar
from datetime import date

from adapters import reasons
from adapters.errors import RulePackError
from adapters.rulepack import Rule, RulePack, Value
from adapters.types import Conditions, Decision, Verdict


class Decider:
    """Collects the rules a decision used; `allow`/`conditional` turn into ESCALATE if one is unverified."""

    def __init__(self, pack: RulePack) -> None:
        self.pack = pack
        self._used: dict[str, Rule] = {}
        self._basis: list[str] = []

    def rule(self, key: str) -> Rule:
        """The rule ``key``, recorded as relied on."""
        rule = self.pack.rule(key)
        self._used.setdefault(key, rule)
        return rule

    def value(self, key: str) -> Value:
        return self.rule(key).value

    def amount(self, key: str) -> int:
        """A numeric rule's value as an integer amount."""
        value = self.rule(key).value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise RulePackError(f"rule {key} of {self.pack.id} is not a number")
        return int(value)

    def strings(self, key: str) -> frozenset[str]:
        """A list-of-strings rule's values (categories, transferees, classes)."""
        value = self.rule(key).value
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise RulePackError(f"rule {key} of {self.pack.id} is not a list of strings")
        return frozenset(value)

    def date(self, key: str) -> int:
        """An ISO-date rule (``YYYY-MM-DD``) as Unix seconds at 00:00 UTC."""
        value = self.rule(key).value
        try:
            day = date.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            day = None
        if day is None:
            raise RulePackError(f"rule {key} of {self.pack.id} is not an ISO date")
        return calendar.timegm(day.timetuple())

    def meets(self, key: str, amount: int | None) -> bool:
        """Whether ``amount`` meets the threshold ``key`` (recorded as relied on)."""
        return self.rule(key).holds(amount)

    def cite(self, citation: str) -> None:
        """Adds a legal basis that is not itself a numeric rule."""
        if citation not in self._basis:
            self._basis.append(citation)

    def allow(self, *why: str) -> Decision:
        return self._answer(Verdict.ALLOW, why or (reasons.ELIGIBLE,), Conditions())

    def conditional(self, conditions: Conditions, *why: str) -> Decision:
        return self._answer(Verdict.ALLOW_CONDITIONAL, why or (reasons.CONDITIONS_APPLY,), conditions)

    def deny(self, *why: str) -> Decision:
        return self._answer(Verdict.DENY, why, Conditions())

    def escalate(self, *why: str, conditions: Conditions | None = None) -> Decision:
        """A decision for a compliance officer; ``conditions`` are those that apply if they approve."""
        return self._answer(Verdict.ESCALATE, why, conditions or Conditions())

    def unverified(self) -> list[str]:
        return [key for key, rule in self._used.items() if not rule.verified]

    def _answer(self, verdict: Verdict, why: tuple[str, ...], conditions: Conditions) -> Decision:
        unverified = self.unverified()
        if verdict.allows and unverified:
            verdict, why = Verdict.ESCALATE, (reasons.UNVERIFIED_RULE, *why)
            notes = tuple(f"unverified rule: {key}" for key in unverified)
            conditions = Conditions(conditions.lockup_until, conditions.permitted_transferees, conditions.max_value,
                                    (*conditions.notes, *notes))  # fmt: skip
        basis = [*self._basis, *(r.citation for r in self._used.values() if r.citation)]
        return Decision(
            jurisdiction=self.pack.jurisdiction,
            verdict=verdict,
            reasons=tuple(dict.fromkeys(why)),
            basis=tuple(dict.fromkeys(basis)) or (f"{self.pack.name} rule pack {self.pack.id}",),
            rule_pack_id=self.pack.id,
            rule_pack_hash=self.pack.content_hash,
            conditions=conditions,
            sources=tuple(dict.fromkeys(r.source for r in self._used.values() if r.source)),
        )
