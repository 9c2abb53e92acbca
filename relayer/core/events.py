"""The chain events the relayer, the attestors and reconciliation act on, as plain data (decoded from raw
logs by `relayer.edges.evm.logs`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LogRef:
    """Where an event happened."""

    chain_id: int
    block_number: int
    block_hash: str
    tx_hash: str
    log_index: int
    address: str


@dataclass(frozen=True)
class BridgeOut:
    """BridgeEscrow.BridgeOutRequested: units locked for a mint on ``dest_chain_id``."""

    ref: LogRef
    nonce: int
    token: str
    sender: str
    amount: int
    dest_chain_id: int
    recipient: str


@dataclass(frozen=True)
class BridgeBack:
    """BridgeGateway.BridgeBackRequested: wrapped units burned for a release on the registry."""

    ref: LogRef
    nonce: int
    token: str
    holder: str
    amount: int
    registry_recipient: str


@dataclass(frozen=True)
class WalletLinked:
    ref: LogRef
    investor: str
    chain_id: int
    wallet: str


@dataclass(frozen=True)
class WalletUnlinked:
    ref: LogRef
    investor: str
    chain_id: int
    wallet: str


@dataclass(frozen=True)
class InvestorRevoked:
    ref: LogRef
    wallet: str
    investor_id: bytes


@dataclass(frozen=True)
class AddressFrozen:
    """An agent froze or unfroze ``wallet`` on the registry token at ``ref.address``."""

    ref: LogRef
    wallet: str
    frozen: bool


@dataclass(frozen=True)
class Minted:
    """BridgeGateway.Minted: the mint of bridge-out ``source_nonce`` of ``source_chain_id``."""

    ref: LogRef
    source_chain_id: int
    source_nonce: int
    token: str
    recipient: str
    amount: int


@dataclass(frozen=True)
class Released:
    """BridgeEscrow.Released: the release of burn ``source_nonce`` on ``source_chain_id``."""

    ref: LogRef
    source_chain_id: int
    source_nonce: int
    token: str
    recipient: str
    amount: int


@dataclass(frozen=True)
class Refunded:
    """BridgeEscrow.Refunded: bridge-out ``nonce`` was returned to its sender."""

    ref: LogRef
    nonce: int
    reason: int


WatchedEvent = BridgeOut | BridgeBack | WalletLinked | WalletUnlinked | InvestorRevoked | AddressFrozen
"""The events the relayer's watchers turn into operations."""
WATCHED = (BridgeOut, BridgeBack, WalletLinked, WalletUnlinked, InvestorRevoked, AddressFrozen)
ChainEvent = WatchedEvent | Minted | Released | Refunded
