"""The chain events the relayer and the attestors act on, decoded from raw ``eth_getLogs`` entries with
eth-abi directly (the hot path: no web3 contract objects). Pure."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from eth_utils.crypto import keccak

from relayer.errors import DariError
from relayer.evm.abi import checksum_address, decode


class EventDecodeError(DariError):
    """A log claims a known event but its data does not decode."""


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
    ref: LogRef
    nonce: int
    token: str
    sender: str
    amount: int
    dest_chain_id: int
    recipient: str


@dataclass(frozen=True)
class BridgeBack:
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


ChainEvent = BridgeOut | BridgeBack | WalletLinked | WalletUnlinked | InvestorRevoked | AddressFrozen


def topic(signature: str) -> str:
    return "0x" + keccak(text=signature).hex()


BRIDGE_OUT = topic("BridgeOutRequested(uint64,address,address,uint256,uint256,address)")
BRIDGE_BACK = topic("BridgeBackRequested(uint64,address,address,uint256,address)")
WALLET_LINKED = topic("WalletLinkRequested(address,uint256,address)")
WALLET_UNLINKED = topic("WalletUnlinked(address,uint256,address)")
INVESTOR_REVOKED = topic("InvestorRevoked(address,bytes32)")
ADDRESS_FROZEN = topic("AddressFrozen(address,bool,address)")
REFUNDED = topic("Refunded(uint64,uint16)")


def _hex(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return str(value).lower() if str(value).startswith("0x") else "0x" + str(value).lower()


def _word(topic_value: str) -> bytes:
    raw = bytes.fromhex(topic_value[2:])
    if len(raw) != 32:
        raise EventDecodeError("a topic is 32 bytes")
    return raw


def _address(topic_value: str) -> str:
    return checksum_address("0x" + _word(topic_value)[12:].hex())


def _uint(topic_value: str) -> int:
    return int.from_bytes(_word(topic_value), "big")


def _data(log: Mapping[str, Any], types: list[str]) -> tuple[Any, ...]:
    try:
        return tuple(decode(types, bytes.fromhex(_hex(log["data"])[2:])))
    except Exception as exc:  # eth-abi raises several unrelated error types on short or junk data
        raise EventDecodeError(f"undecodable log data: {exc}") from None


def _bridge_out(ref: LogRef, t: list[str], log: Mapping[str, Any]) -> BridgeOut:
    amount, dest, recipient = _data(log, ["uint256", "uint256", "address"])
    return BridgeOut(ref, _uint(t[1]), _address(t[2]), _address(t[3]), amount, dest, checksum_address(recipient))


def _bridge_back(ref: LogRef, t: list[str], log: Mapping[str, Any]) -> BridgeBack:
    amount, recipient = _data(log, ["uint256", "address"])
    return BridgeBack(ref, _uint(t[1]), _address(t[2]), _address(t[3]), amount, checksum_address(recipient))


def _linked(ref: LogRef, t: list[str], _log: Mapping[str, Any]) -> WalletLinked:
    return WalletLinked(ref, _address(t[1]), _uint(t[2]), _address(t[3]))


def _unlinked(ref: LogRef, t: list[str], _log: Mapping[str, Any]) -> WalletUnlinked:
    return WalletUnlinked(ref, _address(t[1]), _uint(t[2]), _address(t[3]))


def _revoked(ref: LogRef, t: list[str], _log: Mapping[str, Any]) -> InvestorRevoked:
    return InvestorRevoked(ref, _address(t[1]), _word(t[2]))


def _frozen(ref: LogRef, t: list[str], _log: Mapping[str, Any]) -> AddressFrozen:
    return AddressFrozen(ref, _address(t[1]), _uint(t[2]) != 0)


_DECODERS: dict[str, tuple[int, Callable[[LogRef, list[str], Mapping[str, Any]], ChainEvent]]] = {
    BRIDGE_OUT: (4, _bridge_out),
    BRIDGE_BACK: (4, _bridge_back),
    WALLET_LINKED: (4, _linked),
    WALLET_UNLINKED: (4, _unlinked),
    INVESTOR_REVOKED: (3, _revoked),
    ADDRESS_FROZEN: (4, _frozen),
}


def decode_log(chain_id: int, log: Mapping[str, Any]) -> ChainEvent | None:
    """The event in a raw JSON-RPC log, None when it is not one we know; `EventDecodeError` when it
    claims a known event but is malformed. Removed (reorged) logs are the caller's to drop."""
    topics = [_hex(t) for t in log.get("topics", [])]
    if not topics or topics[0] not in _DECODERS:
        return None
    count, decoder = _DECODERS[topics[0]]
    if len(topics) != count:
        raise EventDecodeError(f"event {topics[0]} has {len(topics)} topics, expected {count}")
    try:
        ref = LogRef(
            chain_id=chain_id,
            block_number=int(_hex(log["blockNumber"]), 16),
            block_hash=_hex(log["blockHash"]),
            tx_hash=_hex(log["transactionHash"]),
            log_index=int(_hex(log["logIndex"]), 16),
            address=checksum_address(_hex(log["address"])),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise EventDecodeError(f"log without position: {exc}") from None
    return decoder(ref, topics, log)
