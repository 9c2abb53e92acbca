"""The attestor trust list (``GET /v1/attestors``): epoch, threshold, and each attestor's id, ed25519
public key and EVM address; optionally the transparency log's ed25519 public key.

```
{"epoch": 1, "threshold": 2,
 "attestors": [{"id": "att-1", "ed25519": "0x<32 bytes>", "address": "0x<20 bytes>"}, ...],
 "log": {"ed25519": "0x<32 bytes>"}}
```
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from eth_utils.address import to_checksum_address

from attestations.errors import MalformedError
from attestations.keys import Ed25519Verifier, parse_hex

MAX_ATTESTORS = 64


@dataclass(frozen=True)
class TrustedAttestor:
    id: str
    ed25519: Ed25519Verifier
    address: str

    def to_json(self) -> dict[str, str]:
        return {"id": self.id, "ed25519": self.ed25519.hex(), "address": self.address}


@dataclass(frozen=True)
class TrustList:
    epoch: int
    threshold: int
    attestors: tuple[TrustedAttestor, ...]
    log_key: Ed25519Verifier | None = None

    def attestor(self, attestor_id: str) -> TrustedAttestor | None:
        return next((a for a in self.attestors if a.id == attestor_id), None)

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "epoch": self.epoch,
            "threshold": self.threshold,
            "attestors": [a.to_json() for a in self.attestors],
        }
        if self.log_key is not None:
            document["log"] = {"ed25519": self.log_key.hex()}
        return document

    @classmethod
    def parse(cls, raw: Any) -> TrustList:
        """Parses JSON text or a decoded object; `MalformedError` on any deviation."""
        if isinstance(raw, str | bytes):
            try:
                raw = json.loads(raw)
            except (ValueError, RecursionError) as exc:
                raise MalformedError(f"trust list is not JSON: {exc}") from None
        if not isinstance(raw, dict) or not {"epoch", "threshold", "attestors"} <= set(raw) <= {
            "epoch", "threshold", "attestors", "log"
        }:  # fmt: skip
            raise MalformedError("a trust list has epoch, threshold, attestors and optionally log")
        epoch, threshold, attestors = raw["epoch"], raw["threshold"], raw["attestors"]
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise MalformedError("trust list epoch is a non-negative integer")
        if not isinstance(attestors, list) or not 0 < len(attestors) <= MAX_ATTESTORS:
            raise MalformedError(f"trust list attestors: 1 to {MAX_ATTESTORS} entries")
        if isinstance(threshold, bool) or not isinstance(threshold, int) or not 0 < threshold <= len(attestors):
            raise MalformedError("trust list threshold must be between 1 and the number of attestors")
        parsed = tuple(_attestor(a) for a in attestors)
        if len({a.id for a in parsed}) != len(parsed) or len({a.address for a in parsed}) != len(parsed):
            raise MalformedError("trust list attestor ids and addresses must be distinct")
        log = raw.get("log")
        log_key = None
        if log is not None:
            if not isinstance(log, dict) or set(log) != {"ed25519"}:
                raise MalformedError("trust list log is {ed25519}")
            log_key = Ed25519Verifier.from_hex(log["ed25519"])
        return cls(epoch, threshold, parsed, log_key)


def _attestor(raw: Any) -> TrustedAttestor:
    if not isinstance(raw, dict) or set(raw) != {"id", "ed25519", "address"}:
        raise MalformedError("a trusted attestor is {id, ed25519, address}")
    if not isinstance(raw["id"], str) or not 0 < len(raw["id"]) <= 64:
        raise MalformedError("attestor id: a non-empty string of at most 64 characters")
    address = to_checksum_address(parse_hex(raw["address"], 20, "attestor address"))
    return TrustedAttestor(raw["id"], Ed25519Verifier.from_hex(raw["ed25519"]), address)
