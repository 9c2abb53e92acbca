"""The devnet's cast: demo investors with deterministic devnet-only keys."""

from __future__ import annotations

from dataclasses import dataclass

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from web3 import Web3

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
    """A demo investor: residency, class, the public chains whose wallet is linked, and whether the
    seed whitelists those wallets (the one ineligible investor's bridge-out is refunded)."""

    name: str
    country: str
    investor_class: str
    wallets: tuple[str, ...]
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
    CastMember("Minjun Kim", "KR", "professional", ("ethereum", "rollup")),
    CastMember("Alice Carter", "US", "accredited", ("ethereum",)),
    CastMember("Lena Fischer", "DE", "professional", ("ethereum", "rollup")),
    CastMember("Wei Tan", "SG", "accredited", ("rollup",)),
    CastMember("Yuki Sato", "JP", "professional", ("rollup",)),
    CastMember("Bob Miller", "US", "general", ("ethereum",), eligible=False),
)

ATTESTOR_IDS = ("att-1", "att-2", "att-3")
ATTESTOR_THRESHOLD = 2


def attestor_account(attestor_id: str) -> LocalAccount:
    """The devnet secp256k1 key of attestor ``attestor_id``."""
    return devnet_account("attestor", attestor_id)


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
