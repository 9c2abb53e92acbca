"""Holder KYC evidence, keyed by holder id (the registry's pseudonymous investor id hash).

The relayer never stores personal data on chain; the adapters read this evidence off chain. It comes as
the KYC providers' signed claims (`relayer.edges.kyc_file`; the devnet writes ``D/claims.json`` from its
cast), which count only as `relayer.core.signed` says.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from adapters.types import Evidence, Holder, HolderKind, Screening
from attestations.attestation import Attestation


@dataclass(frozen=True)
class KycRecord:
    """A holder's KYC attributes, and the signed claim they come from (`relayer.core.signed`)."""

    residency: str
    kind: HolderKind
    us_person: bool
    sanctions: Screening
    evidence: Evidence
    claim: Attestation | None = None

    def holder(self, holder_id: str, wallet: str) -> Holder:
        return Holder(
            holder_id.lower(), wallet.lower(), self.residency, self.kind, self.evidence, self.us_person, self.sanctions
        )


class KycSource(Protocol):
    def get(self, holder_id: str) -> KycRecord | None: ...


def parse_record(raw: Any) -> KycRecord:
    """A KYC record from its JSON form; `ValueError`, `KeyError`, `TypeError` or `AdapterError` if it is not one."""
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


class NoKycSource:
    """No evidence configured: every decision that needs it escalates."""

    def get(self, holder_id: str) -> KycRecord | None:
        return None
