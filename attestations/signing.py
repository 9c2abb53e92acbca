"""Attestor key material and signing: one attestor holds an ed25519 and a secp256k1 key.

A key file is JSON ``{"id": "att-1", "ed25519": "0x<32-byte seed>", "secp256k1": "0x<32-byte key>"}``,
readable only by its owner; keys are never logged (``repr`` shows public parts only).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from attestations.attestation import Attestation, AttestorSignature
from attestations.eip712 import Domain
from attestations.errors import MalformedError
from attestations.keys import Ed25519Signer, Secp256k1Signer
from attestations.kinds import Statement


@dataclass(frozen=True, repr=False)
class AttestorKey:
    """One attestor's signing keys."""

    id: str
    ed25519: Ed25519Signer
    secp256k1: Secp256k1Signer

    def sign(self, digest: bytes) -> AttestorSignature:
        return AttestorSignature(self.id, self.ed25519.sign(digest), self.secp256k1.sign(digest))

    def public(self) -> dict[str, str]:
        """This attestor's entry in a trust list."""
        return {"id": self.id, "ed25519": self.ed25519.verifier.hex(), "address": self.secp256k1.address}

    def __repr__(self) -> str:
        return f"AttestorKey({self.id}, {self.secp256k1.address})"

    @classmethod
    def from_json(cls, raw: Any) -> AttestorKey:
        if not isinstance(raw, dict) or set(raw) != {"id", "ed25519", "secp256k1"}:
            raise MalformedError("an attestor key is {id, ed25519, secp256k1}")
        if not isinstance(raw["id"], str) or not raw["id"]:
            raise MalformedError("attestor key id must be a non-empty string")
        return cls(raw["id"], Ed25519Signer.from_hex(raw["ed25519"]), Secp256k1Signer.from_hex(raw["secp256k1"]))

    def to_json(self) -> dict[str, str]:
        """The key file's content (secret material: write it with mode 0600)."""
        return {
            "id": self.id,
            "ed25519": "0x" + self.ed25519.seed.hex(),
            "secp256k1": "0x" + self.secp256k1.secret.hex(),
        }

    @classmethod
    def load(cls, path: Path) -> AttestorKey:
        """Reads a key file; `MalformedError` names the file, never its content."""
        try:
            return cls.from_json(json.loads(path.read_text()))
        except OSError as exc:
            raise MalformedError(f"cannot read attestor key file {path}: {exc.strerror}") from None
        except ValueError:
            raise MalformedError(f"attestor key file {path} is not JSON") from None


def attest(statement: Statement, domain: Domain, keys: list[AttestorKey]) -> Attestation:
    """An attestation of ``statement`` under ``domain`` signed by every key in ``keys``."""
    attestation = Attestation(statement, domain)
    digest = attestation.digest
    return attestation.with_signatures([key.sign(digest) for key in keys])
