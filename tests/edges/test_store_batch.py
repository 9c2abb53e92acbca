"""The operation store's batch methods on SQLite and PostgreSQL, and the unit tests' store in memory: each
behaves as its one-at-a-time form, in one transaction (an error leaves nothing written)."""

from __future__ import annotations

import pytest

from attestations.attestation import Attestation
from attestations.eip712 import Domain
from attestations.kinds import RefundAuthorization, TransferAuthorization
from relayer.core.model import Move
from relayer.core.ports import OperationStore
from relayer.core.transfer_state import Event, IllegalTransition, State
from tests.edges.test_store import bridge_out, observe

MOVED = "0x" + "12" * 32


@pytest.fixture
def store(operation_store: OperationStore) -> OperationStore:
    return operation_store


async def states(store: OperationStore, *nonces: int) -> list[State]:
    return [(await store.get(f"820001-{n}")).state for n in nonces]


async def path(store: OperationStore, nonce: int) -> list[str]:
    return [h["to"] for h in await store.history(f"820001-{nonce}")]


async def test_observe_many_tells_new_from_known(store: OperationStore) -> None:
    """New operations are True, the same events again False; an id twice in one batch is stored once."""
    assert await store.observe_many([]) == []
    assert await store.observe_many([bridge_out(1), bridge_out(2)]) == [True, True]
    assert await store.observe_many([bridge_out(2), bridge_out(3), bridge_out(1)]) == [False, True, False]
    assert await store.observe_many([bridge_out(4), bridge_out(4)]) == [True, False]
    assert await path(store, 4) == ["observed"]
    assert await store.counts() == {("bridge-out", "observed"): 4}


async def test_observe_many_reobserves_dropped_and_moves_observed(store: OperationStore) -> None:
    """A DROPPED operation seen at a new block is True and OBSERVED again; an OBSERVED one seen elsewhere
    moves there (False, no history); both take the new content."""
    await store.observe_many([bridge_out(1), bridge_out(2)])
    await store.transition("820001-1", Event.REORGED)
    seen = await store.observe_many([bridge_out(1, block_hash=MOVED, amount=5), bridge_out(2, MOVED, amount=6)])
    assert seen == [True, False]
    for nonce, amount in ((1, 5), (2, 6)):
        op = await store.get(f"820001-{nonce}")
        assert (op.state, op.source.block_hash, op.amount) == (State.OBSERVED, MOVED, amount)
    assert await path(store, 1) == ["observed", "dropped", "observed"]
    assert await path(store, 2) == ["observed"]


async def test_observe_many_reobserves_a_dropped_operation_once_per_batch(store: OperationStore) -> None:
    """A DROPPED operation twice in one batch is re-observed once, as a new one would be."""
    await observe(store, bridge_out(1))
    await store.transition("820001-1", Event.REORGED)
    assert await store.observe_many([bridge_out(1, MOVED), bridge_out(1, MOVED)]) == [True, False]
    assert await path(store, 1) == ["observed", "dropped", "observed"]


async def test_observe_many_ends_where_observing_one_by_one_ends(store: OperationStore) -> None:
    """A new operation seen at two positions in one batch ends at the later one, as two `observe` calls do."""
    assert await store.observe_many([bridge_out(1), bridge_out(1, MOVED)]) == [True, False]
    assert (await store.get("820001-1")).source.block_hash == MOVED


async def test_transition_many_applies_legal_moves_and_skips_stale_ones(store: OperationStore) -> None:
    """Moves apply in one go with their fields and history; a move from a state the row has left is False
    and changes nothing, also when an earlier move of the same batch moved the row."""
    await store.observe_many([bridge_out(n) for n in (1, 2, 3)])
    one, two, three = [await store.get(f"820001-{n}") for n in (1, 2, 3)]
    moves = [Move(one, Event.FINALIZED, "final", {"attempts": 2}), Move(two, Event.REORGED)]
    assert await store.transition_many(moves) == [True, True]
    assert await states(store, 1, 2, 3) == [State.FINALIZED, State.DROPPED, State.OBSERVED]
    assert (await store.get("820001-1")).attempts == 2
    assert (await store.history("820001-1"))[-1]["detail"] == "final"

    stale = [Move(one, Event.REORGED), Move(three, Event.FINALIZED), Move(three, Event.REORGED)]
    assert await store.transition_many(stale) == [False, True, False]
    assert await states(store, 1, 2, 3) == [State.FINALIZED, State.DROPPED, State.FINALIZED]
    assert await path(store, 1) == ["observed", "finalized"]
    assert await path(store, 3) == ["observed", "finalized"]


async def test_transition_many_refuses_the_whole_batch_for_one_illegal_move(store: OperationStore) -> None:
    """An illegal move raises `IllegalTransition`; the legal moves before it are not written either."""
    await store.observe_many([bridge_out(1), bridge_out(2)])
    one, two = await store.get("820001-1"), await store.get("820001-2")
    with pytest.raises(IllegalTransition):
        await store.transition_many([Move(one, Event.FINALIZED, fields={"attempts": 9}), Move(two, Event.CONFIRMED)])
    assert await states(store, 1, 2) == [State.OBSERVED, State.OBSERVED]
    assert (await store.get("820001-1")).attempts == 0
    assert await path(store, 1) == ["observed"]


async def test_transition_many_writes_nothing_when_a_field_is_not_updatable(store: OperationStore) -> None:
    await store.observe_many([bridge_out(1), bridge_out(2)])
    one, two = await store.get("820001-1"), await store.get("820001-2")
    with pytest.raises(ValueError, match="not updatable"):
        await store.transition_many([Move(one, Event.FINALIZED), Move(two, Event.FINALIZED, fields={"amount": 1})])
    assert await states(store, 1, 2) == [State.OBSERVED, State.OBSERVED]
    assert await path(store, 1) == ["observed"]


async def test_update_many_updates_each_operation_or_none(store: OperationStore) -> None:
    """Fields (JSON ones encoded) land on their own operation; an unknown field anywhere writes nothing."""
    await store.observe_many([bridge_out(1), bridge_out(2)])
    await store.update_many([
        ("820001-1", {"attempts": 3, "last_error": "rpc down", "decision": {"verdict": "ALLOW"}}),
        ("820001-2", {"payload": {"note": "y"}}),
    ])  # fmt: skip
    one, two = await store.get("820001-1"), await store.get("820001-2")
    assert (one.attempts, one.last_error, one.decision) == (3, "rpc down", {"verdict": "ALLOW"})
    assert one.payload == {"note": "x"}
    assert (two.attempts, two.last_error, two.payload) == (0, None, {"note": "y"})
    with pytest.raises(ValueError, match="not updatable"):
        await store.update_many([("820001-2", {"attempts": 7}), ("820001-1", {"state": "confirmed"})])
    assert (await store.get("820001-2")).attempts == 0


def attestation(nonce: int) -> Attestation:
    return Attestation(
        TransferAuthorization(820001, nonce, b"\xcc" * 32, "0x" + "ee" * 20, "0x" + "ff" * 20, 2**200, 0),
        Domain(31337, "0x" + "14" * 20),
    )


async def test_save_attestations_is_idempotent_and_documents_round_trip(store: OperationStore) -> None:
    """Duplicates within a batch or across batches are stored once, and a later batch does not change the
    operation stored with them; `attestations` finds digests in any case, omits absent ones, and the documents
    parse back."""
    first, second = attestation(1), attestation(2)
    refund = Attestation(
        RefundAuthorization(1, "0x" + "dd" * 20, "0x" + "ee" * 20, 5, 1), Domain(820001, "0x" + "13" * 20)
    )
    await store.save_attestations([(first, "820001-1"), (first, "820001-1"), (refund, "820001-1")])
    await store.save_attestations([(first, "820001-9"), (second, None)])
    await store.save_attestations([])
    digests = ["0x" + a.digest.hex() for a in (first, refund, second)]
    assert sorted(await store.attestations_of("820001-1")) == sorted(digests[:2])
    assert await store.attestations_of("820001-9") == []
    assert len(await store.documents(TransferAuthorization.KIND)) == 2

    absent = "0x" + attestation(3).digest.hex()
    found = await store.attestations([digests[0].upper(), digests[2], absent, digests[0]])
    assert set(found) == {digests[0], digests[2]}
    assert Attestation.parse(found[digests[0]]) == first
    assert Attestation.parse(found[digests[2]]) == second
    assert await store.attestations([]) == {}
    assert await store.attestation(absent) is None
