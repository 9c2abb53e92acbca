"""Rule packs: versioned data files (``config/jurisdictions/<CC>.toml``) holding a jurisdiction's
numbers, categories and citations, so counsel changes a number without a code change.

```toml
jurisdiction = "SG"            # the pack's code
version = "2026.11"            # bumped on every change
name = "Singapore"
currency = "SGD"               # currency of every amount rule
countries = ["SG"]             # residencies this pack decides for

[rules.accredited_net_personal_assets]
value = 2000000                # a number, string, boolean or list
op = ">"                       # for thresholds: how the holder's amount must compare (>, >=, <, <=)
citation = "SFA s4A(1)(a)(i)(A)"
source = "Securities and Futures Act 2001 s4A (sso.agc.gov.sg), opt-in regime since 2019-01-08"
verified = true                # false: no primary source; a decision resting on it ESCALATEs
```
The content hash is SHA-256 over the canonical JSON of the parsed pack (sorted keys, no spaces).
"""

from __future__ import annotations

import hashlib
import json
import operator
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adapters.errors import RulePackError

DEFAULT_DIRECTORY = Path(__file__).resolve().parent.parent / "config" / "jurisdictions"
OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le,
}  # fmt: skip
_RULE_KEYS = {"value", "op", "citation", "source", "verified"}
_KEY = re.compile(r"^[a-z][a-z0-9_]*$")

Value = int | float | str | bool | list[Any]


@dataclass(frozen=True)
class Rule:
    """One rule: its value, comparison (for thresholds), legal citation, source and verification."""

    key: str
    value: Value
    citation: str
    source: str
    verified: bool
    op: str | None = None

    def holds(self, amount: int | None) -> bool:
        """Whether ``amount`` meets this threshold (``amount op value``); None (not evidenced) never does."""
        if self.op is None:
            raise RulePackError(f"rule {self.key} is not a threshold (no op)")
        return amount is not None and OPERATORS[self.op](amount, self.value)


@dataclass(frozen=True)
class RulePack:
    jurisdiction: str
    version: str
    name: str
    currency: str
    countries: frozenset[str]
    rules: Mapping[str, Rule]
    content_hash: str  # 0x-hex SHA-256 of the canonical JSON

    @property
    def id(self) -> str:
        return f"{self.jurisdiction}@{self.version}"

    def rule(self, key: str) -> Rule:
        try:
            return self.rules[key]
        except KeyError:
            raise RulePackError(f"rule pack {self.id} has no rule {key!r}") from None


def canonical_json(document: Any) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def parse_pack(document: Any, source: str = "<rule pack>") -> RulePack:
    """Validates a parsed pack; `RulePackError` lists every problem with its key."""
    problems: list[str] = []
    if not isinstance(document, dict):
        raise RulePackError(f"{source}: a rule pack is a table")
    for key, kind in (
        ("jurisdiction", str),
        ("version", str),
        ("name", str),
        ("currency", str),
        ("countries", list),
        ("rules", dict),
    ):
        if not isinstance(document.get(key), kind):
            problems.append(f"{key}: missing or not a {kind.__name__}")
    extra = set(document) - {"jurisdiction", "version", "name", "currency", "countries", "rules"}
    if extra:
        problems.append(f"unexpected keys {sorted(extra)}")
    if problems:
        raise RulePackError(f"{source}: " + "; ".join(problems))
    rules: dict[str, Rule] = {}
    for key, raw in document["rules"].items():
        if (
            not _KEY.match(key)
            or not isinstance(raw, dict)
            or not {"value", "citation", "source", "verified"} <= set(raw) <= _RULE_KEYS
        ):
            problems.append(f"rules.{key}: needs value, citation, source, verified (and op for thresholds)")
            continue
        if (
            not isinstance(raw["citation"], str)
            or not isinstance(raw["source"], str)
            or not isinstance(raw["verified"], bool)
        ):
            problems.append(f"rules.{key}: citation and source are strings, verified a boolean")
            continue
        if raw["verified"] and not (raw["citation"].strip() and raw["source"].strip()):
            problems.append(f"rules.{key}: a verified rule names its citation and source")
            continue
        op = raw.get("op")
        if op is not None and (
            op not in OPERATORS or isinstance(raw["value"], bool) or not isinstance(raw["value"], int | float)
        ):
            problems.append(f"rules.{key}: op must be one of {sorted(OPERATORS)} over a number")
            continue
        rules[key] = Rule(key, raw["value"], raw["citation"], raw["source"], raw["verified"], op)
    countries = document["countries"]
    if not countries or not all(isinstance(c, str) and re.match(r"^[A-Z]{2}$", c) for c in countries):
        problems.append("countries: a non-empty list of ISO alpha-2 codes")
    if problems:
        raise RulePackError(f"{source}: " + "; ".join(problems))
    digest = "0x" + hashlib.sha256(canonical_json(document)).hexdigest()
    return RulePack(
        document["jurisdiction"], document["version"], document["name"], document["currency"],
        frozenset(countries), rules, digest,
    )  # fmt: skip


def load_pack(path: Path) -> RulePack:
    try:
        document = tomllib.loads(path.read_text())
    except OSError as exc:
        raise RulePackError(f"{path}: cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise RulePackError(f"{path}: not valid TOML: {exc}") from None
    return parse_pack(document, str(path))


def load_packs(directory: Path = DEFAULT_DIRECTORY) -> dict[str, RulePack]:
    """Every ``<CC>.toml`` in ``directory`` by jurisdiction code (the file name must match the code)."""
    packs: dict[str, RulePack] = {}
    for path in sorted(directory.glob("*.toml")):
        pack = load_pack(path)
        if pack.jurisdiction != path.stem:
            raise RulePackError(f"{path}: declares jurisdiction {pack.jurisdiction}, file is named {path.stem}")
        packs[pack.jurisdiction] = pack
    if not packs:
        raise RulePackError(f"no rule packs in {directory}")
    return packs
