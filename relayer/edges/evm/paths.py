"""Where the project's non-Python parts live (compiled artifacts, node_modules), overridable by env."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[3]


def artifacts_file() -> Path:
    """Compiled contracts: ``$DARI_ARTIFACTS`` or ``contracts/out/artifacts.json``."""
    return Path(os.environ.get("DARI_ARTIFACTS", PROJECT_ROOT / "contracts" / "out" / "artifacts.json"))


def contract_sources() -> Path:
    """The Solidity sources the artifacts are compiled from."""
    return PROJECT_ROOT / "contracts"


def anvil_binary() -> Path | None:
    """The anvil binary: ``$DARI_ANVIL``, the npm platform package, or None when neither exists."""
    configured = os.environ.get("DARI_ANVIL")
    if configured:
        return Path(configured)
    bundled = PROJECT_ROOT / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
    return bundled if bundled.exists() else None
