"""Deploys the bridge's contracts and wires them together (used by the devnet and by tests)."""

from __future__ import annotations

from dataclasses import dataclass, field

from eth_account.signers.local import LocalAccount

from relayer.edges.evm.artifacts import Artifacts
from relayer.edges.evm.client import ChainClient


@dataclass(frozen=True)
class SecuritySpec:
    """One security: its id (bytes32), ISIN, names, asset class and decimals."""

    security_id: bytes
    isin: str
    name: str
    symbol: str
    asset_class: str
    decimals: int


@dataclass
class RegistryDeployment:
    """Registry-chain contracts; ``tokens`` maps 0x-hex security id to SecurityToken address."""

    investor_registry: str
    wallet_links: str
    attestor_set: str
    escrow: str
    tokens: dict[str, str] = field(default_factory=dict)

    def addresses(self) -> dict[str, str]:
        return {
            "investorRegistry": self.investor_registry,
            "walletLinks": self.wallet_links,
            "attestorSet": self.attestor_set,
            "escrow": self.escrow,
        }


@dataclass
class PublicDeployment:
    """Public-chain contracts; ``wrapped`` maps 0x-hex security id to WrappedSecurity address."""

    attestor_set: str
    holder_registry: str
    gateway: str
    wrapped: dict[str, str] = field(default_factory=dict)

    def addresses(self) -> dict[str, str]:
        return {"attestorSet": self.attestor_set, "holderRegistry": self.holder_registry, "gateway": self.gateway}


def ordered(addresses: list[str]) -> list[str]:
    """Attestor addresses in the strictly increasing order the AttestorSet requires."""
    return sorted(addresses, key=lambda a: int(a, 16))


class Deployer:
    """Deploys with one admin account, which keeps the admin, agent and pauser roles."""

    def __init__(self, client: ChainClient, artifacts: Artifacts, admin: LocalAccount) -> None:
        self.client = client
        self.artifacts = artifacts
        self.admin = admin

    async def _deploy(self, name: str, *args: object) -> str:
        return await self.client.deploy(self.artifacts.get(name), self.admin, *args)

    async def _call(self, name: str, address: str, function: str, *args: object) -> None:
        contract = self.client.contract(self.artifacts.get(name), address)
        await self.client.transact(contract.functions[function](*args), self.admin)

    async def registry(self, attestors: list[str], threshold: int, destinations: list[int]) -> RegistryDeployment:
        """InvestorRegistry, WalletLinks, AttestorSet and BridgeEscrow open to ``destinations``."""
        investor_registry = await self._deploy("InvestorRegistry", self.admin.address)
        wallet_links = await self._deploy("WalletLinks", investor_registry)
        attestor_set = await self._deploy("AttestorSet", ordered(attestors), threshold)
        escrow = await self._deploy("BridgeEscrow", attestor_set, self.admin.address)
        for chain_id in destinations:
            await self._call("BridgeEscrow", escrow, "setDestination", chain_id, True)
        return RegistryDeployment(investor_registry, wallet_links, attestor_set, escrow)

    async def public(self, attestors: list[str], threshold: int, registry_chain_id: int) -> PublicDeployment:
        """AttestorSet, HolderRegistry and BridgeGateway accepting bridge-outs of ``registry_chain_id``."""
        attestor_set = await self._deploy("AttestorSet", ordered(attestors), threshold)
        holder_registry = await self._deploy("HolderRegistry", attestor_set)
        gateway = await self._deploy("BridgeGateway", attestor_set, registry_chain_id, self.admin.address)
        return PublicDeployment(attestor_set, holder_registry, gateway)

    async def security_token(self, registry: RegistryDeployment, spec: SecuritySpec) -> str:
        """A SecurityToken for ``spec``, with the escrow allowed to hold it and listed on the escrow."""
        token = await self._deploy(
            "SecurityToken",
            spec.name,
            spec.symbol,
            spec.decimals,
            spec.security_id,
            registry.investor_registry,
            self.admin.address,
        )
        await self._call("SecurityToken", token, "setEscrow", registry.escrow)
        await self._call("BridgeEscrow", registry.escrow, "listSecurity", token)
        registry.tokens["0x" + spec.security_id.hex()] = token
        return token

    async def wrapped_security(self, public: PublicDeployment, spec: SecuritySpec) -> str:
        """A WrappedSecurity for ``spec`` minted only by the gateway, registered on it."""
        token = await self._deploy(
            "WrappedSecurity",
            f"Wrapped {spec.name}",
            f"w{spec.symbol}",
            spec.decimals,
            spec.security_id,
            public.holder_registry,
            self.admin.address,
        )
        minter = self.client.contract(self.artifacts.get("WrappedSecurity"), token)
        role = await self.client.call(minter.functions.MINTER_ROLE())
        await self._call("WrappedSecurity", token, "grantRole", role, public.gateway)
        await self._call("BridgeGateway", public.gateway, "registerSecurity", token)
        public.wrapped["0x" + spec.security_id.hex()] = token
        return token
