"""The operation store on SQLite and PostgreSQL, and the unit tests' store in memory: observation, optimistic
transitions, history, schedules."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from relayer.core.model import Operation, Source, StaleState, UnknownOperation
from relayer.core.ports import OperationStore
from relayer.core.transfer_state import Event, IllegalTransition, Kind, State
from relayer.edges.db.store import now_utc


async def observe(store: OperationStore, op: Operation) -> bool:
    """Whether ``op`` was new (or re-observed)."""
    [new] = await store.observe_many([op])
    return new


def bridge_out(nonce: int, block_hash: str = "0x" + "aa" * 32, amount: int = 2**200) -> Operation:
    return Operation(
        id=f"820001-{nonce}", kind=Kind.BRIDGE_OUT, state=State.OBSERVED,
        source=Source(820001, "0x" + "bb" * 32, 10 + nonce, block_hash, 0), dest_chain_id=31337, source_nonce=nonce,
        security_id="0x" + "cc" * 32, token="0x" + "dd" * 20, sender="0x" + "ee" * 20, recipient="0x" + "ff" * 20,
        amount=amount, payload={"note": "x"},
    )  # fmt: skip


async def test_observe_is_idempotent_and_round_trips(operation_store: OperationStore) -> None:
    store = operation_store
    assert await observe(store, bridge_out(1))
    assert not await observe(store, bridge_out(1))
    stored = await store.get("820001-1")
    assert (stored.state, stored.amount, stored.payload, stored.source_nonce) == (
        State.OBSERVED,
        2**200,
        {"note": "x"},
        1,
    )
    assert stored.next_attempt_at is not None
    assert stored.next_attempt_at.tzinfo is not None
    with pytest.raises(UnknownOperation):
        await store.get("820001-999")


async def test_transitions_follow_the_state_machine_and_are_recorded(operation_store: OperationStore) -> None:
    store = operation_store
    await observe(store, bridge_out(2))
    await store.transition("820001-2", Event.FINALIZED)
    approved = await store.transition("820001-2", Event.APPROVED, decision={"verdict": "ALLOW"}, locked_until=7)
    assert (approved.state, approved.decision, approved.locked_until) == (State.APPROVED, {"verdict": "ALLOW"}, 7)
    with pytest.raises(IllegalTransition):
        await store.transition("820001-2", Event.REJECTED)
    with pytest.raises(StaleState):
        await store.transition("820001-2", Event.ATTESTED, expect=State.FINALIZED)
    history = await store.history("820001-2")
    assert [h["to"] for h in history] == ["observed", "finalized", "approved"]


async def test_concurrent_transitions_move_an_operation_once(operation_store: OperationStore) -> None:
    store = operation_store
    await observe(store, bridge_out(3))
    results = await asyncio.gather(
        *(store.transition("820001-3", Event.FINALIZED, expect=State.OBSERVED) for _ in range(8)),
        return_exceptions=True,
    )
    moved = [r for r in results if isinstance(r, Operation)]
    assert len(moved) == 1
    assert all(isinstance(r, StaleState | IllegalTransition) for r in results if not isinstance(r, Operation))
    assert [h["to"] for h in await store.history("820001-3")] == ["observed", "finalized"]


async def test_reorged_operation_is_reobserved_at_its_new_position(operation_store: OperationStore) -> None:
    store = operation_store
    await observe(store, bridge_out(4))
    await store.transition("820001-4", Event.REORGED)
    assert await observe(store, bridge_out(4, block_hash="0x" + "12" * 32, amount=5))
    again = await store.get("820001-4")
    assert (again.state, again.source.block_hash, again.amount) == (State.OBSERVED, "0x" + "12" * 32, 5)


async def test_due_respects_schedule_and_states(operation_store: OperationStore) -> None:
    store = operation_store
    for nonce in (5, 6, 7):
        await observe(store, bridge_out(nonce))
    await store.update_many(
        [("820001-6", {"attempts": 1, "next_attempt_at": now_utc() + timedelta(hours=1), "last_error": "rpc down"})]
    )
    await store.transition("820001-7", Event.FINALIZED)
    due = await store.due([State.OBSERVED])
    assert [op.id for op in due] == ["820001-5"]
    later = await store.due([State.OBSERVED], now=now_utc() + timedelta(hours=2))
    assert [op.id for op in later] == ["820001-5", "820001-6"]
    assert (await store.get("820001-6")).last_error == "rpc down"
    counts = await store.counts()
    assert counts[("bridge-out", "observed")] == 2
    assert counts[("bridge-out", "finalized")] == 1
    assert [op.id for op in await store.find(state=State.FINALIZED)] == ["820001-7"]


async def test_overdue_lists_only_non_final_operations_past_the_sla(operation_store: OperationStore) -> None:
    store = operation_store
    for nonce in (8, 9, 10):
        await observe(store, bridge_out(nonce))
    await store.transition("820001-9", Event.REORGED)  # dropped: final
    await store.transition("820001-10", Event.FINALIZED)
    await store.transition("820001-10", Event.ESCALATED, reason="unverified-rule")
    assert await store.overdue(now_utc() - timedelta(hours=1)) == []
    overdue = await store.overdue(now_utc() + timedelta(seconds=1))
    assert [(op.id, op.state) for op in overdue] == [("820001-8", State.OBSERVED), ("820001-10", State.HELD)]
