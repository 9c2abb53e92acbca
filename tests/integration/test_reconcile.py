"""Reconciliation on a live devnet: the real `dari reconcile` balancing, attested, then catching an agent's
direct mint (exit 3, difference -5) and pausing inbound minting when configured."""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from attestations.eip712 import Domain
from attestations.kinds import ReconciliationReport
from attestations.trust import TrustList
from attestations.verify import verify
from relayer import metrics
from relayer.core.config import Config, load_config
from relayer.core.reconcile import (
    canonical_json,
    latest_reports,
)
from relayer.core.transfer_state import State
from relayer.devtools.devnet import control
from relayer.devtools.devnet.cast import DEPLOYER_KEY
from relayer.reconciliation import run_once
from tests.support.bridge import Bridge

# --- on a live devnet ---------------------------------------------------------------------------------------


async def _start_relayer(root: Path, url: str) -> None:
    async with Bridge(root, url) as bridge:
        await bridge.start_relayer()


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    root = tmp_path_factory.mktemp("reconcile")
    asyncio.run(control.up(root, relayer=False))
    url = f"sqlite:///{root / 'relay.db'}"
    try:
        asyncio.run(_start_relayer(root, url))
        yield root, url
    finally:
        control.down(root)


@pytest.fixture
async def bridge(devnet: tuple[Path, str]) -> AsyncIterator[Bridge]:
    async with Bridge(*devnet) as b:
        yield b


async def dari(bridge: Bridge, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "relayer", *args]
    return await asyncio.to_thread(subprocess.run, argv, capture_output=True, text=True, timeout=60, env=bridge.env())


async def settle(bridge: Bridge) -> None:
    """Waits until what happened on the public chains so far is final (their confirmations)."""
    targets = {c.chain_id: int(await bridge.clients[c.chain_id].rpc("eth_blockNumber", []), 16) + c.confirmations
               for c in bridge.config.public}  # fmt: skip
    while True:
        heads = {c: int(await bridge.clients[c].rpc("eth_blockNumber", []), 16) for c in targets}
        if all(heads[c] >= t for c, t in targets.items()):
            return
        await asyncio.sleep(0.2)


def trust_of(config: Config) -> TrustList:
    return TrustList.parse({
        "epoch": config.trust.epoch, "threshold": config.trust.threshold,
        "attestors": [{"id": a.id, "ed25519": a.ed25519, "address": a.address} for a in config.attestors],
    })  # fmt: skip


def verified_report(bridge: Bridge, entry: dict[str, Any]) -> ReconciliationReport:
    """The attested report of one security in `dari reconcile --json`, checked against the trust list,
    the escrow's domain and its own details."""
    domain = Domain(bridge.registry, bridge.manifest.registry.contracts["escrow"])
    report = verify(entry["attestation"], trust_of(bridge.config), domain=domain, kind=ReconciliationReport)
    assert report.to_message() == {k: entry[k] for k in report.to_message()}
    assert report.details_hash == hashlib.sha256(canonical_json(entry["details"])).digest()
    assert entry["attestation"]["log"]["index"] >= 0
    return report


@pytest.mark.integration
async def test_a_live_bridge_reconciles_and_the_report_is_attested(bridge: Bridge) -> None:
    """INV-001 on a real devnet: mints, a refund, a release, and one transfer in flight each way."""
    config_file = str(bridge.root / "dari.toml")
    outs = await bridge.bridge_out("Minjun", 7, "ethereum") + await bridge.bridge_out("Minjun", 5, "rollup")
    [refund] = await bridge.bridge_out("Bob", 10, "ethereum")
    await bridge.wait(outs, {State.CONFIRMED})
    back = await bridge.bridge_back("Minjun", 3, "ethereum")
    await bridge.wait([back], {State.CONFIRMED})
    await bridge.wait([refund], {State.REFUNDED})
    bridge.kill("relayer")  # what follows stays in flight
    [pending_out] = await bridge.bridge_out("Minjun", 2, "ethereum")
    pending_back = await bridge.bridge_back("Minjun", 1, "rollup")
    await settle(bridge)

    result = await dari(bridge, "reconcile", "--config", config_file, "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["balanced"] is True
    assert set(document["blocks"]) == {"820001", "31337", "31338"}
    assert len(document["securities"]) == len(bridge.manifest.securities)
    first = next(s for s in document["securities"] if s["securityId"] == bridge.manifest.securities[0].id)
    report = verified_report(bridge, first)
    assert (report.locked, report.wrapped_supply, report.in_flight_out, report.in_flight_back) == (11, 8, 2, 1)
    assert report.locked == await bridge.locked() and report.wrapped_supply == await bridge.wrapped_supply()
    assert (report.difference, report.balanced, report.registry_block) == (0, True, document["blocks"]["820001"])
    assert [(i["direction"], f"{i['chain']}-{i['nonce']}", i["amount"]) for i in first["details"]["inFlight"]] == [
        ("back", pending_back, "1"), ("out", pending_out, "2")
    ]  # fmt: skip
    assert first["details"]["blocks"] == document["blocks"]
    for other in document["securities"]:
        if other is not first:  # nothing bridged: zero everywhere, and attested all the same
            assert verified_report(bridge, other).locked == 0
    stored = latest_reports(await bridge.store.documents(ReconciliationReport.KIND))
    assert first["attestation"]["digest"] in {d["digest"] for d in stored}

    table = await dari(bridge, "reconcile", "--config", config_file, "--no-sign")
    assert table.returncode == 0, table.stderr
    assert "KR" in table.stdout and pending_out in table.stdout


@pytest.mark.integration
async def test_an_agent_mint_is_drift_and_pauses_minting_when_configured(bridge: Bridge) -> None:
    """A mint outside the bridge breaks INV-001: exit 3, the attestors sign difference -5, and with
    pause_on_drift the relayer's key pauses inbound minting on every gateway."""
    chain = bridge.chain_id("ethereum")
    admin = Account.from_key(DEPLOYER_KEY)
    wrapped = bridge.contract("WrappedSecurity", chain, bridge.manifest.securities[0].wrapped[str(chain)])
    client = bridge.clients[chain]
    await client.transact(wrapped.functions.grantRole(await wrapped.functions.MINTER_ROLE().call(), admin.address),
                          admin)  # fmt: skip
    await client.transact(wrapped.functions.mint(bridge.investor("Minjun").wallets[str(chain)].address, 5, 0), admin)
    await settle(bridge)
    config_file = bridge.root / "dari.toml"

    result = await dari(bridge, "reconcile", "--config", str(config_file), "--json")
    assert result.returncode == 3, result.stderr
    document = json.loads(result.stdout)
    first = next(s for s in document["securities"] if s["securityId"] == bridge.manifest.securities[0].id)
    report = verified_report(bridge, first)
    assert (report.difference, report.balanced) == (-5, False)
    assert document["paused"] == []
    gateways = {
        c.chain_id: bridge.contract("BridgeGateway", c.chain_id, c.contracts["gateway"]) for c in bridge.manifest.public
    }
    assert not any([await g.functions.inboundPaused().call() for g in gateways.values()])

    config = load_config(config_file)  # in process: the gauge
    run = await run_once(config, None, sign=False)
    assert not run.balanced
    labels = {"security": bridge.manifest.securities[0].id}
    assert metrics.REGISTRY.get_sample_value("dari_reconciliation_difference", labels) == -5

    pausing = bridge.root / "dari-pause.toml"
    pausing.write_text(config_file.read_text() + "\n[reconciliation]\npause_on_drift = true\n")
    paused = await dari(bridge, "reconcile", "--config", str(pausing), "--json", "--no-sign")
    assert paused.returncode == 3, paused.stderr
    assert {p["chainId"] for p in json.loads(paused.stdout)["paused"] if p["tx"]} == set(gateways)
    assert all([await g.functions.inboundPaused().call() for g in gateways.values()])
