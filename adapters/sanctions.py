"""Sanctions screening against a configurable list file of holder id hashes and wallet addresses.

```json
{"source": "OFAC SDN digital-currency addresses, 2026-11-01", "holder_ids": ["0x<32 bytes>"],
 "wallets": ["0x<20 bytes>"]}
```
OFAC lists are "not likely to be exhaustive" (FAQ 562) and the 50% rule applies (FAQ 560): a clear
screen here does not replace the KYC provider's screening, it adds to it.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adapters.errors import SanctionsListError
from adapters.rulepack import canonical_json
from adapters.types import Holder

_HEX32 = re.compile(r"^0x[0-9a-fA-F]{64}$")
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


@dataclass(frozen=True)
class SanctionsList:
    source: str
    holder_ids: frozenset[str]
    wallets: frozenset[str]
    content_hash: str

    def hit(self, holder: Holder) -> bool:
        return holder.holder_id.lower() in self.holder_ids or holder.wallet.lower() in self.wallets

    @classmethod
    def parse(cls, raw: Any) -> SanctionsList:
        if not isinstance(raw, dict) or set(raw) != {"source", "holder_ids", "wallets"}:
            raise SanctionsListError("a sanctions list has exactly source, holder_ids and wallets")
        if not isinstance(raw["source"], str) or not raw["source"]:
            raise SanctionsListError("sanctions list source: a non-empty string")
        for key, pattern in (("holder_ids", _HEX32), ("wallets", _ADDRESS)):
            values = raw[key]
            if not isinstance(values, list) or not all(isinstance(v, str) and pattern.match(v) for v in values):
                raise SanctionsListError(f"sanctions list {key}: a list of 0x-hex values")
        return cls(
            raw["source"],
            frozenset(v.lower() for v in raw["holder_ids"]),
            frozenset(v.lower() for v in raw["wallets"]),
            "0x" + hashlib.sha256(canonical_json(raw)).hexdigest(),
        )

    @classmethod
    def load(cls, path: Path) -> SanctionsList:
        try:
            return cls.parse(json.loads(path.read_text()))
        except OSError as exc:
            raise SanctionsListError(f"{path}: cannot read: {exc.strerror}") from None
        except ValueError as exc:
            raise SanctionsListError(f"{path}: not JSON: {exc}") from None
