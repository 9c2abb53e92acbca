"""The deliver stage (`relayer.pipeline.deliver.Deliver`) over `MemorySubmitter`s: attested mints to a chain
go in ``mintBatch``-like sends of ``relayer.batch_size``, refunds go on the registry chain whatever their
destination, an operation the chain shows done is confirmed without a send, one inside a pending submission
is not resent, a refused delivery is retried and stalls after ``max_attempts`` refusals alone; what is sent
moves to submitted with its transaction and carries its real, stored attestation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from attestations.attestation import Attestation
from attestations.verify import verify
from relayer.core.model import Operation
from relayer.core.ports import Delivery
from relayer.core.statements import statement_for
from relayer.core.transfer_state import Event, Purpose, State, backoff_seconds
from relayer.pipeline.attested import Attested
from relayer.pipeline.deliver import Deliver
from relayer.pipeline.moves import Mover
from tests.support.memory import Clock, MemoryOperationStore, MemorySubmitter, Sent
from tests.support.pipeline import (
    CONFIG,
    ESCROW,
    GATEWAY,
    OTHER,
    PUBLIC,
    REGISTRY,
    TRUST,
    attested,
    bridge_back,
    bridge_out,
    settings,
)


def tx(n: int) -> str:
    """The hash of a `MemorySubmitter`'s ``n``-th send."""
    return "0x" + f"{n:064x}"


@dataclass
class RecordingSubmitter(MemorySubmitter):
    """`MemorySubmitter` that also keeps what each successful send delivered (operation and attestation)."""

    deliveries: list[list[Delivery]] = field(default_factory=list)

    async def send(self, deliveries: Sequence[Delivery], purpose: Purpose) -> str:
        tx_hash = await super().send(deliveries, purpose)
        self.deliveries.append(list(deliveries))
        return tx_hash


class Stage:
    """The deliver stage over memory: a registry and two public chains."""

    def __init__(self, **overrides: Any) -> None:
        self.clock = Clock()
        self.store = MemoryOperationStore(self.clock)
        self.attested = Attested(self.store)
        self.mover = Mover(self.store, self.clock, [self.attested.on_moved])
        self.chains = {i: RecordingSubmitter(i) for i in (REGISTRY, PUBLIC, OTHER)}
        self.stage = Deliver(self.store, self.chains, self.mover, self.attested, settings(**overrides),
                             registry_chain_id=REGISTRY)  # fmt: skip

    async def attested_op(self, op: Operation, *, refund: bool = False, attempts: int = 0) -> Operation:
        """``op`` walked to attested (a refund: refund-attested), its attestation signed by the threshold of
        real attestor keys and stored."""
        moved, _ = await attested(self.store, self.clock, op, refund=refund, attempts=attempts)
        return moved

    async def op(self, operation_id: str) -> Operation:
        return await self.store.get(operation_id)

    async def detail(self, operation_id: str) -> str | None:
        detail: str | None = (await self.store.history(operation_id))[-1]["detail"]
        return detail


async def test_attested_mints_to_one_chain_go_in_batches_of_batch_size() -> None:
    s = Stage(batch_size=2)
    for n in range(1, 6):
        await s.attested_op(bridge_out(n))
    await s.attested_op(bridge_out(6, dest=OTHER))
    await s.stage.run(PUBLIC)

    chain = s.chains[PUBLIC]
    assert chain.sent == [
        Sent(tx(1), Purpose.MINT, ["out-1", "out-2"]),
        Sent(tx(2), Purpose.MINT, ["out-3", "out-4"]),
        Sent(tx(3), Purpose.MINT, ["out-5"]),
    ]
    for n, hash_ in [(1, tx(1)), (2, tx(1)), (3, tx(2)), (4, tx(2)), (5, tx(3))]:
        op = await s.op(f"out-{n}")
        assert (op.state, op.dest_tx_hash, op.attempts) == (State.SUBMITTED, hash_, 0)
        assert await s.detail(f"out-{n}") == hash_
    other = await s.op("out-6")  # bound for another chain
    assert (other.state, other.dest_tx_hash) == (State.ATTESTED, None)
    assert s.chains[OTHER].sent == s.chains[REGISTRY].sent == []

    # each delivery carries the operation's own attestation, real and for the destination's gateway
    for sent in chain.deliveries:
        for op, attestation in sent:
            assert "0x" + attestation.digest.hex() == op.attestation
            document = await s.store.attestation(str(op.attestation))
            assert attestation == Attestation.parse(document)
            verify(attestation, TRUST, domain=statement_for(op, CONFIG)[1])
            assert attestation.domain.verifying_contract == GATEWAY


async def test_refunds_and_releases_are_delivered_on_the_registry_one_per_transaction() -> None:
    s = Stage()
    await s.attested_op(bridge_out(1, dest=PUBLIC), refund=True)
    await s.attested_op(bridge_out(2, dest=OTHER), refund=True)
    await s.attested_op(bridge_back(3))
    await s.stage.run(PUBLIC)
    await s.stage.run(OTHER)
    assert s.chains[PUBLIC].sent == s.chains[OTHER].sent == []
    assert (await s.op("out-1")).state == (await s.op("out-2")).state == State.REFUND_ATTESTED

    await s.stage.run(REGISTRY)
    assert s.chains[REGISTRY].sent == [
        Sent(tx(1), Purpose.RELEASE, ["back-3"]),
        Sent(tx(2), Purpose.REFUND, ["out-1"]),
        Sent(tx(3), Purpose.REFUND, ["out-2"]),
    ]
    for operation_id, state, hash_ in [
        ("back-3", State.SUBMITTED, tx(1)),
        ("out-1", State.REFUND_SUBMITTED, tx(2)),
        ("out-2", State.REFUND_SUBMITTED, tx(3)),
    ]:
        op = await s.op(operation_id)
        assert (op.state, op.dest_tx_hash) == (state, hash_)
    refunds = [a for sent in s.chains[REGISTRY].deliveries[1:] for _, a in sent]
    assert [a.kind for a in refunds] == ["RefundAuthorization", "RefundAuthorization"]
    assert {a.domain.verifying_contract for a in refunds} == {ESCROW}


async def test_an_operation_done_on_chain_is_confirmed_without_a_send() -> None:
    s = Stage()
    await s.attested_op(bridge_out(1))
    await s.attested_op(bridge_out(2))
    await s.attested_op(bridge_out(3), refund=True)
    s.chains[PUBLIC].done = {"out-1"}
    s.chains[REGISTRY].done = {"out-3"}
    await s.stage.run(PUBLIC)
    await s.stage.run(REGISTRY)

    assert s.chains[PUBLIC].sent == [Sent(tx(1), Purpose.MINT, ["out-2"])]
    assert s.chains[REGISTRY].sent == []
    done, refunded = await s.op("out-1"), await s.op("out-3")
    assert (done.state, done.dest_tx_hash) == (State.CONFIRMED, None)
    assert (refunded.state, refunded.dest_tx_hash) == (State.REFUNDED, None)
    assert await s.detail("out-1") == await s.detail("out-3") == "already delivered on chain"
    assert (await s.op("out-2")).state == State.SUBMITTED


async def test_an_operation_inside_a_pending_submission_is_not_resent() -> None:
    s = Stage()
    await s.attested_op(bridge_out(1))
    await s.attested_op(bridge_out(2))
    s.chains[PUBLIC].flying = {"out-1"}
    await s.stage.run(PUBLIC)

    assert s.chains[PUBLIC].sent == [Sent(tx(1), Purpose.MINT, ["out-2"])]
    op = await s.op("out-1")
    assert (op.state, op.attempts, op.dest_tx_hash, op.last_error) == (State.ATTESTED, 0, None, None)


async def test_a_pending_send_still_moves_its_operations_to_submitted() -> None:
    s = Stage()
    s.chains[PUBLIC].pending = True
    await s.attested_op(bridge_out(1))
    await s.attested_op(bridge_out(2))
    await s.stage.run(PUBLIC)
    await s.stage.run(PUBLIC)  # in flight now: not sent twice

    assert s.chains[PUBLIC].sent == [Sent(tx(1), Purpose.MINT, ["out-1", "out-2"])]
    assert [(op.state, op.dest_tx_hash) for op in [await s.op("out-1"), await s.op("out-2")]] == [
        (State.SUBMITTED, tx(1)),
        (State.SUBMITTED, tx(1)),
    ]


async def test_a_refused_delivery_alone_is_retried_then_stalls_after_max_attempts() -> None:
    s = Stage(max_attempts=3)
    await s.attested_op(bridge_out(1))
    s.chains[PUBLIC].refuse = {"out-1": "RecipientNotEligible"}

    await s.stage.run(PUBLIC)
    op = await s.op("out-1")
    later = s.clock.utc() + timedelta(seconds=backoff_seconds(1, "out-1"))
    assert (op.state, op.attempts, op.next_attempt_at, op.last_error, op.reason) == (
        State.ATTESTED, 1, later, "refused: RecipientNotEligible", None,
    )  # fmt: skip
    await s.stage.run(PUBLIC)  # not due yet: not tried again
    assert (await s.op("out-1")).attempts == 1

    s.clock.now += 3600
    await s.stage.run(PUBLIC)
    op = await s.op("out-1")
    assert (op.state, op.attempts) == (State.ATTESTED, 2)
    assert op.next_attempt_at == s.clock.utc() + timedelta(seconds=backoff_seconds(2, "out-1"))

    s.clock.now += 3600
    await s.stage.run(PUBLIC)  # the third refusal
    op = await s.op("out-1")
    assert (op.state, op.reason, op.last_error, op.attempts) == (
        State.STALLED, "delivery-refused", "refused: RecipientNotEligible", 2,
    )  # fmt: skip
    assert await s.detail("out-1") == "refused: RecipientNotEligible"
    s.clock.now += 3600
    await s.stage.run(PUBLIC)  # stalled: left for an operator
    assert (await s.op("out-1")).state == State.STALLED
    assert s.chains[PUBLIC].sent == []


async def test_a_refused_refund_stalls_on_its_refund_path() -> None:
    s = Stage(max_attempts=1)
    await s.attested_op(bridge_out(1), refund=True)
    s.chains[REGISTRY].refuse = {"out-1": "AlreadySettled"}
    await s.stage.run(REGISTRY)
    op = await s.op("out-1")
    assert (op.state, op.reason, op.last_error) == (State.REFUND_STALLED, "delivery-refused", "refused: AlreadySettled")


async def test_a_refused_batch_is_retried_and_its_mints_then_go_alone() -> None:
    s = Stage(max_attempts=1)
    await s.attested_op(bridge_out(1))
    await s.attested_op(bridge_out(2))
    s.chains[PUBLIC].refuse = {"out-1": "RecipientNotEligible"}

    await s.stage.run(PUBLIC)  # the batch is refused as a whole: both retried, neither stalls (not alone)
    assert s.chains[PUBLIC].sent == []
    for operation_id in ("out-1", "out-2"):
        op = await s.op(operation_id)
        assert (op.state, op.attempts, op.last_error) == (State.ATTESTED, 1, "refused: RecipientNotEligible")
        assert op.next_attempt_at == s.clock.utc() + timedelta(seconds=backoff_seconds(1, operation_id))

    s.clock.now += 3600
    await s.stage.run(PUBLIC)  # refused before: each goes alone
    assert s.chains[PUBLIC].sent == [Sent(tx(1), Purpose.MINT, ["out-2"])]
    sent, stalled = await s.op("out-2"), await s.op("out-1")
    assert (sent.state, sent.dest_tx_hash, sent.attempts) == (State.SUBMITTED, tx(1), 1)
    assert (stalled.state, stalled.reason) == (State.STALLED, "delivery-refused")


async def test_a_mint_refused_before_goes_alone_the_others_together() -> None:
    s = Stage()
    await s.attested_op(bridge_out(1), attempts=1)
    await s.attested_op(bridge_out(2))
    await s.attested_op(bridge_out(3))
    await s.stage.run(PUBLIC)

    assert s.chains[PUBLIC].sent == [
        Sent(tx(1), Purpose.MINT, ["out-1"]),
        Sent(tx(2), Purpose.MINT, ["out-2", "out-3"]),
    ]
    assert [(await s.op(f"out-{n}")).dest_tx_hash for n in (1, 2, 3)] == [tx(1), tx(2), tx(2)]


async def test_an_operation_whose_attestation_is_missing_is_not_sent() -> None:
    s = Stage()
    await s.attested_op(bridge_out(1))
    await s.store.observe_many([bridge_out(2)])
    await s.store.transition("out-2", Event.FINALIZED)
    await s.store.transition("out-2", Event.APPROVED)
    await s.store.transition("out-2", Event.ATTESTED, attestation="0x" + "00" * 32, next_attempt_at=s.clock.utc())
    await s.stage.run(PUBLIC)

    assert s.chains[PUBLIC].sent == [Sent(tx(1), Purpose.MINT, ["out-1"])]
    assert (await s.op("out-2")).state == State.ATTESTED
