"""Faulty RPC: the relayer and the attestors reach every chain through a proxy that drops, delays and fails
a share of the requests (`tests.support.rpc_proxy`); transfers still end exactly once and the relayer
recovers by itself."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from relayer.core.transfer_state import State
from tests.support.bridge import Bridge, devnet_on_postgres
from tests.support.faults import assert_exactly_once, fund, restart_attestors, rewrite_config, variants
from tests.support.rpc_proxy import NONE, Faults, RpcFaultProxy

FAULTS = Faults(drop=0.10, delay=0.10, error=0.05)


@dataclass(frozen=True)
class Mix:
    mints_per_chain: int
    refunds: int
    backs: int


pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory, pg_admin: str) -> Iterator[tuple[Path, str]]:
    with devnet_on_postgres(tmp_path_factory.mktemp("rpc-faults"), pg_admin, "rpc_faults") as devnet:
        yield devnet


@pytest.fixture
async def proxied(devnet: tuple[Path, str]) -> AsyncIterator[tuple[Bridge, list[RpcFaultProxy]]]:
    """The devnet with the relayer's and the attestors' RPC behind faulty proxies (the test's own
    clients keep the direct URLs)."""
    root, url = devnet
    async with AsyncExitStack() as stack, Bridge(root, url) as bridge:
        chains = (bridge.manifest.registry, *bridge.manifest.public)
        proxies = [await stack.enter_async_context(RpcFaultProxy(c.rpc_url, FAULTS, seed=c.chain_id)) for c in chains]
        urls = {c.chain_id: p.url for c, p in zip(chains, proxies, strict=True)}

        def via_proxies(document: dict[str, Any]) -> None:
            for chain in (document["registry"], *document["public"]):
                chain["rpc_url"] = urls[chain["chain_id"]]

        rewrite_config(root, via_proxies)
        await restart_attestors(bridge)
        await bridge.start_relayer()
        try:
            yield bridge, proxies
        finally:
            for name in ("relayer", *(a.id for a in bridge.config.attestors)):
                if name in {r.name for r in bridge.processes.running()}:
                    bridge.kill(name)


@pytest.mark.parametrize("mix", variants(Mix(30, 20, 5), Mix(150, 100, 25)))
async def test_transfers_end_exactly_once_through_faulty_rpc(
    proxied: tuple[Bridge, list[RpcFaultProxy]], mix: Mix
) -> None:
    """INV-001/INV-002/INV-003/INV-008 with 10% of RPC requests dropped, 10% delayed and 5% failed on every
    chain: mints to both public chains, refunds and releases each end exactly once; the relayer stays up.
    Short: 30 mints per chain, 20 refunds, 5 bridge-backs; long (--long): 150, 100, 25."""
    bridge, proxies = proxied
    await fund(bridge, "Minjun", 2 * mix.mints_per_chain)
    await fund(bridge, "Bob", mix.refunds)
    mints = await bridge.bridge_out("Minjun", 1, "ethereum", count=mix.mints_per_chain)
    mints += await bridge.bridge_out("Minjun", 1, "rollup", count=mix.mints_per_chain)
    refunds = await bridge.bridge_out("Bob", 1, "ethereum", count=mix.refunds)
    await bridge.wait(mints, {State.CONFIRMED}, timeout=180 + mix.mints_per_chain)
    backs = [await bridge.bridge_back("Minjun", 1, "ethereum") for _ in range(mix.backs)]
    await bridge.wait(refunds, {State.REFUNDED}, timeout=120 + mix.refunds)
    await bridge.wait(backs, {State.CONFIRMED}, timeout=120 + mix.backs)
    assert "relayer" in {r.name for r in bridge.processes.running()}, "the relayer died"
    injected = sum((p.counts for p in proxies), start=Counter())
    assert min(injected["drop"], injected["delay"], injected["error"]) > 0, injected
    for proxy in proxies:
        proxy.faults = NONE  # reconciliation reads through the proxies too
    await assert_exactly_once(bridge, mints, refunds)


async def test_the_proxy_drops_delays_fails_and_forwards(anvil_url: str) -> None:
    """Each fault as configured: a hang-up, a 502 or JSON-RPC error, a late answer, a forwarded one."""
    request = {"jsonrpc": "2.0", "id": 7, "method": "eth_chainId", "params": []}
    async with RpcFaultProxy(anvil_url, Faults(drop=1.0)) as proxy, aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientError):
            async with session.post(proxy.url, json=request) as response:
                await response.read()
        proxy.faults = Faults(error=1.0)
        answers = set()
        for _ in range(8):
            async with session.post(proxy.url, json=request) as response:
                answers.add(response.status if response.status != 200 else (await response.json())["error"]["code"])
        assert answers == {502, -32603}
        proxy.faults = Faults(delay=1.0)
        started = time.monotonic()
        async with session.post(proxy.url, json=request) as response:
            assert (await response.json())["result"] == "0x7a69"
        assert time.monotonic() - started >= 0.05
        proxy.faults = NONE
        async with session.post(proxy.url, json=[request, {**request, "id": 8}]) as response:
            assert [a["id"] for a in await response.json()] == [7, 8]
        assert proxy.counts == Counter({"drop": 1, "error": 8, "delay": 1, "forward": 1})
