"""The devnet manifest ``D/devnet.json`` (SPEC section 8): what runs where, for tools and tests."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from relayer.devtools.errors import DevnetError


@dataclass(frozen=True)
class ChainEntry:
    name: str
    chain_id: int
    rpc_url: str
    contracts: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "chainId": self.chain_id, "rpcUrl": self.rpc_url, "contracts": self.contracts}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> ChainEntry:
        return cls(raw["name"], raw["chainId"], raw["rpcUrl"], dict(raw["contracts"]))


@dataclass(frozen=True)
class SecurityEntry:
    id: str
    isin: str
    name: str
    asset_class: str
    registry_token: str
    wrapped: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "isin": self.isin,
            "name": self.name,
            "assetClass": self.asset_class,
            "registryToken": self.registry_token,
            "wrapped": self.wrapped,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> SecurityEntry:
        return cls(raw["id"], raw["isin"], raw["name"], raw["assetClass"], raw["registryToken"], dict(raw["wrapped"]))


@dataclass(frozen=True)
class WalletEntry:
    """A public-chain wallet: linked on the registry; eligible when the seed whitelisted it."""

    address: str
    key: str
    linked: bool
    eligible: bool


@dataclass(frozen=True)
class InvestorEntry:
    name: str
    country: str
    investor_class: str
    registry_address: str
    registry_key: str
    wallets: dict[str, WalletEntry]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "country": self.country,
            "class": self.investor_class,
            "registryAddress": self.registry_address,
            "registryKey": self.registry_key,
            "wallets": {k: w.__dict__ for k, w in self.wallets.items()},
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> InvestorEntry:
        wallets = {k: WalletEntry(**w) for k, w in raw["wallets"].items()}
        return cls(raw["name"], raw["country"], raw["class"], raw["registryAddress"], raw["registryKey"], wallets)


@dataclass(frozen=True)
class Manifest:
    registry: ChainEntry
    public: list[ChainEntry]
    securities: list[SecurityEntry]
    investors: list[InvestorEntry]
    api_url: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "registry": self.registry.to_json(),
            "public": [c.to_json() for c in self.public],
            "securities": [s.to_json() for s in self.securities],
            "investors": [i.to_json() for i in self.investors],
            "apiUrl": self.api_url,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Manifest:
        return cls(
            registry=ChainEntry.from_json(raw["registry"]),
            public=[ChainEntry.from_json(c) for c in raw["public"]],
            securities=[SecurityEntry.from_json(s) for s in raw["securities"]],
            investors=[InvestorEntry.from_json(i) for i in raw["investors"]],
            api_url=raw.get("apiUrl"),
        )

    def write(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=2) + "\n")
        tmp.replace(path)

    @classmethod
    def read(cls, path: Path) -> Manifest:
        try:
            return cls.from_json(json.loads(path.read_text()))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DevnetError(f"cannot read devnet manifest {path}: {exc}") from exc
