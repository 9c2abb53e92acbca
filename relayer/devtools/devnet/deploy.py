"""Deploys the bridge on a fresh devnet and seeds it: securities issued to the cast, each investor's KYC
claim (signed by the devnet's KYC provider) anchored in the InvestorRegistry, wallets linked, eligible wallets
whitelisted on the public chains with attestor-signed HolderEligibility statements."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from dataclasses import dataclass

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from web3.contract import AsyncContract

from attestations.attestation import Attestation
from attestations.eip712 import Domain, digest
from attestations.keys import Secp256k1Signer, sign_ordered
from relayer.devtools.devnet.cast import (
    ATTESTOR_IDS,
    ATTESTOR_THRESHOLD,
    CAST,
    COUNTRY_NUMERIC,
    DEPLOYER_KEY,
    INVESTOR_CLASSES,
    SECURITIES,
    CastMember,
    DevnetSecurity,
    attestor_account,
    attestor_key,
    devnet_account,
    key_hex,
    kyc_claim,
)
from relayer.devtools.devnet.manifest import ChainEntry, InvestorEntry, Manifest, SecurityEntry, WalletEntry
from relayer.edges.evm.artifacts import load_artifacts
from relayer.edges.evm.client import ChainClient, RevertDecoder
from relayer.edges.evm.deployment import Deployer, PublicDeployment, RegistryDeployment, SecuritySpec

KYC_VALIDITY_SECONDS = 365 * 24 * 3600
LINK_PROOF_VALIDITY_SECONDS = 24 * 3600
WALLET_FUNDING_WEI = 10 * 10**18
RELAYER_FUNDING_WEI = 10_000 * 10**18
# The seed is not an adapter decision: its eligibility statements carry this marker as rule-pack hash.
SEED_RULE_PACK_HASH = keccak(text="dari-devnet/seed")


@dataclass(frozen=True)
class RunningChain:
    """A started chain: its name, chain id and RPC URL."""

    name: str
    chain_id: int
    rpc_url: str


def _spec(security: DevnetSecurity) -> SecuritySpec:
    return SecuritySpec(
        security.security_id, security.isin, security.name, security.symbol, security.asset_class, security.decimals
    )


def _attestor_signers() -> list[Secp256k1Signer]:
    return [attestor_key(a).secp256k1 for a in ATTESTOR_IDS]


@dataclass(frozen=True)
class Seeded:
    """What the seed made: the manifest (without apiUrl) and the cast's KYC claims, as anchored."""

    manifest: Manifest
    claims: list[Attestation]


async def deploy_and_seed(registry: RunningChain, public: list[RunningChain]) -> Seeded:
    """Deploys every contract, seeds the cast and returns the manifest and the claims."""
    artifacts = load_artifacts()
    decoder = RevertDecoder.from_artifacts(artifacts)
    admin: LocalAccount = Account.from_key(DEPLOYER_KEY)
    attestors: list[str] = [attestor_account(a).address for a in ATTESTOR_IDS]
    async with AsyncExitStack() as stack:
        reg = await stack.enter_async_context(ChainClient(registry.rpc_url, decoder))
        clients = [await stack.enter_async_context(ChainClient(c.rpc_url, decoder)) for c in public]
        (registry_side, claims), public_sides = await asyncio.gather(
            _seed_registry(Deployer(reg, artifacts, admin), attestors, [c.chain_id for c in public], public),
            asyncio.gather(
                *(
                    _seed_public(Deployer(client, artifacts, admin), attestors, registry.chain_id, chain)
                    for client, chain in zip(clients, public, strict=True)
                )
            ),
        )
    return Seeded(_manifest(registry, public, registry_side, list(public_sides)), claims)


async def _seed_registry(
    deployer: Deployer, attestors: list[str], destinations: list[int], public: list[RunningChain]
) -> tuple[RegistryDeployment, list[Attestation]]:
    client, artifacts, admin = deployer.client, deployer.artifacts, deployer.admin
    deployment = await deployer.registry(attestors, ATTESTOR_THRESHOLD, destinations)
    investors = client.contract(artifacts.get("InvestorRegistry"), deployment.investor_registry)
    now = int((await client.w3.eth.get_block("latest"))["timestamp"])
    registry_chain_id = await client.chain_id()
    claims_domain = Domain(registry_chain_id, deployment.investor_registry)
    claims = []
    for member in CAST:
        await client.transact(
            investors.functions.registerInvestor(
                member.registry_account().address,
                member.investor_id,
                COUNTRY_NUMERIC[member.country],
                INVESTOR_CLASSES[member.investor_class],
                now + KYC_VALIDITY_SECONDS,
            ),
            admin,
        )
        claim = kyc_claim(member, claims_domain, now, now + KYC_VALIDITY_SECONDS)
        await client.transact(investors.functions.anchorClaim(member.investor_id, claim.digest, 1), admin)
        claims.append(claim)
    for security in SECURITIES:
        token = client.contract(
            artifacts.get("SecurityToken"), await deployer.security_token(deployment, _spec(security))
        )
        for member in CAST:
            await client.transact(
                token.functions.mint(member.registry_account().address, security.units_per_investor), admin
            )
    links = client.contract(artifacts.get("WalletLinks"), deployment.wallet_links)
    chain_ids = {c.name: c.chain_id for c in public}
    for member in CAST:
        for chain in member.wallets:
            await _link(client, links, member, chain_ids[chain], chain, registry_chain_id, now)
    return deployment, claims


async def _link(
    client: ChainClient,
    links: AsyncContract,
    member: CastMember,
    chain_id: int,
    chain: str,
    registry_chain_id: int,
    now: int,
) -> None:
    """The investor links its wallet on ``chain`` with the wallet's EIP-712 proof of control."""
    investor, wallet = member.registry_account(), member.wallet_account(chain)
    deadline = now + LINK_PROOF_VALIDITY_SECONDS
    message = {"investor": investor.address, "chainId": chain_id, "wallet": wallet.address, "deadline": deadline}
    proof = Secp256k1Signer(wallet.key).sign(digest("WalletLink", Domain(registry_chain_id, links.address), message))
    await client.transact(links.functions.requestLink(chain_id, wallet.address, deadline, proof), investor)


async def _seed_public(
    deployer: Deployer, attestors: list[str], registry_chain_id: int, chain: RunningChain
) -> PublicDeployment:
    client, artifacts, admin = deployer.client, deployer.artifacts, deployer.admin
    deployment = await deployer.public(attestors, ATTESTOR_THRESHOLD, registry_chain_id)
    gateway = client.contract(artifacts.get("BridgeGateway"), deployment.gateway)
    pauser = await client.call(gateway.functions.PAUSER_ROLE())  # the relayer pauses minting on drift
    await client.transact(gateway.functions.grantRole(pauser, devnet_account("relayer").address), admin)
    for security in SECURITIES:
        await deployer.wrapped_security(deployment, _spec(security))
    holders = client.contract(artifacts.get("HolderRegistry"), deployment.holder_registry)
    domain = Domain(chain.chain_id, deployment.holder_registry)
    signers = _attestor_signers()[:ATTESTOR_THRESHOLD]
    now = int((await client.w3.eth.get_block("latest"))["timestamp"])
    await client.rpc("anvil_setBalance", [devnet_account("relayer").address, hex(RELAYER_FUNDING_WEI)])
    for member in CAST:
        if chain.name in member.wallets:
            await client.rpc("anvil_setBalance", [member.wallet_account(chain.name).address, hex(WALLET_FUNDING_WEI)])
        if chain.name not in member.wallets or not member.eligible:
            continue
        message = {
            "holderId": member.investor_id,
            "wallet": member.wallet_account(chain.name).address,
            "chainId": chain.chain_id,
            "country": COUNTRY_NUMERIC[member.country],
            "investorClass": INVESTOR_CLASSES[member.investor_class],
            "scope": b"\0" * 32,
            "rulePackHash": SEED_RULE_PACK_HASH,
            "validFrom": now,
            "validUntil": now + KYC_VALIDITY_SECONDS,
        }
        signatures = sign_ordered(digest("HolderEligibility", domain, message), signers)
        await client.transact(holders.functions.registerHolder(message, signatures), admin)
    return deployment


def _manifest(
    registry: RunningChain,
    public: list[RunningChain],
    registry_side: RegistryDeployment,
    public_sides: list[PublicDeployment],
) -> Manifest:
    securities = [
        SecurityEntry(
            id="0x" + s.security_id.hex(),
            isin=s.isin,
            name=s.name,
            asset_class=s.asset_class,
            registry_token=registry_side.tokens["0x" + s.security_id.hex()],
            wrapped={
                str(c.chain_id): d.wrapped["0x" + s.security_id.hex()]
                for c, d in zip(public, public_sides, strict=True)
            },
        )
        for s in SECURITIES
    ]
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
                    linked=True,
                    eligible=member.eligible,
                )
                for chain in public
                if chain.name in member.wallets
            },
        )
        for member in CAST
    ]
    return Manifest(
        registry=ChainEntry(registry.name, registry.chain_id, registry.rpc_url, registry_side.addresses()),
        public=[
            ChainEntry(c.name, c.chain_id, c.rpc_url, d.addresses()) for c, d in zip(public, public_sides, strict=True)
        ],
        securities=securities,
        investors=investors,
        api_url=None,
    )
