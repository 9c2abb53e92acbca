"""EIP-712 typed data for Dari's statements: the type tables (one source of truth, mirrored by
``contracts/common/Messages.sol``), the domain, and a pure encoder of the digest.

digest = keccak256(0x19 0x01 || hashStruct(EIP712Domain, domain) || hashStruct(primaryType, message))
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from eth_hash.auto import keccak

from attestations.errors import MalformedError

DOMAIN_NAME = "Dari"
DOMAIN_VERSION = "1"

Field = tuple[str, str]  # (name, solidity type)

DOMAIN_TYPE: tuple[Field, ...] = (
    ("name", "string"),
    ("version", "string"),
    ("chainId", "uint256"),
    ("verifyingContract", "address"),
)

TYPES: dict[str, tuple[Field, ...]] = {
    "TransferAuthorization": (
        ("sourceChainId", "uint256"),
        ("sourceNonce", "uint64"),
        ("securityId", "bytes32"),
        ("sender", "address"),
        ("recipient", "address"),
        ("amount", "uint256"),
        ("lockedUntil", "uint64"),
    ),
    "ReleaseAuthorization": (
        ("sourceChainId", "uint256"),
        ("sourceNonce", "uint64"),
        ("securityId", "bytes32"),
        ("holder", "address"),
        ("recipient", "address"),
        ("amount", "uint256"),
    ),
    "RefundAuthorization": (
        ("nonce", "uint64"),
        ("token", "address"),
        ("sender", "address"),
        ("amount", "uint256"),
        ("reason", "uint16"),
    ),
    "HolderEligibility": (
        ("holderId", "bytes32"),
        ("wallet", "address"),
        ("chainId", "uint256"),
        ("country", "uint16"),
        ("investorClass", "uint8"),
        ("scope", "bytes32"),
        ("rulePackHash", "bytes32"),
        ("validFrom", "uint64"),
        ("validUntil", "uint64"),
    ),
    "HolderRevocation": (
        ("wallet", "address"),
        ("chainId", "uint256"),
        ("reason", "uint16"),
        ("issuedAt", "uint64"),
    ),
    "AttestorRotation": (
        ("epoch", "uint32"),
        ("attestors", "address[]"),
        ("threshold", "uint8"),
    ),
    "RecognitionRecord": (
        ("securityId", "bytes32"),
        ("isin", "string"),
        ("jurisdiction", "string"),
        ("status", "string"),
        ("basis", "string"),
        ("conditions", "string"),
        ("validFrom", "uint64"),
        ("validUntil", "uint64"),
        ("rulePackId", "string"),
        ("rulePackHash", "bytes32"),
    ),
    "ReconciliationReport": (
        ("securityId", "bytes32"),
        ("registryBlock", "uint256"),
        ("locked", "uint256"),
        ("wrappedSupply", "uint256"),
        ("inFlightOut", "uint256"),
        ("inFlightBack", "uint256"),
        ("difference", "int256"),
        ("balanced", "bool"),
        ("observedAt", "uint64"),
        ("detailsHash", "bytes32"),
    ),
    "KycClaim": (
        ("holderId", "bytes32"),
        ("sequence", "uint64"),
        ("residency", "string"),
        ("holderKind", "string"),
        ("usPerson", "bool"),
        ("sanctions", "string"),
        ("evidence", "string"),
        ("issuedAt", "uint64"),
        ("expiresAt", "uint64"),
    ),
    "OperatorDecision": (
        ("sourceChainId", "uint256"),
        ("sourceTxHash", "bytes32"),
        ("sourceLogIndex", "uint64"),
        ("approve", "bool"),
        ("lockedUntil", "uint64"),
        ("reason", "string"),
        ("officer", "string"),
        ("decidedAt", "uint64"),
    ),
    "WalletLink": (
        ("investor", "address"),
        ("chainId", "uint256"),
        ("wallet", "address"),
        ("deadline", "uint64"),
    ),
}


@dataclass(frozen=True)
class Domain:
    """The EIP-712 domain binding a statement to one contract on one chain."""

    chain_id: int
    verifying_contract: str
    name: str = DOMAIN_NAME
    version: str = DOMAIN_VERSION

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "chainId": self.chain_id,
            "verifyingContract": self.verifying_contract,
        }


def encode_type(primary: str, types: Mapping[str, tuple[Field, ...]] = TYPES) -> str:
    """``Name(type1 field1,...)``; Dari's types reference no other struct."""
    fields = types.get(primary) if primary != "EIP712Domain" else DOMAIN_TYPE
    if fields is None:
        raise MalformedError(f"unknown type {primary!r}")
    return f"{primary}(" + ",".join(f"{t} {n}" for n, t in fields) + ")"


def type_hash(primary: str) -> bytes:
    return keccak(encode_type(primary).encode())


def _int_bits(solidity_type: str, prefix: str) -> int:
    bits = int(solidity_type[len(prefix) :] or 256)
    if bits % 8 or not 8 <= bits <= 256:
        raise MalformedError(f"bad type {solidity_type}")
    return bits


def _as_int(value: Any, field: str) -> int:
    if isinstance(value, bool):
        raise MalformedError(f"{field}: expected an integer, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value, 16) if value.lower().startswith("0x") else int(value, 10)
        except ValueError:
            pass
    raise MalformedError(f"{field}: expected an integer, got {value!r}")


def _as_bytes(value: Any, field: str, length: int | None) -> bytes:
    if isinstance(value, bytes):
        raw = value
    elif isinstance(value, str) and value.startswith("0x"):
        try:
            raw = bytes.fromhex(value[2:])
        except ValueError:
            raise MalformedError(f"{field}: not hex: {value!r}") from None
    else:
        raise MalformedError(f"{field}: expected 0x-hex bytes, got {value!r}")
    if length is not None and len(raw) != length:
        raise MalformedError(f"{field}: expected {length} bytes, got {len(raw)}")
    return raw


def encode_value(solidity_type: str, value: Any, field: str) -> bytes:
    """The 32-byte ``encodeData`` word of one atomic or array value."""
    if solidity_type.endswith("[]"):
        if not isinstance(value, list | tuple):
            raise MalformedError(f"{field}: expected a list")
        inner = solidity_type[:-2]
        return keccak(b"".join(encode_value(inner, v, f"{field}[{i}]") for i, v in enumerate(value)))
    if solidity_type.startswith("uint"):
        bits, number = _int_bits(solidity_type, "uint"), _as_int(value, field)
        if not 0 <= number < 2**bits:
            raise MalformedError(f"{field}: {number} out of range for {solidity_type}")
        return number.to_bytes(32, "big")
    if solidity_type.startswith("int"):
        bits, number = _int_bits(solidity_type, "int"), _as_int(value, field)
        if not -(2 ** (bits - 1)) <= number < 2 ** (bits - 1):
            raise MalformedError(f"{field}: {number} out of range for {solidity_type}")
        return (number % 2**256).to_bytes(32, "big")
    if solidity_type == "address":
        return _as_bytes(value, field, 20).rjust(32, b"\0")
    if solidity_type == "bool":
        if not isinstance(value, bool):
            raise MalformedError(f"{field}: expected a boolean")
        return int(value).to_bytes(32, "big")
    if solidity_type == "string":
        if not isinstance(value, str):
            raise MalformedError(f"{field}: expected a string")
        try:
            return keccak(value.encode())
        except UnicodeEncodeError:  # a lone surrogate: no UTF-8 form
            raise MalformedError(f"{field}: not encodable as UTF-8") from None
    if solidity_type == "bytes":
        return keccak(_as_bytes(value, field, None))
    if solidity_type.startswith("bytes"):
        size = int(solidity_type[5:])
        if not 1 <= size <= 32:
            raise MalformedError(f"bad type {solidity_type}")
        return _as_bytes(value, field, size).ljust(32, b"\0")
    raise MalformedError(f"{field}: unsupported type {solidity_type}")


def hash_struct(primary: str, message: Mapping[str, Any]) -> bytes:
    """``keccak256(typeHash || encodeData(message))``; the message must have exactly the type's fields."""
    fields = DOMAIN_TYPE if primary == "EIP712Domain" else TYPES.get(primary)
    if fields is None:
        raise MalformedError(f"unknown type {primary!r}")
    if not isinstance(message, Mapping):
        raise MalformedError(f"{primary}: message must be an object")
    names = {n for n, _ in fields}
    if set(message) != names:
        missing, extra = sorted(names - set(message)), sorted(set(message) - names)
        raise MalformedError(f"{primary}: fields differ (missing {missing}, unexpected {extra})")
    encoded = b"".join(encode_value(t, message[n], f"{primary}.{n}") for n, t in fields)
    return keccak(type_hash(primary) + encoded)


def digest(primary: str, domain: Domain, message: Mapping[str, Any]) -> bytes:
    """The 32-byte EIP-712 digest that attestors sign."""
    return keccak(b"\x19\x01" + hash_struct("EIP712Domain", domain.to_json()) + hash_struct(primary, message))


def typed_data(primary: str, domain: Domain, message: Mapping[str, Any]) -> dict[str, Any]:
    """The ``eth_signTypedData_v4`` document of a statement."""
    if primary not in TYPES:
        raise MalformedError(f"unknown type {primary!r}")
    return {
        "types": {
            "EIP712Domain": [{"name": n, "type": t} for n, t in DOMAIN_TYPE],
            primary: [{"name": n, "type": t} for n, t in TYPES[primary]],
        },
        "primaryType": primary,
        "domain": domain.to_json(),
        "message": dict(message),
    }
