"""Holder KYC evidence, keyed by holder id (the registry's pseudonymous investor id hash).

The relayer never stores personal data on chain; the adapters read this evidence off chain. In
production this is the KYC provider's export; the devnet writes ``D/kyc.json`` from its cast.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from adapters.errors import AdapterError
from adapters.types import Evidence, Holder, HolderKind, Screening
from relayer.errors import ConfigError


@dataclass(frozen=True)
class KycRecord:
    residency: str
    kind: HolderKind
    us_person: bool
    sanctions: Screening
    evidence: Evidence

    def holder(self, holder_id: str, wallet: str) -> Holder:
        return Holder(
            holder_id.lower(), wallet.lower(), self.residency, self.kind, self.evidence, self.us_person, self.sanctions
        )


class KycSource(Protocol):
    def get(self, holder_id: str) -> KycRecord | None: ...


def parse_record(raw: Any) -> KycRecord:
    if not isinstance(raw, dict):
        raise ValueError("a KYC record is an object")
    evidence = dict(raw.get("evidence", {}))
    for key in ("licences", "certifications"):
        if key in evidence:
            evidence[key] = frozenset(evidence[key])
    return KycRecord(
        residency=raw["residency"],
        kind=HolderKind(raw.get("kind", "natural-person")),
        us_person=bool(raw.get("usPerson", raw["residency"] == "US")),
        sanctions=Screening(raw.get("sanctions", "not-screened")),
        evidence=Evidence(**evidence),
    )


class FileKycSource:
    """KYC records from a JSON file ``{"0x<holder id>": {...}}``, read once."""

    def __init__(self, path: Path) -> None:
        try:
            raw = json.loads(path.read_text())
            self._records = {k.lower(): parse_record(v) for k, v in raw.items()}
        except (OSError, ValueError, KeyError, TypeError, AdapterError) as exc:
            raise ConfigError(f"kyc.evidence_file {path}", [f"{type(exc).__name__}: {exc}"]) from None

    def get(self, holder_id: str) -> KycRecord | None:
        return self._records.get(holder_id.lower())


class NoKycSource:
    """No evidence configured: every decision that needs it escalates."""

    def get(self, holder_id: str) -> KycRecord | None:
        return None
