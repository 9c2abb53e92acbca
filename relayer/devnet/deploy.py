"""Deploys the project's contracts on a fresh devnet and seeds the demo cast."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from dataclasses import dataclass

from eth_account import Account
from eth_account.signers.local import LocalAccount

from relayer.devnet.cast import CAST, COUNTRY_NUMERIC, DEPLOYER_KEY, INVESTOR_CLASSES, key_hex
from relayer.devnet.manifest import ChainEntry, InvestorEntry, Manifest, WalletEntry
from relayer.evm.artifacts import load_artifacts
from relayer.evm.client import ChainClient, RevertDecoder

KYC_VALIDITY_SECONDS = 365 * 24 * 3600
WALLET_FUNDING_WEI = 10 * 10**18


@dataclass(frozen=True)
class RunningChain:
    """A started chain: its name, chain id and RPC URL."""

    name: str
    chain_id: int
    rpc_url: str


async def deploy_and_seed(registry: RunningChain, public: list[RunningChain]) -> Manifest:
    """Deploys every contract that exists, seeds the cast and returns the manifest (without apiUrl)."""
    decoder = RevertDecoder.from_artifacts(load_artifacts())
    deployer = Account.from_key(DEPLOYER_KEY)
    async with AsyncExitStack() as stack:
        reg = await stack.enter_async_context(ChainClient(registry.rpc_url, decoder))
        clients = {c.name: await stack.enter_async_context(ChainClient(c.rpc_url, decoder)) for c in public}
        contracts = await _deploy_registry(reg, deployer)
        await _fund_wallets(clients)
    return _manifest(registry, public, contracts)


async def _deploy_registry(reg: ChainClient, deployer: LocalAccount) -> dict[str, str]:
    artifacts = load_artifacts()
    investor_registry = await reg.deploy(artifacts.get("InvestorRegistry"), deployer, deployer.address)
    registry_contract = reg.contract(artifacts.get("InvestorRegistry"), investor_registry)
    latest = await reg.w3.eth.get_block("latest")
    expiry = int(latest["timestamp"]) + KYC_VALIDITY_SECONDS
    for member in CAST:
        await reg.transact(
            registry_contract.functions.registerInvestor(
                member.registry_account().address,
                member.investor_id,
                COUNTRY_NUMERIC[member.country],
                INVESTOR_CLASSES[member.investor_class],
                expiry,
            ),
            deployer,
        )
    return {"investorRegistry": investor_registry}


async def _fund_wallets(clients: dict[str, ChainClient]) -> None:
    """Gives every cast wallet gas money on its public chains."""
    await asyncio.gather(
        *(
            clients[chain].rpc("anvil_setBalance", [member.wallet_account(chain).address, hex(WALLET_FUNDING_WEI)])
            for member in CAST
            for chain in member.wallets
            if chain in clients
        )
    )


def _manifest(registry: RunningChain, public: list[RunningChain], contracts: dict[str, str]) -> Manifest:
    investors = [
        InvestorEntry(
            name=member.name,
            country=member.country,
            investor_class=member.investor_class,
            registry_address=member.registry_account().address,
            registry_key=key_hex(member.registry_account()),
            wallets={
                str(chain.chain_id): WalletEntry(
                    address=member.wallet_account(chain.name).address,
                    key=key_hex(member.wallet_account(chain.name)),
                    linked=False,
                )
                for chain in public
                if chain.name in member.wallets
            },
        )
        for member in CAST
    ]
    return Manifest(
        registry=ChainEntry(registry.name, registry.chain_id, registry.rpc_url, contracts),
        public=[ChainEntry(c.name, c.chain_id, c.rpc_url, {}) for c in public],
        securities=[],
        investors=investors,
        api_url=None,
    )
