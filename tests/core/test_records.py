"""The typed records of contract views (`relayer.core.records`): made from a decoded answer (addresses
checksummed, the escrow status an `EscrowStatus`), `MalformedAnswer` on anything of another shape, and each
record's fields exactly the compiled struct's components (snake case, same order, matching types), so a
change of a contract cannot make a record read the wrong field."""

from __future__ import annotations

import re
from dataclasses import fields
from typing import Any, get_type_hints

import pytest

from relayer.core.constants import ZERO32, EscrowStatus
from relayer.core.records import EscrowRequest, HolderEntry, MalformedAnswer
from relayer.edges.evm.artifacts import load_artifacts

HOLDER_ID = b"\x11" * 32
SCOPE = b"\x22" * 32
DIGEST = b"\x33" * 32
TOKEN = "0x5fc8d32690cc91d4c39d9d3abcbd16989f875707"
TOKEN_CHECKSUMMED = "0x5FC8d32690cc91D4c39d9d3abcBD16989F875707"
SENDER = "0x5e74641a06da9079daebd4533f283ad480ffca59"
SENDER_CHECKSUMMED = "0x5e74641a06da9079DaEBd4533f283aD480FFcA59"

# --- made from the decoded answer -----------------------------------------------------------------------


def test_holder_entry_is_made_from_the_decoded_struct() -> None:
    entry = HolderEntry.from_answer((HOLDER_ID, 410, 2, False, 2**40, 1_700_000_000, SCOPE, DIGEST))
    assert entry == HolderEntry(HOLDER_ID, 410, 2, False, 2**40, 1_700_000_000, SCOPE, DIGEST)
    assert entry.registered


def test_holder_entry_converts_each_value_to_its_type() -> None:
    """web3 answers bytes-likes and ints of its own; a list works as well as a tuple."""
    entry = HolderEntry.from_answer([bytearray(HOLDER_ID), True, 0, 1, 0, 0, bytearray(SCOPE), bytearray(DIGEST)])
    assert (type(entry.holder_id), type(entry.country), type(entry.revoked)) == (bytes, int, bool)
    assert (entry.country, entry.investor_class, entry.revoked) == (1, 0, True)
    assert not entry.registered  # revoked


def test_a_never_registered_holder_is_all_zero() -> None:
    entry = HolderEntry.from_answer((ZERO32, 0, 0, False, 0, 0, ZERO32, ZERO32))
    assert not entry.registered
    assert entry.holder_id == ZERO32


def test_escrow_request_is_made_from_the_decoded_struct() -> None:
    request = EscrowRequest.from_answer((TOKEN, 1, SENDER, 2**200))
    assert request == EscrowRequest(TOKEN_CHECKSUMMED, EscrowStatus.PENDING, SENDER_CHECKSUMMED, 2**200)
    assert request.token == TOKEN_CHECKSUMMED and request.sender == SENDER_CHECKSUMMED
    assert type(request.status) is EscrowStatus


@pytest.mark.parametrize(
    ("raw", "status"), [(0, EscrowStatus.NONE), (1, EscrowStatus.PENDING), (2, EscrowStatus.REFUNDED)]
)
def test_escrow_status_is_the_contract_enum(raw: int, status: EscrowStatus) -> None:
    assert EscrowRequest.from_answer((TOKEN, raw, SENDER, 5)).status is status


MALFORMED: dict[str, tuple[type[Any], Any]] = {
    "holder-one-field-short": (HolderEntry, (HOLDER_ID, 410, 2, False, 2**40, 0, SCOPE)),
    "holder-one-field-long": (HolderEntry, (HOLDER_ID, 410, 2, False, 2**40, 0, SCOPE, DIGEST, 0)),
    "holder-empty": (HolderEntry, ()),
    "holder-a-bare-value": (HolderEntry, HOLDER_ID),
    "holder-none": (HolderEntry, None),
    "holder-a-dict": (HolderEntry, {"holderId": HOLDER_ID}),
    "escrow-short": (EscrowRequest, (TOKEN, 1, SENDER)),
    "escrow-long": (EscrowRequest, (TOKEN, 1, SENDER, 5, 6)),
    "escrow-a-holder-answer": (EscrowRequest, (HOLDER_ID, 410, 2, False, 2**40, 0, SCOPE, DIGEST)),
    "escrow-a-string": (EscrowRequest, "0x1234"),
}


@pytest.mark.parametrize(("record", "answer"), MALFORMED.values(), ids=MALFORMED.keys())
def test_an_answer_of_another_shape_is_malformed(record: type[Any], answer: Any) -> None:
    with pytest.raises(MalformedAnswer, match=rf"^{record.__name__}: expected {len(fields(record))} fields"):
        record.from_answer(answer)


# --- the records against the compiled ABI ---------------------------------------------------------------


def snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def struct_components(contract: str, function: str) -> list[dict[str, Any]]:
    """The components of the struct view ``function`` of ``contract`` answers (its only output)."""
    [entry] = [e for e in load_artifacts().get(contract).abi if e.get("type") == "function" and e["name"] == function]
    [output] = entry["outputs"]
    assert output["type"] == "tuple"
    components: list[dict[str, Any]] = output["components"]
    return components


def python_type(component: dict[str, Any]) -> type[Any]:
    """The type a record holds a struct component's value as."""
    if str(component.get("internalType", "")).startswith("enum "):
        return EscrowStatus
    solidity = component["type"]
    if solidity.startswith(("uint", "int")):
        return int
    if solidity.startswith("bytes"):
        return bytes
    return {"bool": bool, "address": str}[solidity]


STRUCTS: dict[str, tuple[type[Any], str, str, list[str]]] = {
    "HolderRegistry.holder": (
        HolderEntry, "HolderRegistry", "holder",
        ["holder_id", "country", "investor_class", "revoked", "valid_until", "updated_at", "scope", "attestation"],
    ),
    "BridgeEscrow.request": (EscrowRequest, "BridgeEscrow", "request", ["token", "status", "sender", "amount"]),
}  # fmt: skip


@pytest.mark.parametrize(("record", "contract", "function", "names"), STRUCTS.values(), ids=STRUCTS.keys())
def test_record_fields_are_the_struct_components_in_order(
    record: type[Any], contract: str, function: str, names: list[str]
) -> None:
    components = struct_components(contract, function)
    assert [snake_case(c["name"]) for c in components] == names
    assert [f.name for f in fields(record)] == names


@pytest.mark.parametrize(("record", "contract", "function", "names"), STRUCTS.values(), ids=STRUCTS.keys())
def test_record_field_types_match_the_struct_components(
    record: type[Any], contract: str, function: str, names: list[str]
) -> None:
    hints = get_type_hints(record)
    components = struct_components(contract, function)
    assert [hints[f.name] for f in fields(record)] == [python_type(c) for c in components]


def test_escrow_status_names_the_contract_enum() -> None:
    [status] = [c for c in struct_components("BridgeEscrow", "request") if c["name"] == "status"]
    assert (status["type"], status["internalType"]) == ("uint8", "enum BridgeEscrow.RequestStatus")
