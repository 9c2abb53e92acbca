"""KYC evidence from the KYC provider's JSON export, ``{"0x<holder id>": {...}}``, read once
(`relayer.core.kyc.KycSource`)."""

from __future__ import annotations

import json
from pathlib import Path

from adapters.errors import AdapterError
from relayer.core.errors import ConfigError
from relayer.core.kyc import KycRecord, parse_record


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
