"""`dari recognition list|show|verify|check` through the real CLI, against a config with securities."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest
import tomli_w

from tests.core.test_config import minimal
from tests.vectors.attestation_vectors import vector_keys, vector_trust

EQUITY_ID = "0x" + "5c" * 32


def dari(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "relayer", *args], capture_output=True, text=True, timeout=60)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    raw = minimal()
    raw["registry"]["contracts"] = {"escrow": "0x" + "12" * 20}  # type: ignore[index]
    raw["securities"] = [
        {"id": EQUITY_ID, "isin": "KR7005930003", "name": "Hanbit", "asset_class": "equity", "flags": ["public-offer"]},
        {"id": "0x" + "6d" * 32, "isin": "KR6000001234", "name": "Green Bond", "asset_class": "debt"},
    ]
    path = tmp_path / "dari.toml"
    path.write_text(tomli_w.dumps(raw))
    return path


def holder_file(tmp_path: Path, document: Mapping[str, object]) -> Path:
    path = tmp_path / "holder.json"
    path.write_text(json.dumps(document))
    return path


def test_check_exits_0_when_allowed_and_1_otherwise(config: Path, tmp_path: Path) -> None:
    professional = {"residency": "KR", "evidence": {"currency": "KRW", "institution": True}, "kind": "entity"}
    allowed = dari("recognition", "check", "--config", str(config), "--security", "KR7005930003",
                   "--holder", str(holder_file(tmp_path, professional)), "--json")  # fmt: skip
    assert allowed.returncode == 0, allowed.stderr
    assert json.loads(allowed.stdout)["verdict"] == "ALLOW"
    retail = {"residency": "SG", "evidence": {"currency": "SGD", "income": 10}}
    denied = dari("recognition", "check", "--config", str(config), "--security", EQUITY_ID,
                  "--holder", str(holder_file(tmp_path, retail)))  # fmt: skip
    assert denied.returncode == 1
    assert denied.stdout.startswith("DENY: investor-category")
    assert "SFA" in denied.stdout
    nowhere = {"residency": "AQ", "evidence": {"currency": "USD"}}
    unsupported = dari("recognition", "check", "--config", str(config), "--security", EQUITY_ID,
                       "--holder", str(holder_file(tmp_path, nowhere)), "--json")  # fmt: skip
    assert json.loads(unsupported.stdout)["reasons"] == ["jurisdiction-unsupported"]


def test_check_rejects_bad_input_with_exit_2(config: Path, tmp_path: Path) -> None:
    lower_case = holder_file(tmp_path, {"residency": "sg", "evidence": {"currency": "SGD"}})
    bad = dari("recognition", "check", "--config", str(config), "--security", EQUITY_ID, "--holder", str(lower_case))
    assert bad.returncode == 2
    assert "residency" in bad.stderr
    korean = holder_file(tmp_path, {"residency": "KR", "evidence": {"currency": "KRW"}})
    unknown = dari(
        "recognition", "check", "--config", str(config), "--security", "KR0000000000", "--holder", str(korean)
    )
    assert unknown.returncode == 2


def test_list_show_and_verify(config: Path, tmp_path: Path) -> None:
    listed = dari("recognition", "list", "--config", str(config), "--json")
    assert listed.returncode == 0, listed.stderr
    records = json.loads(listed.stdout)["records"]
    assert len(records) == 2 * 8
    assert {r["jurisdiction"] for r in records} == {"KR", "US", "EU", "SG", "HK", "JP", "CH", "UK"}
    keys = []
    for key in vector_keys()[:2]:
        path = tmp_path / f"{key.id}.json"
        path.write_text(json.dumps(key.to_json()))
        keys += ["--sign", str(path)]
    shown = dari("recognition", "show", "--config", str(config), "--security", EQUITY_ID, "--jurisdiction", "US", *keys)
    assert shown.returncode == 0, shown.stderr
    record = tmp_path / "record.json"
    record.write_text(shown.stdout)
    trust = tmp_path / "trust.json"
    trust.write_text(json.dumps(vector_trust().to_json()))
    verified = dari("recognition", "verify", str(record), "--trust", str(trust))
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout.startswith("valid: KR7005930003 in US: ")
    unsigned = dari("recognition", "show", "--config", str(config), "--security", EQUITY_ID, "--jurisdiction", "US")
    record.write_text(unsigned.stdout)
    assert dari("recognition", "verify", str(record), "--trust", str(trust)).returncode == 1
    assert dari("recognition", "list", "--config", str(config), "--jurisdiction", "XX").returncode == 2
