"""The chains and contracts an attestor knows, from its configuration; and how a reconciliation report's
layout follows from them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from relayer.core.config import Config
from relayer.core.errors import ConfigError
from relayer.core.reconcile import GatewayRef, Layout


@dataclass(frozen=True)
class PublicChain:
    chain_id: int
    confirmations: int
    gateway: str
    holder_registry: str


@dataclass(frozen=True)
class Topology:
    """The chains and contracts an attestor knows, from the configuration."""

    registry_chain_id: int
    registry_confirmations: int
    escrow: str
    wallet_links: str
    investor_registry: str
    public: Mapping[int, PublicChain]
    registry_tokens: tuple[str, ...] = ()  # the securities' registry tokens (agent freezes)

    @classmethod
    def from_config(cls, config: Config, source: str = "<config>") -> Topology:
        """`ConfigError` listing every contract address the attestor needs and the config lacks."""
        problems: list[str] = []

        def need(contracts: Mapping[str, str], key: str, where: str) -> str:
            if key not in contracts:
                problems.append(f"{where}.contracts.{key}: required by the attestor")
                return ""
            return contracts[key]

        registry = config.registry
        escrow = need(registry.contracts, "escrow", "registry")
        links = need(registry.contracts, "walletLinks", "registry")
        investors = need(registry.contracts, "investorRegistry", "registry")
        public = {
            c.chain_id: PublicChain(
                c.chain_id,
                c.confirmations,
                need(c.contracts, "gateway", f"public[{c.name}]"),
                need(c.contracts, "holderRegistry", f"public[{c.name}]"),
            )
            for c in config.public
        }
        if problems:
            raise ConfigError(source, problems)
        tokens = tuple(s.registry_token for s in config.securities if s.registry_token)
        return cls(registry.chain_id, registry.confirmations, escrow, links, investors, public, tokens)

    def layout(self) -> Layout:
        """The reconciliation layout over these chains."""
        gateways = tuple(GatewayRef(p.chain_id, p.confirmations, p.gateway) for p in self.public.values())
        return Layout(self.registry_chain_id, self.registry_confirmations, self.escrow, gateways)
