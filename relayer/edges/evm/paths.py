"""Where the compiled contracts and their sources live (the artifacts overridable by ``$DARI_ARTIFACTS``)."""

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
