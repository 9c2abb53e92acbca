"""Log decoding in one place: raw ``eth_getLogs`` entries into the core's events (`relayer.core.events`),
with the word-by-word ABI codec directly (the hot path: no web3 contract objects). Pure."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from relayer.core.constants import (
    ADDRESS_FROZEN,
    BRIDGE_BACK,
    BRIDGE_OUT,
    INVESTOR_REVOKED,
    MINTED,
    REFUNDED,
    RELEASED,
    WALLET_LINKED,
    WALLET_UNLINKED,
)
from relayer.core.errors import DariError, Failure
from relayer.core.events import (
    AddressFrozen,
    BridgeBack,
    BridgeOut,
    ChainEvent,
    InvestorRevoked,
    LogRef,
    Minted,
    Refunded,
    Released,
    WalletLinked,
    WalletUnlinked,
)
from relayer.edges.evm.abi import checksum_address, decode

E = TypeVar("E", BridgeOut, BridgeBack, WalletLinked, WalletUnlinked, InvestorRevoked, AddressFrozen, Minted, Released,
              Refunded)  # fmt: skip


class EventDecodeError(DariError):
    """A log claims a known event but its data does not decode. Fatal where a watched contract emitted it:
    the cursor does not move past it until an operator looks."""

    failure = Failure.FATAL


def uint_topic(value: int) -> str:
    """An indexed uint as a topic to filter by."""
    return "0x" + value.to_bytes(32, "big").hex()


def address_topic(address: str) -> str:
    """An indexed address as a topic to filter by."""
    return "0x" + bytes.fromhex(address[2:]).rjust(32, b"\0").hex()


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
        return tuple(decode(types, bytes.fromhex(_hex(log.get("data", "0x"))[2:])))
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


def _minted(ref: LogRef, t: list[str], log: Mapping[str, Any]) -> Minted:
    recipient, amount = _data(log, ["address", "uint256"])
    return Minted(ref, _uint(t[1]), _uint(t[2]), _address(t[3]), checksum_address(recipient), amount)


def _released(ref: LogRef, t: list[str], log: Mapping[str, Any]) -> Released:
    recipient, amount = _data(log, ["address", "uint256"])
    return Released(ref, _uint(t[1]), _uint(t[2]), _address(t[3]), checksum_address(recipient), amount)


def _refunded(ref: LogRef, t: list[str], log: Mapping[str, Any]) -> Refunded:
    (reason,) = _data(log, ["uint16"])
    return Refunded(ref, _uint(t[1]), reason)


_DECODERS: dict[str, tuple[int, Callable[[LogRef, list[str], Mapping[str, Any]], ChainEvent]]] = {
    BRIDGE_OUT: (4, _bridge_out),
    BRIDGE_BACK: (4, _bridge_back),
    WALLET_LINKED: (4, _linked),
    WALLET_UNLINKED: (4, _unlinked),
    INVESTOR_REVOKED: (3, _revoked),
    ADDRESS_FROZEN: (4, _frozen),
    MINTED: (4, _minted),
    RELEASED: (4, _released),
    REFUNDED: (2, _refunded),
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


def events_of(
    chain_id: int, logs: Iterable[Mapping[str, Any]], kind: type[E], address: str, to_block: int | None = None
) -> list[E]:
    """The ``kind`` events ``address`` emitted among raw ``logs``, oldest first: removed (reorged) logs,
    other contracts' logs and those above ``to_block`` left out; `EventDecodeError` on a malformed one."""
    found: list[E] = []
    for log in logs:
        if log.get("removed") or str(log.get("address", "")).lower() != address.lower():
            continue
        event = decode_log(chain_id, log)
        if isinstance(event, kind) and (to_block is None or event.ref.block_number <= to_block):
            found.append(event)
    return sorted(found, key=lambda e: (e.ref.block_number, e.ref.log_index))
