"""`dari devnet` end to end through the real CLI: chains, manifest, twins refused, nothing left behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from web3 import Web3

from relayer.core.config import load_config
from relayer.devtools.devnet.cast import CAST, COUNTRY_NUMERIC
from relayer.devtools.devnet.manifest import Manifest
from relayer.devtools.devnet.processes import ProcessTable, is_alive
from relayer.edges.evm.artifacts import Artifacts

pytestmark = pytest.mark.integration
DARI = [sys.executable, "-m", "relayer"]


def dari(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([*DARI, *args], capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"dari {' '.join(args)} -> {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("devnet")
    dari("devnet", "up", "--dir", str(root), "--detach")
    try:
        yield root
    finally:
        dari("devnet", "down", "--dir", str(root))


def rpc(url: str, method: str, params: list[object] | None = None) -> object:
    return Web3(Web3.HTTPProvider(url)).provider.make_request(method, params or [])["result"]  # type: ignore[arg-type]


def test_each_rpc_answers_its_chain_id(devnet: Path) -> None:
    manifest = Manifest.read(devnet / "devnet.json")
    got = {c.name: int(str(rpc(c.rpc_url, "eth_chainId")), 16) for c in (manifest.registry, *manifest.public)}
    assert got == {"registry": 820001, "ethereum": 31337, "rollup": 31338}


def test_registry_is_zero_gas_and_public_chains_mine_blocks(devnet: Path) -> None:
    manifest = Manifest.read(devnet / "devnet.json")
    assert int(str(rpc(manifest.registry.rpc_url, "eth_gasPrice")), 16) == 0
    for chain in manifest.public:
        assert int(str(rpc(chain.rpc_url, "eth_gasPrice")), 16) > 0
        first = int(str(rpc(chain.rpc_url, "eth_blockNumber")), 16)
        deadline = time.monotonic() + 5
        while int(str(rpc(chain.rpc_url, "eth_blockNumber")), 16) == first:
            assert time.monotonic() < deadline, f"{chain.name} mined no block in 5 s"
            time.sleep(0.1)


def test_manifest_matches_the_running_chains(devnet: Path, artifacts: Artifacts) -> None:
    manifest = Manifest.read(devnet / "devnet.json")
    w3 = Web3(Web3.HTTPProvider(manifest.registry.rpc_url))
    assert set(manifest.registry.contracts) == {"investorRegistry", "walletLinks", "attestorSet", "escrow"}
    assert all(set(c.contracts) == {"attestorSet", "holderRegistry", "gateway"} for c in manifest.public)
    for address in manifest.registry.contracts.values():
        assert len(w3.eth.get_code(Web3.to_checksum_address(address))) > 0
    registry = w3.eth.contract(
        address=Web3.to_checksum_address(manifest.registry.contracts["investorRegistry"]),
        abi=artifacts.get("InvestorRegistry").abi,
    )
    assert [i.name for i in manifest.investors] == [m.name for m in CAST]
    for investor in manifest.investors:
        assert registry.functions.isVerified(investor.registry_address).call()
        assert registry.functions.investorCountry(investor.registry_address).call() == COUNTRY_NUMERIC[investor.country]
        for chain in manifest.public:
            wallet = investor.wallets.get(str(chain.chain_id))
            if wallet is not None:
                balance = Web3(Web3.HTTPProvider(chain.rpc_url)).eth.get_balance(wallet.address)  # type: ignore[arg-type]
                assert balance > 0


def test_manifest_json_has_the_spec_shape(devnet: Path) -> None:
    raw = json.loads((devnet / "devnet.json").read_text())
    assert set(raw) == {"registry", "public", "securities", "investors", "apiUrl"}
    assert raw["registry"]["chainId"] == 820001
    assert [p["name"] for p in raw["public"]] == ["ethereum", "rollup"]
    investor = raw["investors"][0]
    assert set(investor) == {"name", "country", "class", "registryAddress", "registryKey", "wallets"}
    assert set(next(iter(investor["wallets"].values()))) == {"address", "key", "linked", "eligible"}
    assert {s["assetClass"] for s in raw["securities"]} >= {"equity", "debt"}
    assert all(set(s["wrapped"]) == {"31337", "31338"} for s in raw["securities"])
    countries = {i["country"] for i in raw["investors"]}
    assert len(countries) >= 4


def test_config_written_for_the_devnet_is_valid(devnet: Path) -> None:
    config = load_config(devnet / "dari.toml")
    manifest = Manifest.read(devnet / "devnet.json")
    assert config.registry.rpc_url == manifest.registry.rpc_url
    assert [c.chain_id for c in config.public] == [31337, 31338]
    assert config.relayer is not None and config.relayer.signer.read().startswith("0x")
    assert (devnet / "keys" / "relayer.key").stat().st_mode & 0o077 == 0
    assert (devnet / "logs" / "registry.log").exists()


def test_second_up_refuses_to_start_twins(devnet: Path) -> None:
    before = [r.pid for r in ProcessTable(devnet / "run").running()]
    result = dari("devnet", "up", "--dir", str(devnet), "--detach", check=False)
    assert result.returncode == 2
    assert "already running" in result.stderr
    assert [r.pid for r in ProcessTable(devnet / "run").running()] == before


def test_down_leaves_no_process_behind(tmp_path: Path) -> None:
    try:
        dari("devnet", "up", "--dir", str(tmp_path), "--detach")
        records = ProcessTable(tmp_path / "run").records()
        expected = ["att-1", "att-2", "att-3", "ethereum", "registry", "relayer", "rollup"]
        assert sorted(r.name for r in records) == expected
        assert all(is_alive(r) for r in records)
        down = json.loads(dari("devnet", "down", "--dir", str(tmp_path), "--json").stdout)
        assert sorted(p["pid"] for p in down["stopped"]) == sorted(r.pid for r in records)
        assert not any(is_alive(r) for r in records)
        assert dari("devnet", "status", "--dir", str(tmp_path), check=False).returncode == 1
        assert "no devnet running" in dari("devnet", "down", "--dir", str(tmp_path)).stdout
    finally:
        ProcessTable(tmp_path / "run").stop_all()


def test_foreground_up_stops_everything_on_sigint(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [*DARI, "devnet", "up", "--dir", str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            if "devnet running" in line:
                break
        assert proc.poll() is None, proc.communicate()
        records = ProcessTable(tmp_path / "run").records()
        assert len(records) == 7
        os.kill(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        assert not any(is_alive(r) for r in records)
    finally:
        if proc.poll() is None:
            proc.kill()
        ProcessTable(tmp_path / "run").stop_all()
