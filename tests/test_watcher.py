"""The chain watcher: pure fork-point and finality logic, then against anvil on SQLite and PostgreSQL:
decoding, the persisted cursor, confirmations, reorgs that drop or move an event, restarts."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from relayer import db
from relayer.config import ChainConfig
from relayer.cursors import CursorStore
from relayer.events import BRIDGE_BACK, BRIDGE_OUT, BridgeBack, BridgeOut, ChainEvent, LogRef, decode_log
from relayer.evm.artifacts import Artifacts
from relayer.evm.client import ChainClient, RevertDecoder
from relayer.finality import Header, ReorgTooDeep, Span, fork_point, is_final, linked, next_span, window
from relayer.schema import block_hashes
from relayer.watcher import Poll, RpcUnavailable, Watcher
from tests.contracts.system import System

H = {n: f"0x{n:064x}" for n in range(200)}  # the "old" chain's hashes by height
R = {n: f"0x{n + 1000:064x}" for n in range(200)}  # the chain after a reorg, above the fork

# --- pure: fork point -------------------------------------------------------------------------


def test_no_reorg_has_no_fork_point() -> None:
    stored = {n: H[n] for n in range(10, 20)}
    assert fork_point(stored, stored) is None
    assert fork_point(stored, {**stored, 20: H[20], 21: H[21]}) is None  # the chain grew
    assert fork_point({}, {}) is None


def test_reorg_at_the_tip() -> None:
    stored = {n: H[n] for n in range(10, 20)}
    assert fork_point(stored, {**stored, 19: R[19]}) == 18


def test_deep_reorg_within_the_window() -> None:
    stored = {n: H[n] for n in range(10, 20)}
    canonical = {n: H[n] if n <= 12 else R[n] for n in range(10, 20)}
    assert fork_point(stored, canonical) == 12


def test_chain_got_shorter() -> None:
    stored = {n: H[n] for n in range(10, 20)}
    canonical: dict[int, str | None] = {n: H[n] if n <= 15 else None for n in range(10, 20)}
    assert fork_point(stored, canonical) == 15
    del canonical[19]  # a missing height counts as "no block there"
    assert fork_point(stored, canonical) == 15


def test_window_exhausted_is_fatal() -> None:
    stored = {n: H[n] for n in range(10, 20)}
    with pytest.raises(ReorgTooDeep) as caught:
        fork_point(stored, {n: R[n] for n in range(10, 20)})
    assert caught.value.lowest == 10


def test_gaps_in_the_remembered_hashes() -> None:
    """After catching up, the oldest remembered hash may stand alone far below the window."""
    stored = {3: H[3], **{n: H[n] for n in range(10, 20)}}
    assert fork_point(stored, {3: H[3], **{n: R[n] for n in range(10, 20)}}) == 3


def test_an_inconsistent_answer_forks_below_the_lowest_change() -> None:
    """Hashes commit to their ancestors, so a change at 12 means 13 and up changed too, whatever a
    node answered for them."""
    stored = {n: H[n] for n in range(10, 20)}
    assert fork_point(stored, {**stored, 12: R[12]}) == 11


@given(
    length=st.integers(2, 60),
    shared=st.integers(0, 59),
    kept=st.integers(1, 60),
    growth=st.integers(-10, 10),
)
def test_fork_point_of_any_simulated_reorg(length: int, shared: int, kept: int, growth: int) -> None:
    shared = min(shared, length - 1)  # the last block both chains share
    old = [H[n] for n in range(length)]
    new = old[: shared + 1] + [R[n] for n in range(shared + 1, max(shared + 1, length + growth))]
    stored = {n: old[n] for n in range(max(0, length - kept), length)}
    canonical = {n: new[n] if n < len(new) else None for n in stored}
    if shared == length - 1:
        assert fork_point(stored, canonical) is None
    elif min(stored) > shared:
        with pytest.raises(ReorgTooDeep):
            fork_point(stored, canonical)
    else:
        assert fork_point(stored, canonical) == shared


# --- pure: finality, spans, linkage -----------------------------------------------------------


@pytest.mark.parametrize(
    ("block", "canonical", "head", "confirmations", "expected"),
    [
        (10, H[10], 10, 3, None),  # just seen
        (10, H[10], 12, 3, None),  # two on top
        (10, H[10], 13, 3, True),  # three on top
        (10, R[10], 13, 3, False),  # replaced by another block
        (10, R[10], 10, 3, False),  # reorged out before its confirmations
        (10, None, 9, 3, False),  # the chain got shorter
        (10, H[10], 10, 0, True),  # BFT registry chain: final when seen
        (10, R[10], 10, 0, False),
    ],
)
def test_is_final(block: int, canonical: str | None, head: int, confirmations: int, expected: bool | None) -> None:
    assert is_final(block, H[block], canonical, head, confirmations) is expected


def test_next_span() -> None:
    assert next_span(11, 10, 2000, 67) is None  # caught up
    assert next_span(11, 11, 2000, 67) == Span(11, 11, 11)
    assert next_span(1, 100, 2000, 67) == Span(1, 100, 34)  # keeps the window's hashes only
    assert next_span(1, 10_000, 2000, 67) == Span(1, 2000, 2000)  # far behind: keeps the new cursor's
    assert next_span(9900, 10_000, 2000, 67) == Span(9900, 10_000, 9934)
    assert next_span(0, 5, 2, 67) == Span(0, 1, 0)
    assert window(3) == 67
    with pytest.raises(ValueError, match="at least 1"):
        next_span(0, 5, 0, 67)


def test_linked_headers() -> None:
    chain = [Header(n, H[n], H[n - 1]) for n in range(5, 9)]
    assert linked(chain, H[4])
    assert linked(chain, None)
    assert linked([], H[4])
    assert not linked(chain, R[4])  # the cursor's block was replaced
    assert not linked([*chain[:2], Header(7, H[7], R[6]), chain[3]], None)  # mixed forks
    assert not linked([chain[0], chain[2]], None)  # a gap


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
    return [e for log in logs if (e := decode_log(system.chain_id, log)) is not None]


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
