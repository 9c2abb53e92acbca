"""The attestation envelope (SPEC section 4): a statement's EIP-712 typed data, its digest, the
attestors' ed25519 and secp256k1 signatures, and its index in the transparency log."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from eth_utils.address import to_checksum_address

from attestations.eip712 import DOMAIN_TYPE, TYPES, Domain
from attestations.errors import DigestMismatchError, MalformedError
from attestations.keys import parse_hex
from attestations.kinds import KINDS, Statement

MAX_SIGNATURES = 64
MAX_DOCUMENT_BYTES = 64 * 1024


@dataclass(frozen=True)
class AttestorSignature:
    """One attestor's two signatures over the digest."""

    attestor: str
    ed25519: bytes
    secp256k1: bytes

    def to_json(self) -> dict[str, str]:
        return {
            "attestor": self.attestor,
            "ed25519": "0x" + self.ed25519.hex(),
            "secp256k1": "0x" + self.secp256k1.hex(),
        }

    @classmethod
    def from_json(cls, raw: Any) -> AttestorSignature:
        if not isinstance(raw, dict) or set(raw) != {"attestor", "ed25519", "secp256k1"}:
            raise MalformedError("a signature is {attestor, ed25519, secp256k1}")
        attestor = raw["attestor"]
        if not isinstance(attestor, str) or not 0 < len(attestor) <= 64:
            raise MalformedError("signature.attestor: a non-empty id of at most 64 characters")
        return cls(
            attestor,
            parse_hex(raw["ed25519"], 64, "signature.ed25519"),
            parse_hex(raw["secp256k1"], 65, "signature.secp256k1"),
        )


@dataclass(frozen=True)
class Attestation:
    """A statement bound to a domain, with its digest and signatures; `parse` checks the digest."""

    statement: Statement
    domain: Domain
    signatures: tuple[AttestorSignature, ...] = ()
    log_index: int | None = None

    @property
    def kind(self) -> str:
        return self.statement.KIND

    @property
    def digest(self) -> bytes:
        return self.statement.digest(self.domain)

    def typed_data(self) -> dict[str, Any]:
        """The ``eth_signTypedData_v4`` document."""
        return {
            "types": {
                "EIP712Domain": [{"name": n, "type": t} for n, t in DOMAIN_TYPE],
                self.kind: [{"name": n, "type": t} for n, t in TYPES[self.kind]],
            },
            "primaryType": self.kind,
            "domain": self.domain.to_json(),
            "message": self.statement.to_message(),
        }

    def with_signatures(self, signatures: list[AttestorSignature] | tuple[AttestorSignature, ...]) -> Attestation:
        return replace(self, signatures=tuple(signatures))

    def with_log_index(self, index: int) -> Attestation:
        return replace(self, log_index=index)

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "kind": self.kind,
            "typedData": self.typed_data(),
            "digest": "0x" + self.digest.hex(),
            "signatures": [s.to_json() for s in self.signatures],
        }
        if self.log_index is not None:
            document["log"] = {"index": self.log_index}
        return document

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2)

    @classmethod
    def parse(cls, raw: Any) -> Attestation:
        """Parses an attestation from JSON text or a decoded object; `MalformedError` (or its subclass
        `DigestMismatchError`) on anything that is not exactly a well-formed attestation."""
        if isinstance(raw, str | bytes):
            if len(raw) > MAX_DOCUMENT_BYTES:
                raise MalformedError(f"attestation larger than {MAX_DOCUMENT_BYTES} bytes")
            try:
                raw = json.loads(raw)
            except (ValueError, RecursionError) as exc:
                raise MalformedError(f"not JSON: {exc}") from None
        if not isinstance(raw, dict):
            raise MalformedError("an attestation is a JSON object")
        if (
            not {"kind", "typedData", "digest", "signatures"}
            <= set(raw)
            <= {"kind", "typedData", "digest", "signatures", "log"}
        ):
            raise MalformedError("an attestation has kind, typedData, digest, signatures and optionally log")
        kind = raw["kind"]
        if not isinstance(kind, str) or kind not in KINDS:
            raise MalformedError(f"unknown kind {kind!r}")
        statement, domain = _parse_typed_data(kind, raw["typedData"])
        signatures = raw["signatures"]
        if not isinstance(signatures, list) or len(signatures) > MAX_SIGNATURES:
            raise MalformedError(f"signatures: a list of at most {MAX_SIGNATURES}")
        log_index = _parse_log(raw.get("log"))
        attestation = cls(statement, domain, tuple(AttestorSignature.from_json(s) for s in signatures), log_index)
        stated = parse_hex(raw["digest"], 32, "digest")
        if stated != attestation.digest:
            raise DigestMismatchError(f"digest {raw['digest']} is not the EIP-712 digest of typedData")
        return attestation


def _parse_typed_data(kind: str, typed: Any) -> tuple[Statement, Domain]:
    if not isinstance(typed, dict) or set(typed) != {"types", "primaryType", "domain", "message"}:
        raise MalformedError("typedData has exactly types, primaryType, domain and message")
    if typed["primaryType"] != kind:
        raise MalformedError(f"primaryType {typed['primaryType']!r} is not the kind {kind!r}")
    expected_types = {
        "EIP712Domain": [{"name": n, "type": t} for n, t in DOMAIN_TYPE],
        kind: [{"name": n, "type": t} for n, t in TYPES[kind]],
    }
    if typed["types"] != expected_types:
        raise MalformedError(f"typedData.types is not the {kind} type of this format")
    return KINDS[kind].from_message(typed["message"]), _parse_domain(typed["domain"])


def _parse_domain(raw: Any) -> Domain:
    if not isinstance(raw, dict) or set(raw) != {"name", "version", "chainId", "verifyingContract"}:
        raise MalformedError("domain has exactly name, version, chainId and verifyingContract")
    name, version, chain_id = raw["name"], raw["version"], raw["chainId"]
    if not isinstance(name, str) or not isinstance(version, str):
        raise MalformedError("domain name and version are strings")
    if isinstance(chain_id, bool) or not isinstance(chain_id, int) or not 0 < chain_id < 2**256:
        raise MalformedError("domain.chainId is a positive integer")
    contract = parse_hex(raw["verifyingContract"], 20, "domain.verifyingContract")
    return Domain(chain_id, to_checksum_address(contract), name, version)


def _parse_log(raw: Any) -> int | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or set(raw) != {"index"}:
        raise MalformedError("log is {index}")
    index = raw["index"]
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise MalformedError("log.index is a non-negative integer")
    return index
