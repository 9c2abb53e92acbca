"""Which adapters exist: an explicit registry of built-in adapters, plus plug-ins from the entry-point
group ``dari.adapters`` loaded only when named in the configuration's allowlist (a failed load is fatal).

An adapter is a module (or object) with ``JURISDICTION: str`` and a pure
``decide(request: Request, rules: Decider) -> Decision``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from types import ModuleType
from typing import Any

from adapters.decider import Decider
from adapters.errors import AdapterLoadError, RulePackError
from adapters.rulepack import RulePack
from adapters.types import Decision, Request

ENTRY_POINT_GROUP = "dari.adapters"
DecideFn = Callable[[Request, Decider], Decision]


@dataclass(frozen=True)
class Adapter:
    jurisdiction: str
    decide: DecideFn


def _from_module(module: ModuleType | Any, origin: str) -> Adapter:
    jurisdiction = getattr(module, "JURISDICTION", None)
    decide = getattr(module, "decide", None)
    if not isinstance(jurisdiction, str) or not callable(decide):
        raise AdapterLoadError(f"{origin} is not an adapter (needs JURISDICTION and decide)")
    return Adapter(jurisdiction, decide)


def builtin_adapters() -> dict[str, Adapter]:
    """The adapters shipped with Dari, one pure module per jurisdiction."""
    from adapters.jurisdictions import ch, eu, hk, jp, kr, sg, uk, us

    modules = (kr, us, eu, sg, hk, jp, ch, uk)
    return {a.jurisdiction: a for a in (_from_module(m, m.__name__) for m in modules)}


def load_plugins(allowlist: Iterable[str]) -> dict[str, Adapter]:
    """Loads the entry points named in ``allowlist`` (and only those); any failure is fatal."""
    wanted = list(allowlist)
    available = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
    loaded: dict[str, Adapter] = {}
    for name in wanted:
        if name not in available:
            raise AdapterLoadError(f"adapter plug-in {name!r} is allowlisted but not installed ({ENTRY_POINT_GROUP})")
        try:
            target = available[name].load()
        except Exception as exc:  # any import-time failure of third-party code is fatal, with its cause
            raise AdapterLoadError(f"adapter plug-in {name!r} failed to load: {exc!r}") from exc
        adapter = _from_module(target, f"plug-in {name!r}")
        loaded[adapter.jurisdiction] = adapter
    return loaded


class Adapters:
    """Adapters bound to their rule packs; resolves a residency to the jurisdiction deciding for it."""

    def __init__(self, packs: Mapping[str, RulePack], adapters: Mapping[str, Adapter]) -> None:
        missing = sorted(set(adapters) - set(packs))
        if missing:
            raise RulePackError(f"no rule pack for adapter(s) {missing}")
        self.packs = dict(packs)
        self.adapters = dict(adapters)
        self._by_country: dict[str, str] = {}
        for code, pack in self.packs.items():
            if code not in self.adapters:
                continue
            for country in pack.countries:
                if country in self._by_country:
                    raise RulePackError(f"country {country} is claimed by {self._by_country[country]} and {code}")
                self._by_country[country] = code

    def jurisdiction_of(self, country: str) -> str | None:
        """The jurisdiction deciding for residents of ``country``, or None when no adapter covers it."""
        return self._by_country.get(country)

    def decide(self, jurisdiction: str, request: Request) -> Decision:
        adapter = self.adapters[jurisdiction]
        return adapter.decide(request, Decider(self.packs[jurisdiction]))
