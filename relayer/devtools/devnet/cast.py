"""The devnet's cast: demo investors with deterministic devnet-only keys."""

from __future__ import annotations

import json
from dataclasses import dataclass

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from web3 import Web3

from attestations.attestation import Attestation
from attestations.eip712 import Domain
from attestations.keys import Ed25519Signer, Secp256k1Signer
from attestations.kinds import KycClaim
from attestations.signing import AttestorKey, attest

# ISO 3166-1 alpha-2 -> numeric, for the countries the cast and the adapters use.
COUNTRY_NUMERIC = {
    "KR": 410, "US": 840, "DE": 276, "FR": 250, "SG": 702, "HK": 344, "JP": 392, "CH": 756, "GB": 826,
}  # fmt: skip

# Investor class codes stored in InvestorRegistry / HolderRegistry.
INVESTOR_CLASSES = {"general": 0, "professional": 1, "accredited": 2, "institutional": 3}

# The well-known first anvil account: deployer and agent of every devnet contract.
DEPLOYER_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


def devnet_account(*purpose: str) -> LocalAccount:
    """A deterministic devnet-only account for ``purpose`` (never use outside a devnet)."""
    account: LocalAccount = Account.from_key(keccak(text="dari-devnet/" + "/".join(purpose)))
    return account


@dataclass(frozen=True)
class CastMember:
    """A demo investor: residency, class, the public chains whose wallet is linked, whether the seed
    whitelists those wallets (the one ineligible investor's bridge-out is refunded), and the KYC
    evidence the adapters read (amounts in the residency's currency)."""

    name: str
    country: str
    investor_class: str
    wallets: tuple[str, ...]
    evidence: dict[str, object]
    eligible: bool = True

    @property
    def investor_id(self) -> bytes:
        """Pseudonymous investor id: a hash, never personal data."""
        return keccak(text=f"dari-devnet/investor-id/{self.name}")

    def registry_account(self) -> LocalAccount:
        return devnet_account(self.name, "registry")

    def wallet_account(self, chain: str) -> LocalAccount:
        return devnet_account(self.name, "wallet", chain)


def key_hex(account: LocalAccount) -> str:
    """The 0x-hex private key of a devnet account (for the manifest and key files)."""
    return Web3.to_hex(account.key)


CAST = (
    CastMember("Minjun Kim", "KR", "professional", ("ethereum", "rollup"), {
        "currency": "KRW", "investment_balance": 80_000_000, "investment_holding_years": 3,
        "income": 150_000_000, "net_worth": 900_000_000}),
    CastMember("Alice Carter", "US", "accredited", ("ethereum",), {
        "currency": "USD", "net_worth": 2_500_000, "income": 350_000}),
    CastMember("Lena Fischer", "DE", "professional", ("ethereum", "rollup"), {
        "currency": "EUR", "opted_in": True, "trades_per_quarter": 12, "portfolio": 800_000, "experience_years": 3}),
    CastMember("Wei Tan", "SG", "accredited", ("rollup",), {
        "currency": "SGD", "opted_in": True, "income": 450_000, "net_worth": 3_000_000}),
    CastMember("Yuki Sato", "JP", "professional", ("rollup",), {
        "currency": "JPY", "opted_in": True, "net_worth": 600_000_000, "financial_assets": 550_000_000,
        "experience_years": 5}),
    CastMember("Bob Miller", "US", "general", ("ethereum",), {
        "currency": "USD", "net_worth": 150_000, "income": 60_000}, eligible=False),
)  # fmt: skip


def kyc_record(member: CastMember) -> dict[str, object]:
    """The member's KYC record: what the devnet's KYC provider attests in the member's claim."""
    return {
        "name": member.name,
        "residency": member.country,
        "kind": "natural-person",
        "usPerson": member.country == "US",
        "sanctions": "clear",
        "evidence": member.evidence,
    }


CLAIM_ISSUER_ID = "kyc-provider-1"
OFFICER_ID = "officer-1"


def claim_issuer_key() -> AttestorKey:
    """The devnet KYC provider's key pair (it signs the cast's claims)."""
    return attestor_key(CLAIM_ISSUER_ID)


def officer_key() -> AttestorKey:
    """The devnet compliance officer's key pair."""
    return attestor_key(OFFICER_ID)


def kyc_claim(member: CastMember, domain: Domain, issued_at: int, expires_at: int, sequence: int = 1) -> Attestation:
    """The member's KYC claim, signed by the devnet's KYC provider under ``domain`` (the registry's
    InvestorRegistry, which anchors it)."""
    record = kyc_record(member)
    claim = KycClaim(
        member.investor_id, sequence, member.country, str(record["kind"]), bool(record["usPerson"]),
        str(record["sanctions"]),
        json.dumps(member.evidence, sort_keys=True, separators=(",", ":"), ensure_ascii=False),
        issued_at, expires_at,
    )  # fmt: skip
    return attest(claim, domain, [claim_issuer_key()])


ATTESTOR_IDS = ("att-1", "att-2", "att-3")
ATTESTOR_THRESHOLD = 2


def attestor_account(attestor_id: str) -> LocalAccount:
    """The devnet secp256k1 key of attestor ``attestor_id``."""
    return devnet_account("attestor", attestor_id)


def attestor_key(attestor_id: str) -> AttestorKey:
    """The devnet key pair (ed25519 + secp256k1) of attestor ``attestor_id``."""
    return AttestorKey(
        attestor_id,
        Ed25519Signer(keccak(text=f"dari-devnet/attestor/{attestor_id}/ed25519")),
        Secp256k1Signer(bytes(attestor_account(attestor_id).key)),
    )


@dataclass(frozen=True)
class DevnetSecurity:
    """A security the devnet issues, with the units every investor receives."""

    isin: str
    name: str
    symbol: str
    asset_class: str
    decimals: int
    units_per_investor: int
    flags: tuple[str, ...] = ()

    @property
    def security_id(self) -> bytes:
        return keccak(text=f"dari/security/{self.isin}")


SECURITIES = (
    DevnetSecurity("KR7005930003", "Hanbit Semiconductor common share", "HBS", "equity", 0, 1_000, ("public-offer",)),
    DevnetSecurity("KR6000001234", "Seoul Green Bond 2029", "SGB29", "debt", 2, 5_000_00),
    DevnetSecurity(
        "KRZ500000017", "Han River Real Estate Trust beneficiary certificate", "HRT", "real-estate-trust", 0, 200
    ),
)
