"""A whole Dari deployment on one anvil chain for contract tests: registry side and public side.

One chain hosts both sides (the gateway is told that this chain is the registry chain), so each test
starts from a fresh, cheap chain. Attestors: three secp256k1 keys, threshold two.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from web3.contract import AsyncContract
from web3.logs import DISCARD
from web3.types import TxReceipt

from attestations.eip712 import Domain, digest
from attestations.keys import Secp256k1Signer, sign_ordered
from relayer.edges.evm.artifacts import Artifacts
from relayer.edges.evm.client import ChainClient
from relayer.edges.evm.deployment import Deployer, PublicDeployment, RegistryDeployment, SecuritySpec

YEAR = 365 * 24 * 3600
EQUITY = SecuritySpec(keccak(text="KR7005930003"), "KR7005930003", "Hanbit Semiconductor", "HBS", "equity", 0)
BOND = SecuritySpec(keccak(text="KR6000001234"), "KR6000001234", "Seoul Green Bond 2029", "SGB29", "debt", 2)


def attestor_signers(tag: str = "attestor", count: int = 3) -> list[Secp256k1Signer]:
    return [Secp256k1Signer(keccak(text=f"test/{tag}/{i}")) for i in range(count)]


@dataclass
class System:
    """Deployed contracts with helpers to sign statements and set up investors and holders."""

    chain: ChainClient
    artifacts: Artifacts
    admin: LocalAccount
    attestors: list[Secp256k1Signer]
    registry: RegistryDeployment
    public: PublicDeployment
    chain_id: int

    def contract(self, name: str, address: str) -> AsyncContract:
        return self.chain.contract(self.artifacts.get(name), address)

    @property
    def gateway(self) -> AsyncContract:
        return self.contract("BridgeGateway", self.public.gateway)

    @property
    def holders(self) -> AsyncContract:
        return self.contract("HolderRegistry", self.public.holder_registry)

    @property
    def escrow(self) -> AsyncContract:
        return self.contract("BridgeEscrow", self.registry.escrow)

    @property
    def investors(self) -> AsyncContract:
        return self.contract("InvestorRegistry", self.registry.investor_registry)

    @property
    def links(self) -> AsyncContract:
        return self.contract("WalletLinks", self.registry.wallet_links)

    @property
    def public_attestors(self) -> AsyncContract:
        return self.contract("AttestorSet", self.public.attestor_set)

    def token(self, spec: SecuritySpec = EQUITY) -> AsyncContract:
        return self.contract("SecurityToken", self.registry.tokens["0x" + spec.security_id.hex()])

    def wrapped(self, spec: SecuritySpec = EQUITY) -> AsyncContract:
        return self.contract("WrappedSecurity", self.public.wrapped["0x" + spec.security_id.hex()])

    def domain(self, contract: str) -> Domain:
        return Domain(self.chain_id, contract)

    def sign(
        self,
        primary: str,
        verifying_contract: str,
        message: dict[str, Any],
        signers: list[Secp256k1Signer] | None = None,
        domain: Domain | None = None,
    ) -> list[bytes]:
        """Signatures of ``signers`` (default: the first two attestors) in the order contracts expect."""
        signed = digest(primary, domain or self.domain(verifying_contract), message)
        return sign_ordered(signed, self.attestors[:2] if signers is None else signers)

    async def now(self) -> int:
        return int((await self.chain.w3.eth.get_block("latest"))["timestamp"])

    async def advance(self, seconds: int) -> None:
        await self.chain.rpc("evm_increaseTime", [seconds])
        await self.chain.rpc("evm_mine", [])

    async def funded_account(self) -> LocalAccount:
        account: LocalAccount = Account.create()
        await self.chain.rpc("anvil_setBalance", [account.address, hex(10**20)])
        return account

    async def transact(self, fn: Any, sender: LocalAccount | None = None) -> TxReceipt:
        return await self.chain.transact(fn, sender or self.admin)

    # --- registry side -------------------------------------------------------------------------

    async def investor(self, country: int = 410, units: int = 0, spec: SecuritySpec = EQUITY) -> LocalAccount:
        """A funded, KYC-verified registry investor holding ``units`` of ``spec``."""
        account = await self.funded_account()
        investor_id = keccak(text=f"investor/{account.address}")
        expiry = await self.now() + YEAR
        await self.transact(self.investors.functions.registerInvestor(account.address, investor_id, country, 1, expiry))
        if units:
            await self.transact(self.token(spec).functions.mint(account.address, units))
        return account

    async def bridge_out(self, investor: LocalAccount, amount: int, recipient: str, spec: SecuritySpec = EQUITY) -> int:
        """Approves and bridges out; returns the request nonce."""
        token = self.token(spec)
        await self.transact(token.functions.approve(self.registry.escrow, amount), investor)
        receipt = await self.transact(
            self.escrow.functions.bridgeOut(token.address, amount, self.chain_id, recipient), investor
        )
        [event] = events(self.escrow, "BridgeOutRequested", receipt)
        return int(event["nonce"])

    # --- public side ---------------------------------------------------------------------------

    async def eligibility(self, wallet: str, **overrides: Any) -> dict[str, Any]:
        now = await self.now()
        message = {
            "holderId": keccak(text=f"holder/{wallet}"),
            "wallet": wallet,
            "chainId": self.chain_id,
            "country": 410,
            "investorClass": 1,
            "scope": b"\0" * 32,
            "rulePackHash": keccak(text="test-rule-pack"),
            "validFrom": now,
            "validUntil": now + YEAR,
        }
        message.update(overrides)
        return message

    async def register_holder(self, wallet: str | None = None, **overrides: Any) -> str:
        """Registers ``wallet`` (default: a new funded account) with an attested HolderEligibility."""
        if wallet is None:
            wallet = (await self.funded_account()).address
        message = await self.eligibility(wallet, **overrides)
        signatures = self.sign("HolderEligibility", self.public.holder_registry, message)
        await self.transact(self.holders.functions.registerHolder(message, signatures))
        return wallet

    def authorization(self, recipient: str, amount: int, nonce: int, **overrides: Any) -> dict[str, Any]:
        message = {
            "sourceChainId": self.chain_id,
            "sourceNonce": nonce,
            "securityId": EQUITY.security_id,
            "sender": self.admin.address,
            "recipient": recipient,
            "amount": amount,
            "lockedUntil": 0,
        }
        message.update(overrides)
        return message

    async def mint(self, recipient: str, amount: int, nonce: int, **overrides: Any) -> TxReceipt:
        """Mints through the gateway with a correctly attested TransferAuthorization."""
        message = self.authorization(recipient, amount, nonce, **overrides)
        signatures = self.sign("TransferAuthorization", self.public.gateway, message)
        return await self.transact(self.gateway.functions.mint(message, signatures))


def events(contract: AsyncContract, name: str, receipt: TxReceipt) -> list[dict[str, Any]]:
    """Decoded ``name`` events that ``contract`` emitted in ``receipt`` (other contracts' logs ignored)."""
    return [dict(e["args"]) for e in contract.events[name]().process_receipt(receipt, errors=DISCARD)]


async def deploy_system(chain: ChainClient, artifacts: Artifacts, admin: LocalAccount) -> System:
    chain_id = await chain.chain_id()
    attestors = attestor_signers()
    deployer = Deployer(chain, artifacts, admin)
    addresses = [a.address for a in attestors]
    registry = await deployer.registry(addresses, 2, [chain_id])
    public = await deployer.public(addresses, 2, chain_id)
    for spec in (EQUITY, BOND):
        await deployer.security_token(registry, spec)
        await deployer.wrapped_security(public, spec)
    return System(chain, artifacts, admin, attestors, registry, public, chain_id)
