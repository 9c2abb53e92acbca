"""The word-by-word ABI codec of `relayer.evm.abi` agrees with eth-abi on static types, and refuses what
eth-abi refuses when decoding."""

from __future__ import annotations

from typing import Any

import pytest
from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_abi.exceptions import DecodingError, EncodingError
from hypothesis import given, settings
from hypothesis import strategies as st

from relayer.edges.evm.abi import Abi, checksum_address, decode, encode, static_words
from relayer.edges.evm.artifacts import Artifacts

ATOMS = ["address", "bool", "uint8", "uint16", "uint64", "uint256", "int8", "int64", "int256", "bytes4", "bytes32"]


def values(kind: str) -> st.SearchStrategy[Any]:
    if kind == "address":
        return st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())
    if kind == "bool":
        return st.booleans()
    if kind.startswith("bytes"):
        return st.binary(min_size=int(kind[5:]), max_size=int(kind[5:]))
    if kind.startswith("(") and kind.endswith(")"):
        parts = kind[1:-1].split(",")
        return st.tuples(*(values(p) for p in parts))
    bits = int(kind.removeprefix("u").removeprefix("int"))
    if kind.startswith("u"):
        return st.integers(0, 2**bits - 1)
    return st.integers(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)


kinds = st.sampled_from(ATOMS) | st.lists(st.sampled_from(ATOMS), min_size=1, max_size=4).map(
    lambda parts: f"({','.join(parts)})"
)
signatures = st.lists(kinds, min_size=1, max_size=4)


@given(signatures.flatmap(lambda types: st.tuples(st.just(types), st.tuples(*(values(t) for t in types)))))
@settings(max_examples=400)
def test_static_values_encode_and_decode_as_eth_abi_does(case: tuple[list[str], tuple[Any, ...]]) -> None:
    types, data = case
    encoded = encode(types, data)
    assert encoded == abi_encode(types, data)
    assert decode(types, encoded) == tuple(abi_decode(types, encoded))


@given(signatures, st.binary(max_size=200))
@settings(max_examples=400)
def test_junk_decodes_as_eth_abi_or_is_refused(types: list[str], junk: bytes) -> None:
    """Where eth-abi decodes junk we give its answer; where it refuses, so do we (longer data aside)."""
    try:
        expected: tuple[Any, ...] | None = tuple(abi_decode(types, junk))
    except DecodingError:
        expected = None
    try:
        ours: tuple[Any, ...] | None = decode(types, junk)
    except DecodingError:
        ours = None
    if expected is not None:
        assert ours == expected
    else:
        assert ours is None


@pytest.mark.parametrize(
    ("kind", "value"),
    [("uint8", 256), ("uint8", -1), ("int8", 128), ("bool", 1), ("bytes4", b"12345"), ("address", "0x12"),
     ("address", b"\0" * 19), ("uint256", True), ("uint256", "1")],
)  # fmt: skip
def test_bad_values_are_refused(kind: str, value: Any) -> None:
    with pytest.raises(EncodingError):
        encode([kind], [value])


def test_dynamic_types_go_through_eth_abi() -> None:
    assert static_words("bytes[]") is None and static_words("(uint256,bytes)") is None
    types, value = ["(uint256,address)[]", "bytes[][]"], [[(1, "0x" + "11" * 20)], [[b"ab", b""]]]
    assert encode(types, value) == abi_encode(types, value)


def test_functions_of_the_compiled_contracts(artifacts: Artifacts) -> None:
    gateway = Abi.of(artifacts.get("BridgeGateway"))
    assert gateway["isProcessed"].selector.hex() == "92ba9200"  # keccak("isProcessed(uint256,uint64)")
    assert gateway["isProcessed"].decode((1).to_bytes(32, "big")) is True
    request = Abi.of(artifacts.get("BridgeEscrow"))["request"]
    assert request.outputs == ("(address,uint8,address,uint256)",)
    eip55 = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"  # EIP-55's own example
    assert checksum_address(eip55.lower()) == eip55
