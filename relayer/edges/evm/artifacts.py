"""Loads the compiled contract artifacts written by ``contracts/compile.js``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from eth_utils.abi import function_abi_to_4byte_selector

from relayer.core.errors import ArtifactsError
from relayer.edges.evm import paths


@dataclass(frozen=True)
class Artifact:
    """One compiled contract."""

    name: str
    abi: list[dict[str, Any]]
    bytecode: str


@dataclass(frozen=True)
class Artifacts:
    """Every compiled contract of the project, by name."""

    contracts: dict[str, Artifact]
    source_hash: str

    def get(self, name: str) -> Artifact:
        """The artifact named ``name``; `ArtifactsError` when it was not compiled."""
        try:
            return self.contracts[name]
        except KeyError:
            raise ArtifactsError(f"no compiled contract named {name}; known: {sorted(self.contracts)}") from None

    def error_abis(self) -> dict[bytes, dict[str, Any]]:
        """Custom errors of every contract by 4-byte selector (to decode reverts)."""
        found: dict[bytes, dict[str, Any]] = {}
        for artifact in self.contracts.values():
            for entry in artifact.abi:
                if entry.get("type") == "error":
                    found[function_abi_to_4byte_selector(entry)] = entry  # type: ignore[arg-type]
        return found


def _newest_source(root: Path) -> float:
    return max((p.stat().st_mtime for p in root.rglob("*.sol") if "out" not in p.parts), default=0.0)


def load_artifacts(path: Path | None = None) -> Artifacts:
    """Reads the artifacts; `ArtifactsError` when missing, unreadable or older than a source."""
    file = path or paths.artifacts_file()
    if not file.exists():
        raise ArtifactsError(f"{file} does not exist: compile the contracts with `make contracts`")
    if path is None and _newest_source(paths.contract_sources()) > file.stat().st_mtime:
        raise ArtifactsError(f"{file} is older than a contract source: rebuild with `make contracts`")
    return _parse(file, file.stat().st_mtime_ns)


@cache
def _parse(file: Path, _mtime_ns: int) -> Artifacts:
    try:
        raw = json.loads(file.read_text())
        contracts = {
            name: Artifact(name=name, abi=entry["abi"], bytecode=entry["bytecode"])
            for name, entry in raw["contracts"].items()
        }
        return Artifacts(contracts=contracts, source_hash=raw["sourceHash"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ArtifactsError(f"{file} is unreadable ({exc}): rebuild with `make contracts`") from exc
