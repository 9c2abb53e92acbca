"""Contract functions encoded and decoded without web3, for the relayer's and the attestors' hot paths:
building a web3 contract function and calling it costs about 1.6 ms of validation per call.

Values of static types (``address``, ``bool``, ``uintN``, ``intN``, ``bytesN`` and fixed tuples of them)
are encoded and decoded here word by word, as eth-abi would (``tests/test_abi.py`` checks that both agree
on random values); anything else goes through eth-abi. Decoded addresses are lower-case hex, as eth-abi's;
`checksum_address` gives the checksummed form (cached: the same few addresses recur).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_abi.exceptions import DecodingError, EncodingError
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from relayer.core.errors import ArtifactsError
from relayer.edges.evm.artifacts import Artifact, Artifacts

WORD = 32
_BITS = "|".join(str(8 * n) for n in range(1, 33))
_STATIC = re.compile(rf"address|bool|u?int({_BITS})|bytes([1-9]|[12][0-9]|3[0-2])")


@functools.lru_cache(maxsize=4096)
def checksum_address(address: str) -> str:
    """The EIP-55 checksummed form of a 20-byte hex address."""
    return to_checksum_address(address)


def abi_type(item: dict[str, Any]) -> str:
    """The canonical ABI type of an input or output entry, tuples spelled out (``(uint256,address)[]``)."""
    kind = str(item["type"])
    if not kind.startswith("tuple"):
        return kind
    inner = ",".join(abi_type(c) for c in item["components"])
    return f"({inner}){kind[len('tuple') :]}"


def _split(tuple_type: str) -> list[str]:
    """The component types of ``(a,b,(c,d))``: ``["a", "b", "(c,d)"]``."""
    parts, depth, start = [], 0, 1
    for i, char in enumerate(tuple_type[1:-1], start=1):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(tuple_type[start:i])
            start = i + 1
    parts.append(tuple_type[start:-1])
    return [p for p in parts if p]


@functools.cache
def static_words(solidity_type: str) -> list[str] | None:
    """The atomic types of the words a static type occupies, in order; None for a dynamic type."""
    if _STATIC.fullmatch(solidity_type):
        return [solidity_type]
    if solidity_type.startswith("(") and solidity_type.endswith(")"):
        words: list[str] = []
        for part in _split(solidity_type):
            inner = static_words(part)
            if inner is None:
                return None
            words += inner
        return words
    return None


def _encode_word(kind: str, value: Any) -> bytes:
    if kind == "address":
        raw = value if isinstance(value, bytes) else bytes.fromhex(value[2:]) if isinstance(value, str) else None
        if raw is None or len(raw) != 20 or (isinstance(value, str) and not value.startswith("0x")):
            raise EncodingError(f"not an address: {value!r}")
        return raw.rjust(WORD, b"\0")
    if kind == "bool":
        if not isinstance(value, bool):
            raise EncodingError(f"not a bool: {value!r}")
        return int(value).to_bytes(WORD, "big")
    if kind.startswith("bytes"):
        size = int(kind[5:])
        if not isinstance(value, bytes) or len(value) > size:
            raise EncodingError(f"not {kind}: {value!r}")
        return value.ljust(WORD, b"\0")
    if isinstance(value, bool) or not isinstance(value, int):
        raise EncodingError(f"not an integer: {value!r}")
    bits = int(kind.removeprefix("u").removeprefix("int"))
    low, high = (0, 2**bits) if kind.startswith("u") else (-(2 ** (bits - 1)), 2 ** (bits - 1))
    if not low <= value < high:
        raise EncodingError(f"{value} out of range for {kind}")
    return (value % 2**256).to_bytes(WORD, "big")


def _decode_word(kind: str, word: bytes) -> Any:
    if kind == "address":
        if any(word[:12]):
            raise DecodingError("address word with non-zero padding")
        return "0x" + word[12:].hex()
    number = int.from_bytes(word, "big")
    if kind == "bool":
        if number > 1:
            raise DecodingError(f"bool word {number}")
        return bool(number)
    if kind.startswith("bytes"):
        size = int(kind[5:])
        if any(word[size:]):
            raise DecodingError(f"{kind} word with non-zero padding")
        return word[:size]
    bits = int(kind.removeprefix("u").removeprefix("int"))
    if kind.startswith("u"):
        if number >= 2**bits:
            raise DecodingError(f"{number} out of range for {kind}")
        return number
    signed = number - 2**256 if number >= 2**255 else number
    if not -(2 ** (bits - 1)) <= signed < 2 ** (bits - 1):
        raise DecodingError(f"{signed} out of range for {kind}")
    return signed


def _flatten(types: Sequence[str], values: Sequence[Any]) -> list[Any]:
    if len(types) != len(values):
        raise EncodingError(f"{len(values)} values for {len(types)} types")
    flat: list[Any] = []
    for kind, value in zip(types, values, strict=True):
        if kind.startswith("("):
            if not isinstance(value, list | tuple):
                raise EncodingError(f"not a tuple: {value!r}")
            flat += _flatten(_split(kind), value)
        else:
            flat.append(value)
    return flat


def _nest(types: Sequence[str], words: list[Any]) -> tuple[Any, ...]:
    values: list[Any] = []
    for kind in types:
        if kind.startswith("("):
            values.append(_nest(_split(kind), words))
        else:
            values.append(words.pop(0))
    return tuple(values)


def encode(types: Sequence[str], values: Sequence[Any]) -> bytes:
    """``values`` ABI-encoded as ``types`` (eth-abi's result; `EncodingError` on a bad value)."""
    atoms = [static_words(t) for t in types]
    if any(a is None for a in atoms):
        return abi_encode(list(types), list(values))
    kinds = [kind for words in atoms if words is not None for kind in words]
    return b"".join(_encode_word(k, v) for k, v in zip(kinds, _flatten(types, values), strict=True))


def decode(types: Sequence[str], data: bytes) -> tuple[Any, ...]:
    """``data`` ABI-decoded as ``types`` (eth-abi's result; `DecodingError` on data that is not)."""
    atoms = [static_words(t) for t in types]
    if any(a is None for a in atoms):
        return tuple(abi_decode(list(types), data))
    kinds = [kind for words in atoms if words is not None for kind in words]
    if len(data) < WORD * len(kinds):
        raise DecodingError(f"{len(data)} bytes for {len(kinds)} words")
    words = [_decode_word(k, data[i * WORD : (i + 1) * WORD]) for i, k in enumerate(kinds)]
    return _nest(types, words)


@dataclass(frozen=True)
class Function:
    """One contract function: its selector and its input and output types."""

    name: str
    selector: bytes
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]

    @classmethod
    def from_abi(cls, entry: dict[str, Any]) -> Function:
        inputs = tuple(abi_type(i) for i in entry["inputs"])
        outputs = tuple(abi_type(o) for o in entry.get("outputs", []))
        selector = keccak(text=f"{entry['name']}({','.join(inputs)})")[:4]
        return cls(str(entry["name"]), selector, inputs, outputs)

    def encode(self, *args: Any) -> bytes:
        """Calldata: the selector and the ABI-encoded ``args``."""
        return self.selector + encode(self.inputs, args)

    def decode(self, data: bytes) -> Any:
        """The return data decoded: one output bare, several as a tuple."""
        values = decode(self.outputs, data)
        return values[0] if len(values) == 1 else values


@dataclass(frozen=True)
class Abi:
    """The functions of one compiled contract, by name (overloaded names are left out)."""

    contract: str
    functions: dict[str, Function]

    @classmethod
    def of(cls, artifact: Artifact) -> Abi:
        entries = [e for e in artifact.abi if e.get("type") == "function"]
        names = [e["name"] for e in entries]
        return cls(artifact.name, {e["name"]: Function.from_abi(e) for e in entries if names.count(e["name"]) == 1})

    def __getitem__(self, name: str) -> Function:
        try:
            return self.functions[name]
        except KeyError:
            raise ArtifactsError(f"{self.contract} has no (unambiguous) function {name}") from None


_PARSED: dict[tuple[str, str], Abi] = {}


def abi_of(artifacts: Artifacts, name: str) -> Abi:
    """The functions of compiled contract ``name``, parsed once per compilation."""
    key = (artifacts.source_hash, name)
    if key not in _PARSED:
        _PARSED[key] = Abi.of(artifacts.get(name))
    return _PARSED[key]
