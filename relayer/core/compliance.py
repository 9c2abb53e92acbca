"""Builds the jurisdiction adapters, sanctions list and securities from the relayer's configuration."""

from __future__ import annotations

from adapters.registry import Adapters, builtin_adapters, load_plugins
from adapters.rulepack import DEFAULT_DIRECTORY, load_packs
from adapters.sanctions import SanctionsList
from adapters.types import AssetClass, OfferingFlag, Security
from relayer.core.config import Config, SecurityConfig
from relayer.core.errors import ConfigError


def load_adapters(config: Config) -> Adapters:
    """Built-in adapters plus allowlisted plug-ins, bound to the configured rule packs."""
    packs = load_packs(config.adapters.rules_dir or DEFAULT_DIRECTORY)
    adapters = {**builtin_adapters(), **load_plugins(config.adapters.plugins)}
    return Adapters(packs, adapters)


def load_sanctions(config: Config) -> SanctionsList | None:
    path = config.adapters.sanctions_list
    return None if path is None else SanctionsList.load(path)


def to_security(entry: SecurityConfig) -> Security:
    return Security(
        security_id=entry.id.lower(),
        isin=entry.isin,
        asset_class=AssetClass(entry.asset_class),
        issuer_country=entry.issuer_country,
        issuer_sec_reporting=entry.issuer_sec_reporting,
        flags=frozenset(OfferingFlag(f) for f in entry.flags),
    )


def find_security(config: Config, key: str) -> SecurityConfig:
    """The configured security whose id, ISIN or registry token is ``key``."""
    for entry in config.securities:
        if key.lower() in (entry.id.lower(), entry.isin.lower(), (entry.registry_token or "").lower()):
            return entry
    raise ConfigError("securities", [f"no configured security {key!r}"])
