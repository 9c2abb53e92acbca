"""Reorgs on a live devnet: an event reorged out before its confirmations is dropped, never attested
or delivered — a bridge-back on a public chain (no release), and a bridge-out when the registry chain
is configured with confirmations instead of BFT finality (no mint)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from relayer.core.transfer_state import State
from tests.support.bridge import Bridge, relaying
from tests.support.faults import devnet_waiting

pytestmark = pytest.mark.integration
PUBLIC_CONFIRMATIONS = 4
REGISTRY_CONFIRMATIONS = 3


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with devnet_waiting(tmp_path_factory.mktemp("reorg"), PUBLIC_CONFIRMATIONS, REGISTRY_CONFIRMATIONS) as root:
        yield root


@pytest.fixture
async def bridge(devnet: Path) -> AsyncIterator[Bridge]:
    async with relaying(devnet, f"sqlite:///{devnet / 'reorg.db'}") as b:
        yield b


async def test_reorged_bridge_back_is_never_released(bridge: Bridge) -> None:
    """INV-003: a burn reorged out within its confirmations releases nothing."""
    ethereum = bridge.chain_id("ethereum")
    [out] = await bridge.bridge_out("Minjun", 5, "ethereum")
    await bridge.mine(bridge.registry, REGISTRY_CONFIRMATIONS)
    await bridge.wait([out], {State.CONFIRMED}, timeout=90)
    balance, locked = await bridge.registry_balance("Minjun"), await bridge.locked()
    client = bridge.clients[ethereum]
    await client.rpc("evm_setAutomine", [False])
    await client.rpc("evm_setIntervalMining", [0])
    sending = asyncio.create_task(bridge.bridge_back("Minjun", 2, "ethereum"))
    await asyncio.sleep(0.5)
    await client.rpc("evm_mine", [])  # the burn's block
    back = await sending
    observed = await bridge.wait([back], {State.OBSERVED}, timeout=10)  # seen at the tip, not yet final
    assert observed[back].source.block_hash
    assert await bridge.wrapped_balance("Minjun", "ethereum") == 3
    await client.rpc("anvil_reorg", [1, []])  # replace that block: the burn is gone
    await bridge.mine(ethereum, PUBLIC_CONFIRMATIONS + 2)
    await client.rpc("evm_setIntervalMining", [1])
    await asyncio.sleep(4)
    dropped = await bridge.wait([back], {State.DROPPED}, timeout=30)
    assert dropped[back].attestation is None
    escrow = bridge.contract("BridgeEscrow", bridge.registry, bridge.manifest.registry.contracts["escrow"])
    assert not await escrow.functions.isReleased(ethereum, 1).call()
    assert await bridge.registry_balance("Minjun") == balance
    assert await bridge.locked() == locked
    assert await bridge.wrapped_balance("Minjun", "ethereum") == 5  # the burn was undone with its block


async def test_reorged_bridge_out_is_never_minted(bridge: Bridge) -> None:
    """INV-002: with confirmations on the registry, a bridge-out reorged out mints nothing."""
    registry = bridge.registry
    [out] = await bridge.bridge_out("Minjun", 3, "rollup")
    await asyncio.sleep(1.0)  # observed at the tip, not final (3 confirmations)
    observed = await bridge.store.get(out)
    assert observed.state == State.OBSERVED
    await bridge.clients[registry].rpc("anvil_reorg", [1, []])  # the bridge-out's block is replaced
    await bridge.mine(registry, REGISTRY_CONFIRMATIONS + 2)
    dropped = await bridge.wait([out], {State.DROPPED}, timeout=30)
    assert dropped[out].attestation is None
    rollup = bridge.chain_id("rollup")
    gateway = bridge.contract(
        "BridgeGateway", rollup, next(c.contracts["gateway"] for c in bridge.manifest.public if c.chain_id == rollup)
    )
    assert not await gateway.functions.isProcessed(registry, int(out.split("-")[1])).call()
    await asyncio.sleep(2)
    assert (await bridge.store.get(out)).state == State.DROPPED
