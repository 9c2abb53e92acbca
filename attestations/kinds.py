"""The statements Dari attests, as frozen typed records, and their EIP-712 message form.

Each record's fields are the EIP-712 fields of its kind in snake_case (``sourceChainId`` is
``source_chain_id``). In JSON, ``uint256``/``int256`` values are decimal strings, other integers are
numbers, ``bytes32`` is 0x-hex, addresses are checksummed; parsing also accepts numbers or strings for
any integer, as ``eth_signTypedData_v4`` does.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Self

from eth_utils.address import is_address, to_checksum_address

from attestations.eip712 import TYPES, Domain, digest, encode_value
from attestations.errors import MalformedError


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _to_json_value(solidity_type: str, value: Any) -> Any:
    if solidity_type.endswith("[]"):
        return [_to_json_value(solidity_type[:-2], v) for v in value]
    if solidity_type in ("uint256", "int256"):
        return str(value)
    if solidity_type.startswith("bytes"):
        return "0x" + value.hex()
    return value


@functools.lru_cache(maxsize=4096)
def _checksummed(value: str) -> str | None:
    """``value`` checksummed, None when it is no address (cached: the same few addresses recur)."""
    return to_checksum_address(value) if is_address(value) else None


@functools.lru_cache(maxsize=2048)
def _digest(statement: Statement, domain: Domain) -> bytes:
    return digest(statement.KIND, domain, statement.to_message())


def _from_json_value(solidity_type: str, value: Any, field: str) -> Any:
    """Validates one message value (via the encoder) and converts it to its Python type."""
    encode_value(solidity_type, value, field)
    if solidity_type.endswith("[]"):
        return tuple(_from_json_value(solidity_type[:-2], v, f"{field}[]") for v in value)
    if solidity_type.startswith(("uint", "int")):
        if isinstance(value, int):
            return value
        return int(value, 16) if value.lower().startswith("0x") else int(value, 10)
    if solidity_type == "address":
        if isinstance(value, bytes):
            return to_checksum_address(value)
        checksummed = _checksummed(value)
        if checksummed is None:
            raise MalformedError(f"{field}: not an address")
        return checksummed
    if solidity_type.startswith("bytes"):
        return value if isinstance(value, bytes) else bytes.fromhex(value[2:])
    return value


@dataclass(frozen=True)
class Statement:
    """Base of every attested statement kind."""

    KIND: ClassVar[str]
    # Fields holding a validity window (checked by the verifier against ``now``), if the kind has one.
    VALID_FROM: ClassVar[str | None] = None
    VALID_UNTIL: ClassVar[str | None] = None

    def __post_init__(self) -> None:
        """Every record is valid for its EIP-712 type: values in range, addresses checksummed."""
        types = dict(TYPES[self.KIND])
        for f in fields(self):
            name = _camel(f.name)
            value = _from_json_value(types[name], getattr(self, f.name), f"{self.KIND}.{name}")
            object.__setattr__(self, f.name, value)

    def to_message(self) -> dict[str, Any]:
        """The EIP-712 ``message`` object (JSON-ready)."""
        types = dict(TYPES[self.KIND])
        return {_camel(f.name): _to_json_value(types[_camel(f.name)], getattr(self, f.name)) for f in fields(self)}

    def as_tuple(self) -> tuple[Any, ...]:
        """Field values in EIP-712 order, as an ABI encoder takes them for the Solidity struct."""
        return tuple(getattr(self, f.name) for f in fields(self))

    @classmethod
    def from_message(cls, message: Mapping[str, Any]) -> Self:
        """Parses and validates an EIP-712 ``message``; `MalformedError` on any deviation."""
        if not isinstance(message, Mapping):
            raise MalformedError(f"{cls.KIND}: message must be an object")
        expected = dict(TYPES[cls.KIND])
        if set(message) != set(expected):
            missing, extra = sorted(set(expected) - set(message)), sorted(set(message) - set(expected))
            raise MalformedError(f"{cls.KIND}: fields differ (missing {missing}, unexpected {extra})")
        return cls(**{f.name: message[_camel(f.name)] for f in fields(cls)})

    def digest(self, domain: Domain) -> bytes:
        """The EIP-712 digest of this statement under ``domain`` (cached: a pure function of both)."""
        return _digest(self, domain)

    def window(self) -> tuple[int, int] | None:
        """(valid from, valid until) in Unix seconds, for kinds that have a validity window."""
        if self.VALID_FROM is None or self.VALID_UNTIL is None:
            return None
        return int(getattr(self, self.VALID_FROM)), int(getattr(self, self.VALID_UNTIL))


@dataclass(frozen=True)
class TransferAuthorization(Statement):
    """Mint ``amount`` of ``security_id`` to ``recipient`` for bridge-out (``source_chain_id``, ``source_nonce``)."""

    KIND: ClassVar[str] = "TransferAuthorization"
    source_chain_id: int
    source_nonce: int
    security_id: bytes
    sender: str
    recipient: str
    amount: int
    locked_until: int


@dataclass(frozen=True)
class ReleaseAuthorization(Statement):
    """Release ``amount`` on the registry to ``recipient`` for burn (``source_chain_id``, ``source_nonce``)."""

    KIND: ClassVar[str] = "ReleaseAuthorization"
    source_chain_id: int
    source_nonce: int
    security_id: bytes
    holder: str
    recipient: str
    amount: int


@dataclass(frozen=True)
class RefundAuthorization(Statement):
    """Refund bridge-out ``nonce`` to its ``sender``, with a reason code."""

    KIND: ClassVar[str] = "RefundAuthorization"
    nonce: int
    token: str
    sender: str
    amount: int
    reason: int


@dataclass(frozen=True)
class HolderEligibility(Statement):
    """``wallet`` on ``chain_id`` may hold ``scope`` (a security id, or zero for all) in this window."""

    KIND: ClassVar[str] = "HolderEligibility"
    VALID_FROM: ClassVar[str | None] = "valid_from"
    VALID_UNTIL: ClassVar[str | None] = "valid_until"
    holder_id: bytes
    wallet: str
    chain_id: int
    country: int
    investor_class: int
    scope: bytes
    rule_pack_hash: bytes
    valid_from: int
    valid_until: int


@dataclass(frozen=True)
class HolderRevocation(Statement):
    """``wallet`` on ``chain_id`` may no longer hold (reason code), as of ``issued_at``."""

    KIND: ClassVar[str] = "HolderRevocation"
    wallet: str
    chain_id: int
    reason: int
    issued_at: int


@dataclass(frozen=True)
class RecognitionRecord(Statement):
    """How ``jurisdiction`` treats ``security_id`` (recognized / conditional / not-recognized), on which
    basis and conditions (canonical JSON), in which window, under which rule pack."""

    KIND: ClassVar[str] = "RecognitionRecord"
    VALID_FROM: ClassVar[str | None] = "valid_from"
    VALID_UNTIL: ClassVar[str | None] = "valid_until"
    security_id: bytes
    isin: str
    jurisdiction: str
    status: str
    basis: str
    conditions: str
    valid_from: int
    valid_until: int
    rule_pack_id: str
    rule_pack_hash: bytes


@dataclass(frozen=True)
class ReconciliationReport(Statement):
    """Units locked on the registry against wrapped supply and in-flight transfers at observed blocks;
    ``details_hash`` is the SHA-256 of the itemized report (canonical JSON)."""

    KIND: ClassVar[str] = "ReconciliationReport"
    security_id: bytes
    registry_block: int
    locked: int
    wrapped_supply: int
    in_flight_out: int
    in_flight_back: int
    difference: int
    balanced: bool
    observed_at: int
    details_hash: bytes


@dataclass(frozen=True)
class KycClaim(Statement):
    """A claim issuer's (KYC provider's) statement of holder ``holder_id``'s attributes, the issuer's
    ``sequence``-th for this holder (the registry anchors the current one), valid from ``issued_at`` until
    ``expires_at``; ``evidence`` is canonical JSON of the evidence attributes. Signed by the issuer."""

    KIND: ClassVar[str] = "KycClaim"
    VALID_FROM: ClassVar[str | None] = "issued_at"
    VALID_UNTIL: ClassVar[str | None] = "expires_at"
    holder_id: bytes
    sequence: int
    residency: str
    holder_kind: str
    us_person: bool
    sanctions: str
    evidence: str
    issued_at: int
    expires_at: int


@dataclass(frozen=True)
class OperatorDecision(Statement):
    """A compliance officer's decision on the held item that source event (``source_chain_id``,
    ``source_tx_hash``, ``source_log_index``) started: approve (keeping lock-up ``locked_until``, 0 for
    none) or reject, in the officer's words. Signed by the officer."""

    KIND: ClassVar[str] = "OperatorDecision"
    source_chain_id: int
    source_tx_hash: bytes
    source_log_index: int
    approve: bool
    locked_until: int
    reason: str
    officer: str
    decided_at: int


KINDS: dict[str, type[Statement]] = {
    k.KIND: k
    for k in (
        TransferAuthorization,
        ReleaseAuthorization,
        RefundAuthorization,
        HolderEligibility,
        HolderRevocation,
        RecognitionRecord,
        ReconciliationReport,
        KycClaim,
        OperatorDecision,
    )
}

_RECOGNITION_STATUSES = {"recognized", "conditional", "not-recognized"}
_JURISDICTION = re.compile(r"^[A-Z]{2}$")
# Bounds the nesting json.loads recurses into: web3 (py_ecc) lifts the recursion limit to 100000, at
# which a deep enough document overflows the C stack instead of raising RecursionError.
MAX_EVIDENCE_CHARS = 16 * 1024


def check_recognition(record: RecognitionRecord) -> None:
    """Field rules beyond types: ISO alpha-2 jurisdiction, a known status, a sane window."""
    if not _JURISDICTION.match(record.jurisdiction):
        raise MalformedError(f"RecognitionRecord.jurisdiction: {record.jurisdiction!r} is not ISO 3166-1 alpha-2")
    if record.status not in _RECOGNITION_STATUSES:
        raise MalformedError(f"RecognitionRecord.status: {record.status!r} not in {sorted(_RECOGNITION_STATUSES)}")
    if record.valid_until <= record.valid_from:
        raise MalformedError("RecognitionRecord: validUntil must follow validFrom")


def _canonical_json(document: Any) -> str:
    """Sorted keys, no spaces, non-ASCII as is (UTF-8 once encoded): the form of ``evidence``."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def check_kyc_claim(claim: KycClaim) -> None:
    """Field rules beyond types: ISO alpha-2 residency, a sane window, evidence as canonical JSON of an object."""
    if not _JURISDICTION.fullmatch(claim.residency):
        raise MalformedError(f"KycClaim.residency: {claim.residency!r} is not ISO 3166-1 alpha-2")
    if claim.expires_at <= claim.issued_at:
        raise MalformedError("KycClaim: expiresAt must follow issuedAt")
    if len(claim.evidence) > MAX_EVIDENCE_CHARS:
        raise MalformedError(f"KycClaim.evidence: longer than {MAX_EVIDENCE_CHARS} characters")
    try:
        evidence = json.loads(claim.evidence)
        canonical = _canonical_json(evidence)
    except (ValueError, RecursionError):
        raise MalformedError("KycClaim.evidence: not JSON") from None
    if not isinstance(evidence, dict):
        raise MalformedError("KycClaim.evidence: not a JSON object")
    if canonical != claim.evidence:
        raise MalformedError("KycClaim.evidence: not canonical JSON (sorted keys, no spaces, UTF-8)")


def check_operator_decision(decision: OperatorDecision) -> None:
    """Field rules beyond types: the deciding officer and the reason are given."""
    if not decision.officer.strip():
        raise MalformedError("OperatorDecision.officer: empty")
    if not decision.reason.strip():
        raise MalformedError("OperatorDecision.reason: empty")
