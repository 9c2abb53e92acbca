"""Builders of adapter requests for table-driven tests: everything defaults to a plausible value."""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import replace
from typing import Any

from adapters.decider import Decider
from adapters.rulepack import DEFAULT_DIRECTORY, RulePack, load_pack, parse_pack
from adapters.types import (
    AssetClass,
    Context,
    Evidence,
    Holder,
    HolderKind,
    OfferingFlag,
    Request,
    Screening,
    Security,
)

NOW = 1_790_000_000  # 2026-09-21
DAY = 86_400


def pack(code: str) -> RulePack:
    """The shipped rule pack of ``code``."""
    return load_pack(DEFAULT_DIRECTORY / f"{code}.toml")


def pack_with(code: str, **rules: dict[str, Any]) -> RulePack:
    """The shipped pack of ``code`` with some rules' fields replaced (e.g. ``verified=False``)."""
    document = tomllib.loads((DEFAULT_DIRECTORY / f"{code}.toml").read_text())
    for key, fields in rules.items():
        document["rules"][key] = {**document["rules"][key], **fields}
    return parse_pack(document, f"{code} (modified)")


def security(asset_class: AssetClass = AssetClass.EQUITY, *flags: OfferingFlag, reporting: bool = False) -> Security:
    isin = {"equity": "KR7005930003", "debt": "KR6000001234"}.get(asset_class.value, "KRZ500000017")
    return Security(
        security_id="0x" + hashlib.sha256(isin.encode()).hexdigest(),
        isin=isin,
        asset_class=asset_class,
        issuer_country="KR",
        issuer_sec_reporting=reporting,
        flags=frozenset(flags),
    )


def holder(
    residency: str,
    currency: str,
    kind: HolderKind = HolderKind.NATURAL_PERSON,
    *,
    us_person: bool = False,
    sanctions: Screening = Screening.CLEAR,
    **evidence: Any,
) -> Holder:
    return Holder(
        holder_id="0x" + hashlib.sha256(f"{residency}/{evidence}".encode()).hexdigest(),
        wallet="0x" + "ab" * 20,
        residency=residency,
        kind=kind,
        evidence=Evidence(currency=currency, **evidence),
        us_person=us_person,
        sanctions=sanctions,
    )


def context(**overrides: Any) -> Context:
    base = Context(now=NOW, amount=100)
    return replace(base, **overrides)


def request(sec: Security, hold: Holder, ctx: Context | None = None) -> Request:
    return Request(sec, hold, ctx or context())


def decider(code: str, rule_pack: RulePack | None = None) -> Decider:
    return Decider(rule_pack or pack(code))
