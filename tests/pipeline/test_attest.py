"""The attest stage (`relayer.pipeline.attest.Attest`) over memory: approved operations and refunds get a
threshold of real attestor signatures, appended to the transparency log and stored, and move on; refusals
hold an approved operation or a refund for an operator; "not yet" retries; batches fly concurrently
within `FLIGHTS` x `BATCH`, a fatal failure inside a flight fails the next pass, a transient one is logged
and its operations fly again."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from structlog.testing import capture_logs

from attestations.attestation import Attestation
from attestations.eip712 import Domain
from attestations.kinds import RefundAuthorization, ReleaseAuthorization, Statement, TransferAuthorization
from attestations.log import MemoryLogStorage, TransparencyLog
from attestations.verify import verify
from relayer.core.errors import RpcUnavailable
from relayer.core.model import Operation
from relayer.core.ports import Gathered
from relayer.core.statements import statement_for
from relayer.core.transfer_state import Event, State, backoff_seconds
from relayer.pipeline import attest as attest_module
from relayer.pipeline.attest import Attest
from relayer.pipeline.attested import Attested
from relayer.pipeline.moves import Mover
from tests.support.memory import Clock, MemoryAttestors, MemoryOperationStore
from tests.support.pipeline import (
    APPROVE,
    CONFIG,
    ESCROW,
    GATEWAY,
    KEYS,
    PUBLIC,
    RECIPIENT,
    REGISTRY,
    REJECT,
    SECURITY,
    SENDER,
    THRESHOLD_KEYS,
    TOKEN,
    TRUST,
    bridge_back,
    bridge_out,
    decision_for,
    registration,
    signed,
    walk,
)  # fmt: skip

SIGNERS = sorted(k.id for k in THRESHOLD_KEYS)


@dataclass
class GatedAttestors(MemoryAttestors):
    """`MemoryAttestors` whose answers wait for ``gate``; ``batches`` lists each batch request's size, and
    ``error`` (while set) is raised by a batch request instead of answering."""

    gate: asyncio.Event = field(default_factory=asyncio.Event)
    batches: list[int] = field(default_factory=list)
    error: BaseException | None = None

    async def gather_many(
        self, requests: Sequence[tuple[Statement, Domain]], contexts: Sequence[Mapping[str, Any] | None] = ()
    ) -> list[Gathered]:
        self.batches.append(len(requests))
        await self.gate.wait()
        if self.error is not None:
            raise self.error
        return await super().gather_many(requests, contexts)


class ReadCountingStore(MemoryOperationStore):
    """`MemoryOperationStore` that lists the attestation documents read from it."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(clock)
        self.documents_read: list[str] = []

    async def attestations(self, digests: Iterable[str]) -> dict[str, dict[str, Any]]:
        wanted = list(digests)
        self.documents_read += wanted
        return await super().attestations(wanted)


class Stage:
    """The attest stage over memory, and what it works with."""

    def __init__(self, attestors: MemoryAttestors | None = None) -> None:
        self.clock = Clock()
        self.store = ReadCountingStore(self.clock)
        self.storage = MemoryLogStorage()
        self.log = TransparencyLog(self.storage)
        self.attestors = attestors if attestors is not None else MemoryAttestors(KEYS, threshold=2)
        self.attested = Attested(self.store)
        self.mover = Mover(self.store, self.clock, [self.attested.on_moved])
        self.wakes = 0
        self.stage = Attest(
            self.store, self.attestors, self.log, self.mover, self.attested,
            functools.partial(statement_for, config=CONFIG), wake=self.wake,
        )  # fmt: skip

    def wake(self) -> None:
        self.wakes += 1

    async def pass_(self) -> None:
        """One pass, and its flights landed."""
        await self.stage.run()
        await self.stage.drain()

    async def states(self) -> dict[str, State]:
        return {op.id: op.state for op in await self.store.find(limit=1000)}


def statement(op: Operation) -> tuple[Statement, Domain]:
    return statement_for(op, CONFIG)


def digest_of(op: Operation) -> str:
    s, domain = statement(op)
    return "0x" + s.digest(domain).hex()


async def test_an_approved_bridge_out_is_signed_logged_stored_and_attested() -> None:
    s = Stage()
    before = await walk(s.store, bridge_out(1), *APPROVE)
    s.clock.now += 5
    await s.pass_()

    op = await s.store.get("out-1")
    digest = digest_of(before)
    assert (op.state, op.attestation, op.attempts, op.next_attempt_at) == (State.ATTESTED, digest, 0, s.clock.utc())
    assert (op.reason, op.last_error) == (None, None)
    assert (await s.store.history("out-1"))[-1] | {"at": None} == {
        "at": None, "from": "approved", "to": "attested", "event": "attested", "detail": digest,
    }  # fmt: skip
    # the attestation: stored for the operation, with its log index, real signatures of the threshold
    assert await s.store.attestations_of("out-1") == [digest]
    document = await s.store.attestation(digest)
    assert document is not None
    attestation = Attestation.parse(document)
    assert attestation.log_index == 0
    assert sorted(sig.attestor for sig in attestation.signatures) == SIGNERS
    stated = verify(attestation, TRUST, domain=Domain(PUBLIC, GATEWAY), kind=TransferAuthorization)
    assert stated == TransferAuthorization(REGISTRY, 1, bytes.fromhex(SECURITY[2:]), SENDER, RECIPIENT, 100, 0)
    # appended to the transparency log
    assert s.log.size == 1
    assert await s.storage.index_of(bytes.fromhex(digest[2:])) == 0
    # kept in memory for delivery, and the stage woken once its flight landed
    s.store.documents_read.clear()
    assert await s.attested.of([op]) == [(op, attestation)]
    assert s.store.documents_read == []  # from memory, not the store
    assert s.attestors.asked == [stated]
    assert s.wakes == 1


async def test_a_batch_is_logged_in_source_order_each_kind_under_its_own_domain() -> None:
    s = Stage()
    back = await walk(s.store, bridge_back(2), *APPROVE)  # block 1002
    out = await walk(s.store, bridge_out(1), *APPROVE)  # block 1001: older
    await s.pass_()

    assert await s.states() == {"out-1": State.ATTESTED, "back-2": State.ATTESTED}
    out_doc, back_doc = await s.store.attestation(digest_of(out)), await s.store.attestation(digest_of(back))
    assert out_doc is not None and back_doc is not None
    assert (Attestation.parse(out_doc).log_index, Attestation.parse(back_doc).log_index) == (0, 1)
    release = verify(Attestation.parse(back_doc), TRUST, domain=Domain(REGISTRY, ESCROW), kind=ReleaseAuthorization)
    assert release == ReleaseAuthorization(PUBLIC, 2, bytes.fromhex(SECURITY[2:]), RECIPIENT, SENDER, 14)
    assert s.attestors.asked == [statement(out)[0], statement(back)[0]]


async def test_a_rejected_bridge_out_gets_its_refund_attested_a_rejected_registration_is_final() -> None:
    s = Stage()
    rejected = await walk(s.store, bridge_out(1), *REJECT)
    # an operator's rejection sets a refund reason code whatever the kind: still nothing to refund
    await walk(s.store, registration(2), (Event.FINALIZED, {}), (Event.ESCALATED, {}),
               (Event.OPERATOR_REJECTED, {"reason": "operator-rejected", "reason_code": 4}))  # fmt: skip
    await walk(s.store, registration(3), (Event.FINALIZED, {}), (Event.REJECTED, {"reason": "nothing-to-revoke"}))
    await s.pass_()

    assert await s.states() == {"out-1": State.REFUND_ATTESTED, "reg-2": State.REJECTED, "reg-3": State.REJECTED}
    op = await s.store.get("out-1")
    digest = digest_of(rejected)
    assert (op.attestation, op.attempts, op.reason, op.reason_code) == (digest, 0, "sanctions-hit", 3)
    document = await s.store.attestation(digest)
    assert document is not None
    refund = verify(document, TRUST, domain=Domain(REGISTRY, ESCROW), kind=RefundAuthorization)
    assert refund == RefundAuthorization(1, TOKEN, SENDER, 100, 3)
    assert s.attestors.asked == [refund]
    assert await s.store.attestations_of("reg-2") == await s.store.attestations_of("reg-3") == []
    assert s.log.size == 1


async def test_attestors_refusing_an_approved_operation_hold_it_for_an_operator() -> None:
    s = Stage(MemoryAttestors(KEYS, threshold=2, refuse={"TransferAuthorization": "recipient not eligible"}))
    await walk(s.store, bridge_out(1), *APPROVE)
    await s.pass_()

    op = await s.store.get("out-1")
    assert (op.state, op.reason, op.attempts, op.attestation, op.last_error) == (
        State.HELD, "attestors-refused", 0, None, None,
    )  # fmt: skip
    refusals = "; ".join(f"{k.id}: recipient not eligible" for k in KEYS)
    detail = f"attestors refused: refused: {refusals}"
    assert (await s.store.history("out-1"))[-1]["detail"] == detail
    assert await s.store.attestations_of("out-1") == []
    assert s.log.size == 0
    await s.pass_()  # held: never asked again
    assert len(s.attestors.asked) == 1


async def test_attestors_refusing_a_refund_hold_it_for_an_operator() -> None:
    """The attestors decide again themselves: a refund they refuse (their rules would mint it, or they see
    another reason) is not retried for ever but held, with no refund reason, for an officer to decide."""
    s = Stage(MemoryAttestors(KEYS, threshold=2, refuse={"RefundAuthorization": "refund-not-decided"}))
    await walk(s.store, bridge_out(1), *REJECT)
    await s.pass_()

    op = await s.store.get("out-1")
    assert (op.state, op.reason, op.reason_code, op.attestation) == (State.HELD, "attestors-refused", None, None)
    refusals = "att-1: refund-not-decided; att-2: refund-not-decided; att-3: refund-not-decided"
    assert (await s.store.history("out-1"))[-1]["detail"] == f"attestors refused: refused: {refusals}"
    assert s.log.size == 0
    await s.pass_()  # held: never asked again
    assert len(s.attestors.asked) == 1


async def test_the_attestors_are_shown_the_signed_statements_the_decision_rests_on() -> None:
    """Each request carries the KYC claim and the officer's decision its operation's payload names (as stored),
    so that each attestor checks them and decides again itself; an operation naming none carries none."""
    s = Stage(MemoryAttestors(KEYS, threshold=2))
    claim, decision = signed(bridge_out(9)), decision_for(bridge_out(1))  # any stored attestations will do
    await s.store.save_attestations([(claim, None), (decision, None)])
    named = {"claim": "0x" + claim.digest.hex(), "decision": "0x" + decision.digest.hex()}
    await walk(s.store, bridge_out(1), (Event.FINALIZED, {}), (Event.APPROVED, {"payload": named}))
    await walk(s.store, bridge_out(2), *APPROVE)
    await s.pass_()
    assert s.attestors.contexts == [
        {"claim": claim.to_json(), "decision": decision.to_json()}, None,
    ]  # fmt: skip


async def test_not_yet_attested_is_retried_with_a_backoff() -> None:
    s = Stage(MemoryAttestors(KEYS, threshold=2, later={"TransferAuthorization"}))
    await walk(s.store, bridge_out(1), *APPROVE)
    await s.pass_()

    op = await s.store.get("out-1")
    later = s.clock.utc() + timedelta(seconds=backoff_seconds(1, "out-1"))
    assert (op.state, op.attempts, op.next_attempt_at, op.last_error) == (
        State.APPROVED, 1, later, "TransferAuthorization: not final yet",
    )  # fmt: skip
    s.clock.now += 3600
    await s.pass_()  # still not yet: attempt 2
    op = await s.store.get("out-1")
    assert (op.state, op.attempts) == (State.APPROVED, 2)
    assert op.next_attempt_at == s.clock.utc() + timedelta(seconds=backoff_seconds(2, "out-1"))

    s.attestors.later.clear()
    s.clock.now += 3600
    await s.pass_()
    op = await s.store.get("out-1")
    assert (op.state, op.attempts, op.last_error) == (State.ATTESTED, 0, "TransferAuthorization: not final yet")
    assert await s.store.attestations_of("out-1") == [op.attestation]


async def test_each_operation_of_a_batch_gets_its_own_answer() -> None:
    attestors = MemoryAttestors(
        KEYS, threshold=2, refuse={"TransferAuthorization": "no"}, later={"RefundAuthorization"}
    )
    s = Stage(attestors)
    await walk(s.store, bridge_out(1), *APPROVE)
    await walk(s.store, bridge_out(2), *REJECT)
    await walk(s.store, bridge_back(3), *APPROVE)
    await s.pass_()

    assert await s.states() == {"out-1": State.HELD, "out-2": State.REJECTED, "back-3": State.ATTESTED}
    assert [(await s.store.get(i)).attempts for i in ("out-1", "out-2", "back-3")] == [0, 1, 0]
    assert s.log.size == 1
    assert len(s.attestors.asked) == 3


async def test_at_most_flights_batches_fly_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(attest_module, "BATCH", 2)
    monkeypatch.setattr(attest_module, "FLIGHTS", 2)
    attestors = GatedAttestors(KEYS, threshold=2)
    s = Stage(attestors)
    for n in range(1, 8):
        await walk(s.store, bridge_out(n), *APPROVE)

    await s.stage.run()
    await asyncio.sleep(0)
    assert attestors.batches == [2, 2]  # two flights of two: the oldest four
    await s.stage.run()  # no room while both are in the air
    await asyncio.sleep(0)
    assert attestors.batches == [2, 2]

    attestors.gate.set()
    await s.stage.drain()
    assert s.wakes == 2  # each landed flight wakes the stage
    assert await s.states() == {f"out-{n}": State.ATTESTED if n <= 4 else State.APPROVED for n in range(1, 8)}
    await s.pass_()
    assert attestors.batches == [2, 2, 2, 1]
    assert set((await s.states()).values()) == {State.ATTESTED}
    assert {op.id: op.attestation for op in await s.store.find(limit=10)} == {
        f"out-{n}": digest_of(await s.store.get(f"out-{n}")) for n in range(1, 8)
    }
    assert s.log.size == 7


async def test_operations_in_the_air_are_not_asked_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(attest_module, "BATCH", 2)
    monkeypatch.setattr(attest_module, "FLIGHTS", 3)
    attestors = GatedAttestors(KEYS, threshold=2)
    s = Stage(attestors)
    for n in range(1, 4):
        await walk(s.store, bridge_out(n), *APPROVE)

    await s.stage.run()
    await asyncio.sleep(0)
    assert attestors.batches == [2, 1]
    await walk(s.store, bridge_out(4), *APPROVE)
    await s.stage.run()  # room for one more flight: only the new operation
    await asyncio.sleep(0)
    assert attestors.batches == [2, 1, 1]

    attestors.gate.set()
    await s.stage.drain()
    assert await s.states() == dict.fromkeys(("out-1", "out-2", "out-3", "out-4"), State.ATTESTED)
    assert len(attestors.asked) == 4
    assert s.log.size == 4
    assert s.wakes == 3


async def test_a_fatal_failure_inside_a_flight_fails_the_next_pass() -> None:
    attestors = GatedAttestors(KEYS, threshold=2, error=ValueError("a bug in the attestor client"))
    attestors.gate.set()
    s = Stage(attestors)
    await walk(s.store, bridge_out(1), *APPROVE)
    await s.stage.run()  # the pass that starts the flight does not fail
    await s.stage.drain()
    assert s.wakes == 1

    with pytest.raises(ValueError, match="a bug in the attestor client"):
        await s.stage.run()
    attestors.error = None
    with pytest.raises(ValueError, match="a bug in the attestor client"):  # until an operator restarts it
        await s.stage.run()
    op = await s.store.get("out-1")
    assert (op.state, op.attempts, op.last_error) == (State.APPROVED, 0, None)
    assert attestors.batches == [1]
    assert s.log.size == 0


async def test_a_transient_failure_inside_a_flight_is_logged_and_its_operations_fly_again() -> None:
    error = RpcUnavailable("sign-batch", "connection refused")
    attestors = GatedAttestors(KEYS, threshold=2, error=error)
    attestors.gate.set()
    s = Stage(attestors)
    await walk(s.store, bridge_out(1), *APPROVE)
    with capture_logs() as logs:
        await s.pass_()
    failed = [e for e in logs if e["event"] == "attestation batch failed"]
    assert failed == [{"event": "attestation batch failed", "log_level": "warning", "error": repr(error)}]
    op = await s.store.get("out-1")
    assert (op.state, op.attempts, op.last_error) == (State.APPROVED, 0, None)  # no schedule: the next pass
    assert s.wakes == 1

    await s.pass_()  # the pass after does not fail: the operation flies again (and fails again)
    assert attestors.batches == [1, 1]
    attestors.error = None
    await s.pass_()
    op = await s.store.get("out-1")
    assert (op.state, op.attempts) == (State.ATTESTED, 0)
    assert attestors.batches == [1, 1, 1]
    assert s.log.size == 1
