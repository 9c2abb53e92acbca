"""The intake stage (`relayer.pipeline.intake.Intake`) over the in-memory store, watchers and contract reads:
each watched event recorded as its operation(s) (observed) before the watcher's cursor moves, never twice,
and the observed operations finalized once final, dropped once reorged out, left while not deep enough."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from relayer.core.config import SecurityConfig
from relayer.core.constants import ZERO_ADDRESS
from relayer.core.errors import RpcUnavailable
from relayer.core.events import (
    AddressFrozen,
    BridgeBack,
    BridgeOut,
    InvestorRevoked,
    LogRef,
    WalletLinked,
    WalletUnlinked,
)
from relayer.core.model import Operation, Source
from relayer.core.operations import operation_for
from relayer.core.transfer_state import Kind, State
from relayer.pipeline.intake import Intake
from relayer.pipeline.moves import Mover
from tests.support.memory import Clock, MemoryContractReads, MemoryOperationStore, MemoryWatcher

REGISTRY = 820001
ETHEREUM = 31337
ROLLUP = 31338
PUBLIC = (ETHEREUM, ROLLUP)

SECURITY_ID = "0x" + "5c" * 32
REGISTRY_TOKEN = "0x5FC8d32690cc91D4c39d9d3abcBD16989F875707"
SECURITIES = [
    SecurityConfig(id="0x" + "11" * 32, isin="KR6000001234", name="Bond", asset_class="debt"),
    SecurityConfig(
        id=SECURITY_ID, isin="KR7005930003", name="Hanbit", asset_class="equity", registry_token=REGISTRY_TOKEN
    ),
]

INVESTOR = "0x" + "a1" * 20  # a registry account
WALLET = "0x" + "b2" * 20  # its wallet on ethereum
ROLLUP_WALLET = "0x" + "c3" * 20
WRAPPED = "0x" + "44" * 20


def block_hash(number: int, fork: int = 0) -> str:
    return f"0x{fork:032x}{number:032x}"


def ref(chain_id: int, block: int, log_index: int = 0, fork: int = 0) -> LogRef:
    return LogRef(chain_id, block, block_hash(block, fork), f"0x{chain_id:032x}{block:016x}{log_index:016x}",
                  log_index, "0x" + "99" * 20)  # fmt: skip


def bridge_out(nonce: int, block: int, token: str = REGISTRY_TOKEN, fork: int = 0) -> BridgeOut:
    return BridgeOut(ref(REGISTRY, block, fork=fork), nonce, token, INVESTOR, 100, ETHEREUM, WALLET)


class Harness:
    """The intake of a registry (final at once) and two public chains (2 confirmations) over memory."""

    def __init__(self) -> None:
        self.clock = Clock()
        self.store = MemoryOperationStore(self.clock)
        self.watchers = {
            REGISTRY: MemoryWatcher(REGISTRY),
            ETHEREUM: MemoryWatcher(ETHEREUM, confirmations=2),
            ROLLUP: MemoryWatcher(ROLLUP, confirmations=2),
        }
        self.reads = FlakyReads()
        self.intake = Intake(
            self.store, self.watchers, Mover(self.store, self.clock), registry_chain_id=REGISTRY,
            public_chain_ids=PUBLIC, securities=SECURITIES,
        )  # fmt: skip

    async def ingest(self, chain_id: int) -> None:
        await self.intake.ingest(chain_id, self.reads)

    async def states(self) -> dict[str, State]:
        return {op.id: op.state for op in await self.store.find(limit=1000)}

    async def ops(self) -> list[Operation]:
        return await self.store.find(limit=1000)


class FlakyReads(MemoryContractReads):
    """Contract reads whose WalletLinks view fails while ``down``."""

    down: bool = False

    async def linked_wallet(self, investor: str, chain_id: int) -> str:
        if self.down:
            raise RpcUnavailable("eth_call", "connection refused")
        return await super().linked_wallet(investor, chain_id)


class FlakyStore(MemoryOperationStore):
    """An operations store whose recording fails while ``down``."""

    down = False

    async def observe_many(self, ops: Sequence[Operation]) -> list[bool]:
        if self.down:
            raise ConnectionResetError("database connection lost")
        return await super().observe_many(ops)


@pytest.fixture
def h() -> Harness:
    return Harness()


# --- ingest: which operations an event starts ------------------------------------------------------------


async def test_bridge_out_becomes_one_observed_operation_with_its_security(h: Harness) -> None:
    event = bridge_out(7, 10)
    h.watchers[REGISTRY].emit(event)
    await h.ingest(REGISTRY)
    [op] = await h.ops()
    assert op.id == "820001-7"
    assert (op.kind, op.state, op.dest_chain_id, op.source_nonce) == (Kind.BRIDGE_OUT, State.OBSERVED, ETHEREUM, 7)
    assert (op.security_id, op.token, op.sender, op.recipient, op.amount) == (
        SECURITY_ID, REGISTRY_TOKEN, INVESTOR, WALLET, 100,
    )  # fmt: skip
    assert op.source == Source(REGISTRY, event.ref.tx_hash, 10, block_hash(10), 0)
    assert (op.attempts, op.next_attempt_at, op.created_at) == (0, h.clock.utc(), h.clock.utc())
    assert [e["to"] for e in await h.store.history(op.id)] == ["observed"]


async def test_bridge_out_of_an_unconfigured_token_is_observed_without_a_security(h: Harness) -> None:
    h.watchers[REGISTRY].emit(bridge_out(8, 10, token="0x" + "77" * 20))
    await h.ingest(REGISTRY)
    [op] = await h.ops()
    assert (op.id, op.security_id) == ("820001-8", None)


async def test_bridge_back_becomes_one_operation_keyed_by_its_chain(h: Harness) -> None:
    h.watchers[ETHEREUM].emit(BridgeBack(ref(ETHEREUM, 30, 2), 3, WRAPPED, WALLET, 9, INVESTOR))
    await h.ingest(ETHEREUM)
    [op] = await h.ops()
    assert (op.id, op.kind, op.state, op.dest_chain_id) == ("31337-3", Kind.BRIDGE_BACK, State.OBSERVED, REGISTRY)
    assert (op.source.chain_id, op.token, op.sender, op.recipient, op.amount, op.security_id) == (
        ETHEREUM, WRAPPED, WALLET, INVESTOR, 9, None,
    )  # fmt: skip


async def test_wallet_link_and_unlink_become_holder_operations_at_their_position(h: Harness) -> None:
    h.watchers[REGISTRY].emit(WalletLinked(ref(REGISTRY, 12, 4), INVESTOR, ROLLUP, ROLLUP_WALLET))
    h.watchers[REGISTRY].emit(WalletUnlinked(ref(REGISTRY, 13, 1), INVESTOR, ROLLUP, ROLLUP_WALLET))
    await h.ingest(REGISTRY)
    found = {op.id: (op.kind, op.state, op.dest_chain_id, op.sender, op.recipient, op.payload) for op in await h.ops()}
    assert found == {
        "link-820001-12-4": (Kind.HOLDER_REGISTER, State.OBSERVED, ROLLUP, INVESTOR, ROLLUP_WALLET, {}),
        "unlink-820001-13-1": (Kind.HOLDER_REVOKE, State.OBSERVED, ROLLUP, INVESTOR, ROLLUP_WALLET, {"reason": 2}),
    }


async def test_kyc_revocation_becomes_one_operation_per_linked_public_chain(h: Harness) -> None:
    h.reads.wallets = {(INVESTOR, ETHEREUM): WALLET, (INVESTOR, ROLLUP): ROLLUP_WALLET}
    h.watchers[REGISTRY].emit(InvestorRevoked(ref(REGISTRY, 15), INVESTOR, b"\x01" * 32))
    await h.ingest(REGISTRY)
    found = {op.id: (op.kind, op.dest_chain_id, op.sender, op.recipient, op.payload) for op in await h.ops()}
    assert found == {
        "revoke-31337-820001-15-0": (Kind.HOLDER_REVOKE, ETHEREUM, INVESTOR, WALLET, {"reason": 1}),
        "revoke-31338-820001-15-0": (Kind.HOLDER_REVOKE, ROLLUP, INVESTOR, ROLLUP_WALLET, {"reason": 1}),
    }
    assert h.reads.reads == 2  # one WalletLinks read per public chain


async def test_revocation_skips_chains_where_the_linked_wallet_is_the_zero_address(h: Harness) -> None:
    h.reads.wallets = {(INVESTOR, ETHEREUM): ZERO_ADDRESS, (INVESTOR, ROLLUP): ROLLUP_WALLET}
    h.watchers[REGISTRY].emit(InvestorRevoked(ref(REGISTRY, 15), INVESTOR, b"\x01" * 32))
    await h.ingest(REGISTRY)
    assert [op.id for op in await h.ops()] == ["revoke-31338-820001-15-0"]


async def test_revocation_of_an_investor_without_linked_wallets_starts_nothing(h: Harness) -> None:
    h.watchers[REGISTRY].emit(InvestorRevoked(ref(REGISTRY, 15), INVESTOR, b"\x01" * 32))
    await h.ingest(REGISTRY)
    assert await h.ops() == []
    assert h.watchers[REGISTRY].cursor == 1


async def test_freeze_revokes_and_unfreeze_registers_again_on_each_linked_chain(h: Harness) -> None:
    h.reads.wallets = {(INVESTOR, ETHEREUM): WALLET}
    h.watchers[REGISTRY].emit(AddressFrozen(ref(REGISTRY, 16, 3), INVESTOR, True))
    h.watchers[REGISTRY].emit(AddressFrozen(ref(REGISTRY, 17, 0), INVESTOR, False))
    await h.ingest(REGISTRY)
    found = {op.id: (op.kind, op.dest_chain_id, op.recipient, op.payload) for op in await h.ops()}
    assert found == {
        "freeze-31337-820001-16-3": (Kind.HOLDER_REVOKE, ETHEREUM, WALLET, {"reason": 3}),
        "unfreeze-31337-820001-17-0": (Kind.HOLDER_REGISTER, ETHEREUM, WALLET, {}),
    }


# --- ingest: exactly once ---------------------------------------------------------------------------------


async def test_events_handed_over_again_are_not_observed_twice(h: Harness) -> None:
    watcher = h.watchers[REGISTRY]
    watcher.emit(bridge_out(7, 10))
    await h.ingest(REGISTRY)
    await h.intake.finalize(REGISTRY)
    watcher.cursor = 0  # a restarted watcher reads from an older cursor
    await h.ingest(REGISTRY)
    assert await h.states() == {"820001-7": State.FINALIZED}
    assert [e["to"] for e in await h.store.history("820001-7")] == ["observed", "finalized"]


async def test_an_event_handed_twice_in_one_poll_is_one_operation(h: Harness) -> None:
    h.watchers[REGISTRY].emit(bridge_out(7, 10))
    h.watchers[REGISTRY].emit(bridge_out(7, 10))
    await h.ingest(REGISTRY)
    assert await h.states() == {"820001-7": State.OBSERVED}
    assert len(await h.store.history("820001-7")) == 1


async def test_a_failed_read_while_recording_leaves_the_cursor_for_the_next_poll(h: Harness) -> None:
    watcher = h.watchers[REGISTRY]
    h.reads.wallets = {(INVESTOR, ETHEREUM): WALLET}
    watcher.emit(bridge_out(7, 10))
    watcher.emit(InvestorRevoked(ref(REGISTRY, 11), INVESTOR, b"\x01" * 32))
    h.reads.down = True
    with pytest.raises(RpcUnavailable):
        await h.ingest(REGISTRY)
    assert watcher.cursor == 0
    assert await h.ops() == []
    h.reads.down = False
    await h.ingest(REGISTRY)
    assert watcher.cursor == 2
    assert await h.states() == {"820001-7": State.OBSERVED, "revoke-31337-820001-11-0": State.OBSERVED}


async def test_a_failed_store_while_recording_leaves_the_cursor_for_the_next_poll() -> None:
    clock = Clock()
    store = FlakyStore(clock)
    watcher = MemoryWatcher(REGISTRY)
    intake = Intake(store, {REGISTRY: watcher}, Mover(store, clock), registry_chain_id=REGISTRY,
                    public_chain_ids=PUBLIC, securities=SECURITIES)  # fmt: skip
    watcher.emit(bridge_out(7, 10))
    store.down = True
    with pytest.raises(ConnectionResetError):
        await intake.ingest(REGISTRY, MemoryContractReads())
    assert watcher.cursor == 0
    await intake.finalize(REGISTRY)  # no poll completed: nothing to finalize against
    store.down = False
    await intake.ingest(REGISTRY, MemoryContractReads())
    assert watcher.cursor == 1
    assert [(op.id, op.state) for op in await store.find()] == [("820001-7", State.OBSERVED)]


# --- finalize ---------------------------------------------------------------------------------------------


async def test_finalize_moves_final_operations_on(h: Harness) -> None:
    h.watchers[REGISTRY].emit(bridge_out(7, 10))
    await h.ingest(REGISTRY)
    await h.intake.finalize(REGISTRY)
    [op] = await h.ops()
    assert op.state == State.FINALIZED
    assert (op.attempts, op.next_attempt_at) == (0, h.clock.utc())  # due for decide at once
    assert [(e["from"], e["to"], e["event"]) for e in await h.store.history(op.id)] == [
        (None, "observed", "reobserved"),
        ("observed", "finalized", "finalized"),
    ]


async def test_finalize_waits_for_the_chains_confirmations(h: Harness) -> None:
    watcher = h.watchers[ETHEREUM]
    watcher.emit(BridgeBack(ref(ETHEREUM, 10), 3, WRAPPED, WALLET, 9, INVESTOR))
    await h.ingest(ETHEREUM)
    await h.intake.finalize(ETHEREUM)
    assert await h.states() == {"31337-3": State.OBSERVED}
    watcher.head = 11
    await h.ingest(ETHEREUM)
    await h.intake.finalize(ETHEREUM)
    assert await h.states() == {"31337-3": State.OBSERVED}  # 1 block deep of 2
    watcher.head = 12
    await h.ingest(ETHEREUM)
    await h.intake.finalize(ETHEREUM)
    assert await h.states() == {"31337-3": State.FINALIZED}


async def test_finalize_uses_the_head_of_the_last_poll(h: Harness) -> None:
    watcher = h.watchers[ETHEREUM]
    watcher.emit(BridgeBack(ref(ETHEREUM, 10), 3, WRAPPED, WALLET, 9, INVESTOR))
    await h.ingest(ETHEREUM)
    watcher.head = 50  # the chain moved on, but intake has not polled it since
    await h.intake.finalize(ETHEREUM)
    assert await h.states() == {"31337-3": State.OBSERVED}


async def test_finalize_drops_operations_whose_block_is_no_longer_canonical(h: Harness) -> None:
    watcher = h.watchers[REGISTRY]
    watcher.emit(bridge_out(7, 10))
    watcher.emit(bridge_out(8, 11))
    await h.ingest(REGISTRY)
    watcher.canonical[10] = block_hash(10, fork=1)  # a reorg replaced block 10
    del watcher.canonical[11]  # and the chain got shorter
    await h.intake.finalize(REGISTRY)
    assert await h.states() == {"820001-7": State.DROPPED, "820001-8": State.DROPPED}
    assert [(e["to"], e["detail"]) for e in await h.store.history("820001-7")][-1] == ("dropped", "reorged out")


async def test_a_dropped_event_seen_again_in_another_block_is_observed_again(h: Harness) -> None:
    watcher = h.watchers[REGISTRY]
    watcher.emit(bridge_out(7, 10))
    await h.ingest(REGISTRY)
    watcher.canonical[10] = block_hash(10, fork=1)
    await h.intake.finalize(REGISTRY)
    watcher.emit(bridge_out(7, 12, fork=1))  # re-included in the new chain
    await h.ingest(REGISTRY)
    [op] = await h.ops()
    assert (op.state, op.source.block_number, op.source.block_hash) == (State.OBSERVED, 12, block_hash(12, fork=1))
    await h.intake.finalize(REGISTRY)
    assert await h.states() == {"820001-7": State.FINALIZED}


async def test_finalize_touches_only_its_own_chain(h: Harness) -> None:
    h.watchers[REGISTRY].emit(bridge_out(7, 10))
    h.watchers[ROLLUP].emit(BridgeBack(ref(ROLLUP, 10), 3, WRAPPED, ROLLUP_WALLET, 9, INVESTOR))
    h.watchers[ROLLUP].head = 20
    await h.ingest(REGISTRY)
    await h.ingest(ROLLUP)
    await h.intake.finalize(REGISTRY)
    assert await h.states() == {"820001-7": State.FINALIZED, "31338-3": State.OBSERVED}
    await h.intake.finalize(ROLLUP)
    assert await h.states() == {"820001-7": State.FINALIZED, "31338-3": State.FINALIZED}


async def test_finalize_before_any_poll_does_nothing(h: Harness) -> None:
    event = bridge_out(7, 10)
    h.watchers[REGISTRY].emit(event)  # final on its chain, but this intake (restarted) has not polled it yet
    await h.store.observe_many([operation_for(event, REGISTRY, SECURITIES)])
    await h.intake.finalize(REGISTRY)
    assert await h.states() == {"820001-7": State.OBSERVED}
    assert h.intake.heads == {}
