"""A reorg on a public chain deeper than one block and shallower than its confirmations (depth 2 of 4):
it takes away blocks holding the relayer's mint transaction, which must be delivered again exactly once
(a mint is confirmed only once its block is final), and, separately, a bridge-back, whose burn must
never be released."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from eth_typing import HexStr

from relayer.core.transfer_state import Event, State
from tests.support.bridge import Bridge, relaying
from tests.support.faults import assert_exactly_once, devnet_waiting, nonce, source_nonces

pytestmark = pytest.mark.integration
CONFIRMATIONS = 4
DEPTH = 2


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with devnet_waiting(tmp_path_factory.mktemp("deep-reorg"), CONFIRMATIONS) as root:
        yield root


@pytest.fixture
async def bridge(devnet: Path) -> AsyncIterator[Bridge]:
    async with relaying(devnet, f"sqlite:///{devnet / 'reorg.db'}") as b:
        yield b


async def hold_blocks(bridge: Bridge, chain_id: int) -> None:
    """No block on ``chain_id`` until the test mines one (or calls `resume_blocks`)."""
    await bridge.clients[chain_id].rpc("evm_setAutomine", [False])
    await bridge.clients[chain_id].rpc("evm_setIntervalMining", [0])


async def resume_blocks(bridge: Bridge, chain_id: int) -> None:
    await bridge.clients[chain_id].rpc("evm_setIntervalMining", [1])


async def test_reorged_mint_is_delivered_again_exactly_once(bridge: Bridge) -> None:
    """INV-001/INV-002: mints mined, then reorged out two blocks deep before their four confirmations,
    stay `submitted` (never confirmed while shallow), go back to `attested`, are sent again and
    minted exactly once; locked units equal the wrapped supply."""
    ethereum = bridge.chain_id("ethereum")
    client = bridge.clients[ethereum]
    await hold_blocks(bridge, ethereum)
    try:
        ids = await bridge.bridge_out("Minjun", 1, "ethereum", count=3)
        submitted = await bridge.wait(ids, {State.SUBMITTED}, timeout=60)
        await bridge.mine(ethereum, DEPTH)  # the mint transaction's block and one more
        for op in submitted.values():
            receipt = await client.w3.eth.get_transaction_receipt(HexStr(op.dest_tx_hash or ""))
            assert receipt["status"] == 1
        minted, _ = await source_nonces(bridge)
        assert {nonce(i) for i in ids} <= set(minted)
        await asyncio.sleep(2)  # several relayer passes see the mint one block deep
        assert {(await bridge.store.get(i)).state for i in ids} == {State.SUBMITTED}
        await client.rpc("anvil_reorg", [DEPTH, []])  # both blocks replaced by empty ones
        minted, _ = await source_nonces(bridge)
        assert not {nonce(i) for i in ids} & set(minted), "the reorg left a mint in place"
    finally:
        await resume_blocks(bridge, ethereum)
    await bridge.wait(ids, {State.CONFIRMED}, timeout=90)
    for op_id in ids:
        events = [h["event"] for h in await bridge.store.history(op_id)]
        assert Event.SUBMISSION_FAILED.value in events, f"{op_id} was not delivered again: {events}"
    await assert_exactly_once(bridge, ids, [])


async def test_reorged_bridge_back_is_never_released(bridge: Bridge) -> None:
    """INV-003: a burn reorged out two blocks deep, before its four confirmations, is dropped and never
    released; the wrapped units come back with the reorg and supply still balances."""
    ethereum = bridge.chain_id("ethereum")
    [out] = await bridge.bridge_out("Minjun", 4, "ethereum")
    await bridge.wait([out], {State.CONFIRMED}, timeout=90)
    wrapped, locked = await bridge.wrapped_balance("Minjun", "ethereum"), await bridge.locked()
    await hold_blocks(bridge, ethereum)
    try:
        sending = asyncio.create_task(bridge.bridge_back("Minjun", 2, "ethereum"))
        await asyncio.sleep(0.5)
        await bridge.mine(ethereum, 1)  # the burn's block
        back = await sending
        await bridge.mine(ethereum, DEPTH - 1)
        await bridge.wait([back], {State.OBSERVED}, timeout=10)  # seen, not final
        assert await bridge.wrapped_balance("Minjun", "ethereum") == wrapped - 2
        await bridge.clients[ethereum].rpc("anvil_reorg", [DEPTH, []])  # the burn is gone
        await bridge.mine(ethereum, CONFIRMATIONS + 2)
    finally:
        await resume_blocks(bridge, ethereum)
    dropped = await bridge.wait([back], {State.DROPPED}, timeout=30)
    assert dropped[back].attestation is None
    escrow = bridge.contract("BridgeEscrow", bridge.registry, bridge.manifest.registry.contracts["escrow"])
    assert not await escrow.functions.isReleased(ethereum, nonce(back)).call()
    assert await bridge.wrapped_balance("Minjun", "ethereum") == wrapped
    assert await bridge.locked() == locked
    await assert_exactly_once(bridge, [out], [])
