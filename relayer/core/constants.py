"""Constants the contracts define, written down once: event topics, the zero address and word, status and
reason codes, and the configuration key under which each contract's address is found."""

from __future__ import annotations

from enum import IntEnum

from eth_utils.crypto import keccak


def topic(signature: str) -> str:
    """An event's topic0: the keccak-256 of its signature, 0x-hex."""
    return "0x" + keccak(text=signature).hex()


BRIDGE_OUT = topic("BridgeOutRequested(uint64,address,address,uint256,uint256,address)")
BRIDGE_BACK = topic("BridgeBackRequested(uint64,address,address,uint256,address)")
WALLET_LINKED = topic("WalletLinkRequested(address,uint256,address)")
WALLET_UNLINKED = topic("WalletUnlinked(address,uint256,address)")
INVESTOR_REVOKED = topic("InvestorRevoked(address,bytes32)")
ADDRESS_FROZEN = topic("AddressFrozen(address,bool,address)")
REFUNDED = topic("Refunded(uint64,uint16)")
MINTED = topic("Minted(uint256,uint64,address,address,uint256)")
RELEASED = topic("Released(uint256,uint64,address,address,uint256)")

ZERO_ADDRESS = "0x" + "00" * 20
ZERO32 = b"\0" * 32

MAX_CLOCK_SKEW = 300
"""Seconds a holder statement's start may run ahead of a clock (HolderRegistry.MAX_CLOCK_SKEW)."""


class EscrowStatus(IntEnum):
    """BridgeEscrow.RequestStatus."""

    NONE = 0
    PENDING = 1
    REFUNDED = 2


class RevokeReason(IntEnum):
    """HolderRevocation.reason."""

    KYC = 1  # the registry revoked the investor
    UNLINKED = 2  # the investor unlinked the wallet
    FROZEN = 3  # an agent froze the investor on a bridged security


CONTRACT_KEYS = {
    "BridgeGateway": "gateway", "HolderRegistry": "holderRegistry", "BridgeEscrow": "escrow",
    "InvestorRegistry": "investorRegistry", "WalletLinks": "walletLinks",
}  # fmt: skip
"""Compiled contract name -> the key of its address in a chain's ``contracts`` table."""
