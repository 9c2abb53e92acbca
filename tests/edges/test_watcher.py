"""The chain watcher against anvil on SQLite and PostgreSQL: decoding, the persisted cursor, confirmations,
reorgs that drop or move an event, restarts, typed RPC failures."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from relayer.core.config import ChainConfig
from relayer.core.constants import BRIDGE_BACK, BRIDGE_OUT
from relayer.core.errors import RpcUnavailable
from relayer.core.events import WATCHED, BridgeBack, BridgeOut, ChainEvent, LogRef
from relayer.core.finality import Poll, ReorgTooDeep, window
from relayer.edges.chain.watcher import Watcher
from relayer.edges.db import engine as db
from relayer.edges.db.cursors import CursorStore
from relayer.edges.db.schema import block_hashes
from relayer.edges.evm.artifacts import Artifacts
from relayer.edges.evm.client import ChainClient, RevertDecoder
from relayer.edges.evm.logs import decode_log
from tests.contracts.system import System

H = {n: f"0x{n:064x}" for n in range(200)}  # the "old" chain's hashes by height
R = {n: f"0x{n + 1000:064x}" for n in range(200)}  # the chain after a reorg, above the fork

# --- against anvil ----------------------------------------------------------------------------


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = db.create_engine(database_url)
    await db.upgrade(engine)
    try:
        yield engine
    finally:
        await engine.dispose()


def watcher(system: System, engine: AsyncEngine, confirmations: int = 0, **kwargs: Any) -> Watcher:
    url = str(system.chain.w3.provider.endpoint_uri)
    chain = ChainConfig(name="test", chain_id=system.chain_id, rpc_url=url, confirmations=confirmations)
    return Watcher(
        chain,
        system.chain,
        engine,
        [system.registry.escrow, system.public.gateway],
        [BRIDGE_OUT, BRIDGE_BACK],
        **kwargs,
    )


async def drain(w: Watcher) -> list[Poll]:
    """Polls until the watcher has read up to the head."""
    polls = [await w.poll()]
    while polls[-1].scanned_to < polls[-1].head:
        polls.append(await w.poll())
    return polls


def seen(polls: list[Poll]) -> list[ChainEvent]:
    return [e for p in polls for e in p.observed]


async def mine(system: System, blocks: int) -> int:
    for _ in range(blocks):
        await system.chain.rpc("evm_mine", [])
    return int(await system.chain.rpc("eth_blockNumber", []), 16)


async def holder(system: System, units: int, mint_nonce: int = 1) -> LocalAccount:
    """A registered holder of ``units`` wrapped units (``mint_nonce``: the bridge-out the mint claims)."""
    account = await system.funded_account()
    await system.register_holder(account.address)
    await system.mint(account.address, units, mint_nonce)
    return account


async def bridge_back(system: System, account: LocalAccount, amount: int) -> str:
    """Burns ``amount`` wrapped units; returns the transaction hash."""
    fn = system.gateway.functions.bridgeBack(system.wrapped().address, amount, system.admin.address)
    receipt = await system.transact(fn, account)
    return receipt["transactionHash"].to_0x_hex()


async def canonical_events(system: System) -> list[ChainEvent]:
    """Every watched event on the chain now, decoded from one full ``eth_getLogs``."""
    logs = await system.chain.rpc(
        "eth_getLogs",
        [{"address": [system.registry.escrow, system.public.gateway], "fromBlock": "0x0", "toBlock": "latest"}],
    )
    return [e for log in logs if isinstance(e := decode_log(system.chain_id, log), WATCHED)]


@pytest.mark.integration
async def test_observes_decoded_events_and_resumes_from_the_cursor(
    system: System, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    ranges: list[tuple[int, int]] = []
    original = system.chain.batch

    async def spy(calls: Sequence[tuple[str, list[Any]]]) -> list[Any]:
        ranges.extend((int(p[0]["fromBlock"], 16), int(p[0]["toBlock"], 16)) for m, p in calls if m == "eth_getLogs")
        return await original(calls)

    monkeypatch.setattr(system.chain, "batch", spy)

    investor = await system.investor(units=100)
    wallet = await system.register_holder()
    nonce = await system.bridge_out(investor, 40, wallet)
    first = watcher(system, engine, max_range=8)
    polls = await drain(first)
    assert len(polls) > 2 and all(end - start < 8 for start, end in ranges)  # bounded ranges
    [out] = seen(polls)
    assert isinstance(out, BridgeOut)
    assert (out.nonce, out.sender, out.amount, out.dest_chain_id, out.recipient) == (
        nonce, investor.address, 40, system.chain_id, wallet
    )  # fmt: skip
    assert await first.is_final(out.ref, polls[-1].head) is True  # zero confirmations: final when seen
    assert (await first.poll()).observed == []
    cursor = await CursorStore(engine).get(system.chain_id)
    assert cursor is not None and cursor.block_number == polls[-1].head

    account = await holder(system, 10)
    tx = await bridge_back(system, account, 4)
    await mine(system, 3)
    ranges.clear()
    restarted = watcher(system, engine, max_range=8)  # a new process on the same database
    [back] = seen(await drain(restarted))
    assert isinstance(back, BridgeBack)
    assert (back.ref.tx_hash, back.holder, back.amount) == (tx, account.address, 4)
    assert ranges[0][0] == cursor.block_number + 1  # never rescans from genesis
    async with engine.connect() as conn:
        kept = (await conn.execute(select(block_hashes.c.block_number))).scalars().all()
    resumed = await CursorStore(engine).get(system.chain_id)
    assert resumed is not None and max(kept) == resumed.block_number
    assert len(kept) <= window(0)


@pytest.mark.integration
async def test_an_event_is_final_after_its_confirmations(system: System, engine: AsyncEngine) -> None:
    account = await holder(system, 10)
    w = watcher(system, engine, confirmations=3)
    await drain(w)
    await bridge_back(system, account, 1)
    poll = await w.poll()
    [event] = poll.observed  # seen at once, at the head
    assert (poll.head, poll.safe_block) == (event.ref.block_number, event.ref.block_number - 3)
    assert await w.is_final(event.ref, poll.head) is None
    head = await mine(system, 2)
    assert await w.is_final(event.ref, head) is None
    head = await mine(system, 1)
    assert await w.is_final(event.ref, head) is True
    poll = await w.poll()
    assert poll.observed == [] and poll.safe_block == event.ref.block_number


@pytest.mark.integration
async def test_a_reorg_that_removes_an_event(system: System, engine: AsyncEngine) -> None:
    account = await holder(system, 10)
    w = watcher(system, engine, confirmations=3)
    await drain(w)
    await bridge_back(system, account, 2)
    await mine(system, 1)
    [event] = (await w.poll()).observed
    await system.chain.rpc("anvil_reorg", [2, []])  # the event's block and the next, replaced by empty ones
    poll = await w.poll()
    assert poll.reorged_from == event.ref.block_number - 1
    assert poll.reorged == [event.ref]
    assert poll.observed == []
    assert await w.is_final(event.ref, poll.head) is False
    assert await w.is_final(event.ref, await mine(system, 5)) is False  # never final however deep
    assert (await w.poll()).reorged_from is None


@pytest.mark.integration
async def test_a_reorg_that_moves_an_event_to_another_block(system: System, engine: AsyncEngine) -> None:
    account = await holder(system, 10)
    w = watcher(system, engine, confirmations=3)
    await drain(w)
    tx = await bridge_back(system, account, 3)
    raw = await system.chain.rpc("eth_getRawTransactionByHash", [tx])
    await mine(system, 1)
    [old] = (await w.poll()).observed
    await system.chain.rpc("anvil_reorg", [2, [[raw, 1]]])  # the same transaction, one block later
    poll = await w.poll()
    assert (poll.reorged_from, poll.reorged) == (old.ref.block_number - 1, [old.ref])
    [new] = poll.observed
    assert isinstance(new, BridgeBack) and new.ref.tx_hash == tx
    assert new.ref.block_number == old.ref.block_number + 1
    assert new.ref.block_hash != old.ref.block_hash
    assert isinstance(old, BridgeBack) and (new.nonce, new.amount) == (old.nonce, 3)
    assert await w.is_final(old.ref, poll.head) is False
    assert await w.is_final(new.ref, poll.head) is None
    head = await mine(system, 3)
    assert await w.finality([old.ref, new.ref], head) == [False, True]


@pytest.mark.integration
async def test_restart_after_a_reorg_neither_loses_nor_duplicates(system: System, engine: AsyncEngine) -> None:
    account = await holder(system, 10)
    other = await holder(system, 10, mint_nonce=2)  # sends after the reorg (`account`'s local nonce is stale)
    first = watcher(system, engine, confirmations=3)
    await drain(first)
    await bridge_back(system, account, 1)  # stays
    tx = await bridge_back(system, account, 2)  # moves
    raw = await system.chain.rpc("eth_getRawTransactionByHash", [tx])
    await bridge_back(system, account, 3)  # dropped
    before = seen(await drain(first))
    assert len(before) == 3
    del first  # the process stops

    await system.chain.rpc("anvil_reorg", [2, [[raw, 1]]])
    await bridge_back(system, other, 4)
    await mine(system, 3)
    second = watcher(system, engine, confirmations=3, max_range=2)
    polls = await drain(second)
    assert [p.reorged_from for p in polls if p.reorged_from is not None] == [before[1].ref.block_number - 1]
    assert all(p.reorged == [] for p in polls)  # the new process never reported the old events
    after = seen(polls)
    assert [e.amount if isinstance(e, BridgeBack) else None for e in after] == [2, 4]

    head = polls[-1].head
    verdicts = await second.finality([e.ref for e in before + after], head)
    kept = [e for e, final in zip(before + after, verdicts, strict=True) if final is not False]
    assert kept == await canonical_events(system)
    assert len({(e.ref.tx_hash, e.ref.log_index) for e in kept}) == len(kept)


@pytest.mark.integration
async def test_logs_from_another_fork_than_the_headers_are_read_again(
    system: System, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The chain changed between ``eth_getLogs`` and the headers: nothing is reported, the cursor stays."""
    account = await holder(system, 10)
    w = watcher(system, engine, confirmations=3)
    before = (await drain(w))[-1].scanned_to
    tx = await bridge_back(system, account, 1)
    original = system.chain.batch

    async def other_fork(calls: Sequence[tuple[str, list[Any]]]) -> list[Any]:
        results = await original(calls)
        if calls[0][0] == "eth_getLogs":
            results[0] = [{**log, "blockHash": R[0]} for log in results[0]]
        return results

    monkeypatch.setattr(system.chain, "batch", other_fork)
    poll = await w.poll()
    assert (poll.observed, poll.scanned_to) == ([], before)
    monkeypatch.undo()
    [event] = (await w.poll()).observed
    assert event.ref.tx_hash == tx


@pytest.mark.integration
async def test_a_reorg_deeper_than_the_window_is_fatal(system: System, tmp_path: Path) -> None:
    engine = db.create_engine(f"sqlite:///{tmp_path / 'w.db'}")
    await db.upgrade(engine)
    try:
        w = watcher(system, engine, confirmations=1, window=3)
        await drain(w)
        await system.chain.rpc("anvil_reorg", [5, []])
        with pytest.raises(ReorgTooDeep) as caught:
            await w.poll()
        assert caught.value.chain_id == system.chain_id
    finally:
        await engine.dispose()


async def test_rpc_failures_are_typed(tmp_path: Path, artifacts: Artifacts) -> None:
    engine = db.create_engine(f"sqlite:///{tmp_path / 'w.db'}")
    await db.upgrade(engine)
    chain = ChainConfig(name="test", chain_id=31337, rpc_url="http://127.0.0.1:1", confirmations=0)
    address = "0x" + "11" * 20
    try:
        async with ChainClient("http://127.0.0.1:1", RevertDecoder.from_artifacts(artifacts)) as client:
            with pytest.raises(RpcUnavailable):
                await Watcher(chain, client, engine, [address], []).poll()
        with pytest.raises(ValueError, match="window"):
            Watcher(chain.model_copy(update={"confirmations": 5}), client, engine, [address], [], window=5)
        with pytest.raises(ValueError, match="address"):
            Watcher(chain, client, engine, [], [])
    finally:
        await engine.dispose()


async def test_rpc_error_answers_are_typed(chain: ChainClient, tmp_path: Path) -> None:
    engine = db.create_engine(f"sqlite:///{tmp_path / 'w.db'}")
    await db.upgrade(engine)
    config = ChainConfig(name="test", chain_id=31337, rpc_url="http://127.0.0.1:1", confirmations=0)
    try:
        w = Watcher(config, chain, engine, ["0x" + "11" * 20], ["0x12"])  # a malformed topic: the node refuses
        with pytest.raises(RpcUnavailable) as caught:
            await w.poll()
        assert caught.value.method == "eth_getLogs" and caught.value.code is not None
        with pytest.raises(ValueError, match="chain"):
            await w.is_final(LogRef(1, 1, H[1], H[2], 0, "0x" + "11" * 20), 5)
    finally:
        await engine.dispose()
