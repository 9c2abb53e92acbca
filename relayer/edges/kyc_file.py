"""KYC evidence from the KYC providers' export: a JSON list of signed `KycClaim` attestations, read once
(`relayer.core.kyc.KycSource`). Each must verify against the configured claim issuers; of several claims
for one holder the highest sequence is kept (whether it counts, the registry's anchor says at decision time)."""

from __future__ import annotations

import json
from pathlib import Path

from attestations.eip712 import Domain
from attestations.kinds import KycClaim
from attestations.trust import TrustList
from relayer.core.errors import ConfigError
from relayer.core.kyc import KycRecord
from relayer.core.signed import NotCounted, claim_record, verified_claim


class FileKycSource:
    """The claims in ``path``, verified against ``issuers`` under ``domain`` (the registry's InvestorRegistry)."""

    def __init__(self, path: Path, issuers: TrustList, domain: Domain) -> None:
        source = f"kyc.claims_file {path}"
        try:
            raw = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ConfigError(source, [f"{type(exc).__name__}: {exc}"]) from None
        if not isinstance(raw, list):
            raise ConfigError(source, ["a JSON list of KycClaim attestations"])
        problems: list[str] = []
        self._records: dict[str, KycRecord] = {}
        sequences: dict[str, int] = {}
        for index, document in enumerate(raw):
            try:
                attestation = verified_claim(document, issuers, domain)
                record = claim_record(attestation)
            except NotCounted as exc:
                problems.append(f"[{index}]: {exc}")
                continue
            claim = attestation.statement
            if isinstance(claim, KycClaim):  # as verified
                key = "0x" + claim.holder_id.hex()
                if sequences.get(key, -1) < claim.sequence:
                    self._records[key], sequences[key] = record, claim.sequence
        if problems:
            raise ConfigError(source, problems)

    def get(self, holder_id: str) -> KycRecord | None:
        return self._records.get(holder_id.lower())
