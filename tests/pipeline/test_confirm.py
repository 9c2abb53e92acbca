"""The confirm stage (`relayer.pipeline.confirm.Confirm`) over `MemorySubmitter`s: a submitted operation is
confirmed once its transaction is final and waits while it is not deep enough; when its transaction failed
or was dropped the chain is asked (done at the final block: confirmed; only at the latest: wait; not done:
back to attested with a backoff), unless it is still in flight; the submissions are settled each pass and
refunds are confirmed on the registry chain."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from attestations.attestation import Attestation
from relayer.core.disposition import Receipt
from relayer.core.model import Operation
from relayer.core.transfer_state import Event, Purpose, State, backoff_seconds, purpose
from relayer.pipeline.attested import Attested
from relayer.pipeline.confirm import Confirm
from relayer.pipeline.moves import Mover
from tests.support.memory import Clock, MemoryOperationStore, MemorySubmitter
from tests.support.pipeline import PUBLIC, REGISTRY, attested, bridge_out, settings

HEAD = 100  # the chains' head before any send; a send mines in the next block


class Stage:
    """The confirm stage over memory: the registry (no confirmations) and a public chain (``confirmations``)."""

    def __init__(self, confirmations: int = 2) -> None:
        self.clock = Clock()
        self.store = MemoryOperationStore(self.clock)
        self.attested = Attested(self.store)
        self.mover = Mover(self.store, self.clock, [self.attested.on_moved])
        self.chains = {
            REGISTRY: MemorySubmitter(REGISTRY, confirmations=0, head_block=HEAD),
            PUBLIC: MemorySubmitter(PUBLIC, confirmations=confirmations, head_block=HEAD),
        }
        self.stage = Confirm(self.store, self.chains, self.mover, self.attested, settings(), registry_chain_id=REGISTRY)

    async def submitted(self, *ops: Operation, refund: bool = False) -> str:
        """``ops`` walked to attested (refund-attested) with real, stored attestations, sent together on their
        delivering chain (the registry for refunds) and moved to submitted with the transaction; its hash."""
        pairs = [await attested(self.store, self.clock, op, refund=refund) for op in ops]
        chain = self.chains[REGISTRY if refund else PUBLIC]
        tx_hash = await chain.send(pairs, purpose(pairs[0][0].kind, pairs[0][0].state))
        for op, _ in pairs:
            await self.store.transition(op.id, Event.SUBMITTED, detail=tx_hash, dest_tx_hash=tx_hash)
        return tx_hash

    async def op(self, operation_id: str) -> Operation:
        return await self.store.get(operation_id)

    async def detail(self, operation_id: str) -> str | None:
        detail: str | None = (await self.store.history(operation_id))[-1]["detail"]
        return detail

    def fail(self, tx_hash: str, how: str) -> None:
        """The public chain's transaction ``tx_hash`` ``how``: reverted, or dropped (no receipt: the node no
        longer holds it, as after a reorg took its block away)."""
        chain = self.chains[PUBLIC]
        mined = chain.receipts_by_hash[tx_hash]
        if how == "reverted":
            chain.receipts_by_hash[tx_hash] = replace(mined, success=False)
        else:
            chain.receipts_by_hash[tx_hash] = Receipt(tx_hash, mined=False, success=False)


HOW = ["reverted", "dropped"]


async def test_a_submitted_operation_whose_transaction_is_final_is_confirmed() -> None:
    s = Stage(confirmations=2)
    tx_hash = await s.submitted(bridge_out(1), bridge_out(2))  # one mintBatch, mined at HEAD + 1
    s.chains[PUBLIC].head_block = HEAD + 1 + 2
    await s.stage.run(PUBLIC)

    for operation_id in ("out-1", "out-2"):
        op = await s.op(operation_id)
        assert (op.state, op.dest_tx_hash, op.attempts) == (State.CONFIRMED, tx_hash, 0)
        assert await s.detail(operation_id) == tx_hash
    assert s.chains[PUBLIC].settles == 1


async def test_a_transaction_not_deep_enough_waits_then_confirms() -> None:
    s = Stage(confirmations=2)
    tx_hash = await s.submitted(bridge_out(1))
    for head in (HEAD + 1, HEAD + 2):  # 0 and 1 blocks on top
        s.chains[PUBLIC].head_block = head
        s.chains[PUBLIC].done = {"out-1"}  # the chain's state is not asked while the transaction is fine
        await s.stage.run(PUBLIC)
        op = await s.op("out-1")
        assert (op.state, op.dest_tx_hash, op.attempts) == (State.SUBMITTED, tx_hash, 0)
        assert await s.detail("out-1") == tx_hash
    s.chains[PUBLIC].head_block = HEAD + 3
    await s.stage.run(PUBLIC)
    assert (await s.op("out-1")).state == State.CONFIRMED
    assert s.chains[PUBLIC].settles == 3


async def test_a_transaction_whose_block_is_no_longer_canonical_waits_for_its_receipt_to_be_read_again() -> None:
    """A receipt in a block no longer canonical is a stale read (`Disposition.WAIT`): nothing moves, even when
    the chain says not done; once the receipt is gone with its block, the chain is asked."""
    s = Stage(confirmations=2)
    tx_hash = await s.submitted(bridge_out(1))
    s.chains[PUBLIC].head_block = HEAD + 10
    s.chains[PUBLIC].reorged_blocks = {HEAD + 1}
    await s.stage.run(PUBLIC)
    op = await s.op("out-1")
    assert (op.state, op.dest_tx_hash, op.attempts) == (State.SUBMITTED, tx_hash, 0)

    s.fail(tx_hash, "dropped")  # the reorg took the receipt away with the block
    await s.stage.run(PUBLIC)
    op = await s.op("out-1")
    assert (op.state, op.attempts) == (State.ATTESTED, 1)


@pytest.mark.parametrize("how", HOW)
async def test_a_failed_or_dropped_transaction_done_at_the_final_block_is_confirmed(how: str) -> None:
    s = Stage(confirmations=2)
    tx_hash = await s.submitted(bridge_out(1))
    s.chains[PUBLIC].head_block = HEAD + 10
    s.fail(tx_hash, how)
    s.chains[PUBLIC].done = {"out-1"}
    await s.stage.run(PUBLIC)

    op = await s.op("out-1")
    assert (op.state, op.attempts, op.dest_tx_hash) == (State.CONFIRMED, 0, tx_hash)
    assert await s.detail("out-1") == "delivered by another transaction"


@pytest.mark.parametrize("how", HOW)
async def test_a_failed_or_dropped_transaction_done_only_at_the_latest_block_waits(how: str) -> None:
    s = Stage(confirmations=2)
    tx_hash = await s.submitted(bridge_out(1))
    s.chains[PUBLIC].head_block = HEAD + 10
    s.fail(tx_hash, how)
    s.chains[PUBLIC].done_latest = {"out-1"}  # a replacement, not final yet
    await s.stage.run(PUBLIC)

    op = await s.op("out-1")
    assert (op.state, op.attempts, op.next_attempt_at, op.dest_tx_hash) == (
        State.SUBMITTED, 0, s.clock.utc(), tx_hash,
    )  # fmt: skip
    assert await s.detail("out-1") == tx_hash

    s.chains[PUBLIC].done = {"out-1"}  # now final
    await s.stage.run(PUBLIC)
    assert (await s.op("out-1")).state == State.CONFIRMED


async def test_with_zero_confirmations_the_latest_block_is_final() -> None:
    s = Stage(confirmations=0)
    tx_hash = await s.submitted(bridge_out(1))
    s.fail(tx_hash, "reverted")
    s.chains[PUBLIC].done_latest = {"out-1"}
    await s.stage.run(PUBLIC)
    assert (await s.op("out-1")).state == State.CONFIRMED
    assert await s.detail("out-1") == "delivered by another transaction"


@pytest.mark.parametrize("how", HOW)
async def test_a_failed_or_dropped_transaction_not_done_goes_back_to_delivery_after_a_backoff(how: str) -> None:
    s = Stage(confirmations=2)
    tx_hash = await s.submitted(bridge_out(1), bridge_out(2))
    s.chains[PUBLIC].head_block = HEAD + 10
    s.fail(tx_hash, how)
    s.clock.now += 60
    await s.stage.run(PUBLIC)

    for operation_id in ("out-1", "out-2"):
        op = await s.op(operation_id)
        later = s.clock.utc() + timedelta(seconds=backoff_seconds(1, operation_id))
        assert (op.state, op.attempts, op.next_attempt_at) == (State.ATTESTED, 1, later)
        assert await s.detail(operation_id) == "transaction failed, dropped or reorged out"
    assert (await s.op("out-1")).next_attempt_at != (await s.op("out-2")).next_attempt_at  # jittered per operation


async def test_a_second_redelivery_backs_off_further() -> None:
    s = Stage(confirmations=0)
    first = await s.submitted(bridge_out(1))
    s.fail(first, "dropped")
    await s.stage.run(PUBLIC)
    assert (await s.op("out-1")).attempts == 1
    # delivered again once due (as the deliver stage would), and that transaction dropped too
    s.clock.now += 3600
    op = await s.op("out-1")
    pair = (op, Attestation.parse(await s.store.attestation(str(op.attestation))))
    second = await s.chains[PUBLIC].send([pair], Purpose.MINT)
    await s.store.transition("out-1", Event.SUBMITTED, detail=second, dest_tx_hash=second)
    s.fail(second, "dropped")
    await s.stage.run(PUBLIC)

    op = await s.op("out-1")
    later = s.clock.utc() + timedelta(seconds=backoff_seconds(2, "out-1"))
    assert (op.state, op.attempts, op.next_attempt_at) == (State.ATTESTED, 2, later)


async def test_a_dropped_transaction_still_in_flight_waits() -> None:
    s = Stage(confirmations=2)
    s.chains[PUBLIC].pending = True  # broadcast, not mined: its operations are in flight
    tx_hash = await s.submitted(bridge_out(1))
    s.chains[PUBLIC].head_block = HEAD + 10
    assert await s.chains[PUBLIC].in_flight() == {"out-1"}
    await s.stage.run(PUBLIC)

    op = await s.op("out-1")
    assert (op.state, op.attempts, op.dest_tx_hash) == (State.SUBMITTED, 0, tx_hash)
    assert await s.detail("out-1") == tx_hash

    s.chains[PUBLIC].flying.clear()  # the node dropped it
    await s.stage.run(PUBLIC)
    assert ((await s.op("out-1")).state, (await s.op("out-1")).attempts) == (State.ATTESTED, 1)


async def test_the_submissions_are_settled_each_pass() -> None:
    s = Stage()
    await s.stage.run(PUBLIC)  # nothing submitted: settled all the same
    await s.stage.run(PUBLIC)
    assert (s.chains[PUBLIC].settles, s.chains[REGISTRY].settles) == (2, 0)
    await s.submitted(bridge_out(1))
    await s.stage.run(PUBLIC)
    await s.stage.run(REGISTRY)
    assert (s.chains[PUBLIC].settles, s.chains[REGISTRY].settles) == (3, 1)


async def test_refunds_are_confirmed_on_the_registry_chain() -> None:
    s = Stage(confirmations=2)
    refund_tx = await s.submitted(bridge_out(1), refund=True)  # bound for the public chain, refunded on the registry
    mint_tx = await s.submitted(bridge_out(2))
    s.chains[REGISTRY].head_block = HEAD + 1
    s.chains[PUBLIC].head_block = HEAD + 10
    assert s.chains[REGISTRY].sent[0].operation_ids == ["out-1"]

    await s.stage.run(PUBLIC)
    refund, mint = await s.op("out-1"), await s.op("out-2")
    assert (refund.state, mint.state) == (State.REFUND_SUBMITTED, State.CONFIRMED)
    assert mint.dest_tx_hash == mint_tx

    await s.stage.run(REGISTRY)
    refund = await s.op("out-1")
    assert (refund.state, refund.dest_tx_hash) == (State.REFUNDED, refund_tx)
    assert await s.detail("out-1") == refund_tx


@pytest.mark.parametrize(("done", "expected"), [(True, State.REFUNDED), (False, State.REFUND_ATTESTED)])
async def test_a_failed_refund_is_checked_on_the_registry(done: bool, expected: State) -> None:
    s = Stage()
    refund_tx = await s.submitted(bridge_out(1), refund=True)
    registry = s.chains[REGISTRY]
    registry.head_block = HEAD + 1
    registry.receipts_by_hash[refund_tx] = replace(registry.receipts_by_hash[refund_tx], success=False)
    registry.done = {"out-1"} if done else set()
    await s.stage.run(REGISTRY)

    op = await s.op("out-1")
    assert (op.state, op.attempts) == (expected, 0 if done else 1)
