"""What every fault scenario checks afterwards, and the devnet rewiring the scenarios share."""

from __future__ import annotations

import asyncio
import json
import tomllib
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tomli_w
from eth_account import Account
from eth_account.signers.local import LocalAccount

from relayer.devnet import control
from relayer.devnet.cast import DEPLOYER_KEY
from relayer.transfer_state import Kind, State, is_final
from tests.support.bridge import Bridge

RECONCILE_TIMEOUT = 120.0


def rewrite_config(root: Path, change: Callable[[dict[str, Any]], None]) -> None:
    """Applies ``change`` to ``root/dari.toml`` (daemons started afterwards read the new file)."""
    path = root / "dari.toml"
    document = tomllib.loads(path.read_text())
    change(document)
    path.write_text(tomli_w.dumps(document))


def set_confirmations(root: Path, public: int) -> None:
    """Every public chain of ``root``'s config waits ``public`` confirmations."""

    def change(document: dict[str, Any]) -> None:
        for chain in document["public"]:
            chain["confirmations"] = public

    rewrite_config(root, change)


async def restart_attestors(bridge: Bridge) -> None:
    """Stops and starts every attestor, so that they read the config again."""
    for attestor in bridge.config.attestors:
        if attestor.id in {r.name for r in bridge.processes.running()}:
            bridge.kill(attestor.id)
        await bridge.restart_attestor(attestor.id)


async def fund(bridge: Bridge, who: str, units: int, security: int = 0) -> None:
    """Mints ``units`` more of ``security`` on the registry to ``who`` (the devnet's agent key)."""
    agent: LocalAccount = Account.from_key(DEPLOYER_KEY)
    token = bridge.contract("SecurityToken", bridge.registry, bridge.manifest.securities[security].registry_token)
    await bridge.clients[bridge.registry].transact(
        token.functions.mint(bridge.investor(who).registry_address, units), agent
    )


async def source_nonces(bridge: Bridge) -> tuple[Counter[int], Counter[int]]:
    """How often each bridge-out nonce was minted (every public gateway) and refunded (the escrow)."""
    minted: Counter[int] = Counter()
    for chain in bridge.manifest.public:
        for event in await bridge.logs(chain.chain_id, chain.contracts["gateway"], "Minted"):
            minted[int(event["sourceNonce"])] += 1
    escrow = bridge.manifest.registry.contracts["escrow"]
    refunded = Counter(int(e["nonce"]) for e in await bridge.logs(bridge.registry, escrow, "Refunded"))
    return minted, refunded


def nonce(operation_id: str) -> int:
    return int(operation_id.split("-")[1])


async def assert_exactly_once(bridge: Bridge, mints: list[str], refunds: list[str]) -> None:
    """INV-001/INV-002/INV-008 after a fault: each of ``mints`` minted once and never refunded, each of
    ``refunds`` refunded once and never minted, no nonce minted or refunded twice, every operation in
    a final state, locked units equal to the wrapped supply, and `dari reconcile` balanced."""
    minted, refunded = await source_nonces(bridge)
    assert [n for n, c in minted.items() if c > 1] == [], "a bridge-out was minted twice"
    assert [n for n, c in refunded.items() if c > 1] == [], "a bridge-out was refunded twice"
    assert set(minted).isdisjoint(refunded), "a bridge-out was both minted and refunded"
    assert {nonce(i) for i in mints} <= set(minted), "a confirmed bridge-out is not minted"
    assert {nonce(i) for i in refunds} <= set(refunded), "a refunded bridge-out has no refund"
    assert {nonce(i) for i in mints}.isdisjoint(refunded)
    open_ = {k: n for k, n in (await bridge.store.counts()).items() if not is_final(Kind(k[0]), State(k[1]))}
    assert open_ == {}, f"operations not final: {open_}"
    assert await bridge.locked() == await bridge.wrapped_supply()
    report = await reconcile(bridge)
    assert report["balanced"], report


async def reconcile(bridge: Bridge) -> dict[str, Any]:
    """`dari reconcile --config root/dari.toml --json`, which must exit 0 (balanced and attested)."""
    proc = await asyncio.create_subprocess_exec(
        *control.PYTHON, "reconcile", "--config", str(bridge.root / "dari.toml"), "--json",
        env=bridge.env(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        stdout, stderr = await asyncio.wait_for(proc.communicate(), RECONCILE_TIMEOUT)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode == 0, f"dari reconcile exited {proc.returncode}: {stderr.decode()[-2000:]}"
    report: dict[str, Any] = json.loads(stdout)
    return report
