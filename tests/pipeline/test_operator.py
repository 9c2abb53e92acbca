"""Operator actions: the pure move (`relayer.core.operator.operator_move`) for every action in every state and
kind, and the stage applying it to the store (`relayer.pipeline.operator.Operator`): approve and reject a
held operation with a compliance officer's signed decision (verified, logged, stored, named by the
operation), retry a stalled one, refusals outside the states the state machine allows, for a kind without
the edge, for an unknown id, for a decision that does not count, and for a move that lost a race with
another process."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from attestations.attestation import Attestation
from attestations.kinds import OperatorDecision
from attestations.log import MemoryLogStorage, TransparencyLog
from relayer.core.model import Operation, Source, UnknownOperation
from relayer.core.operator import DECIDED, Decided, OperatorRefused, operator_move
from relayer.core.transfer_state import ACTIONS, Event, Kind, OperatorAction, State, is_final
from relayer.devtools.devnet.cast import attestor_key
from relayer.pipeline.operator import Operator
from tests.support.memory import Clock, MemoryOperationStore
from tests.support.pipeline import DECISIONS, OFFICERS, decision_for

REG, ETH = 820001, 31337
T0 = 1_800_000_000.0
NOW = datetime.fromtimestamp(T0, UTC)

# the events that bring a fresh (observed) operation to each state the tests start from
PATHS: dict[State, tuple[Event, ...]] = {
    State.OBSERVED: (),
    State.FINALIZED: (Event.FINALIZED,),
    State.HELD: (Event.FINALIZED, Event.ESCALATED),
    State.APPROVED: (Event.FINALIZED, Event.APPROVED),
    State.ATTESTED: (Event.FINALIZED, Event.APPROVED, Event.ATTESTED),
    State.STALLED: (Event.FINALIZED, Event.APPROVED, Event.ATTESTED, Event.STALLED),
    State.CONFIRMED: (Event.FINALIZED, Event.APPROVED, Event.ATTESTED, Event.CONFIRMED),
    State.REJECTED: (Event.FINALIZED, Event.REJECTED),
    State.REFUND_STALLED: (Event.FINALIZED, Event.REJECTED, Event.ATTESTED, Event.STALLED),
}


def operation(nonce: int, kind: Kind = Kind.BRIDGE_OUT, state: State = State.OBSERVED) -> Operation:
    return Operation(
        id=f"{REG}-{nonce}", kind=kind, state=state,
        source=Source(REG, "0x" + "bb" * 32, 10 + nonce, "0x" + "aa" * 32, 0), dest_chain_id=ETH,
        source_nonce=nonce, security_id="0x" + "cc" * 32, token="0x" + "dd" * 20, sender="0x" + "ee" * 20,
        recipient="0x" + "ff" * 20, amount=7,
    )  # fmt: skip


async def stored(store: MemoryOperationStore, nonce: int, state: State, kind: Kind = Kind.BRIDGE_OUT) -> Operation:
    """An operation of ``kind`` in ``state`` in ``store`` (walked there through the state machine)."""
    op = operation(nonce, kind)
    await store.observe_many([op])
    for event in PATHS[state]:
        await store.transition(op.id, event)
    found = await store.get(op.id)
    assert found.state == state
    return found


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def store(clock: Clock) -> MemoryOperationStore:
    return MemoryOperationStore(clock)


@pytest.fixture
def log() -> TransparencyLog:
    return TransparencyLog(MemoryLogStorage())


@pytest.fixture
def operator(store: MemoryOperationStore, clock: Clock, log: TransparencyLog) -> Operator:
    return Operator(store, clock, log, OFFICERS, DECISIONS)


def decided(op: Operation, action: OperatorAction) -> Decided | None:
    """The officer's verified decision an approval or rejection of ``op`` takes (None for a retry)."""
    if action not in DECIDED:
        return None
    attestation = decision_for(op, action == OperatorAction.APPROVE)
    assert isinstance(attestation.statement, OperatorDecision)
    return Decided(attestation.statement, "0x" + attestation.digest.hex())


async def act(operator: Operator, op: Operation, action: OperatorAction) -> Operation:
    """``action`` on ``op`` as an officer takes it: an approval or rejection with the officer's decision."""
    return await operator(
        op.id, action, decision_for(op, action == OperatorAction.APPROVE) if action in DECIDED else None
    )


# --- the pure move --------------------------------------------------------------------------------------


def test_actions_apply_where_the_state_machine_lets_them() -> None:
    assert {
        OperatorAction.APPROVE: (Event.OPERATOR_APPROVED, frozenset({State.HELD})),
        OperatorAction.REJECT: (Event.OPERATOR_REJECTED, frozenset({State.HELD})),
        OperatorAction.RETRY: (Event.RETRIED, frozenset({State.HELD, State.STALLED, State.REFUND_STALLED})),
    } == ACTIONS


OUTSIDE = [(a, s) for a in OperatorAction for s in State if s not in ACTIONS[a][1]]


@pytest.mark.parametrize(("action", "state"), OUTSIDE, ids=[f"{a}-{s}" for a, s in OUTSIDE])
@pytest.mark.parametrize("kind", list(Kind))
def test_an_action_outside_its_states_is_refused(action: OperatorAction, state: State, kind: Kind) -> None:
    op = operation(1, kind, state)
    with pytest.raises(OperatorRefused, match=f"^{op.id} is {state}: cannot {action}$"):
        operator_move(op, action, NOW)


# (kind, action, state): applies (True) or no such edge for the kind (False)
APPLIES = {
    (kind, action, state): not (
        (action == OperatorAction.REJECT and kind == Kind.BRIDGE_BACK)
        or (state == State.REFUND_STALLED and kind != Kind.BRIDGE_OUT)
    )
    for kind in Kind
    for action, (_, states) in ACTIONS.items()
    for state in states
}


@pytest.mark.parametrize(("kind", "action", "state"), APPLIES, ids=[f"{k}-{a}-{s}" for k, a, s in APPLIES])
def test_an_action_in_its_states_moves_unless_the_kind_has_no_such_edge(
    kind: Kind, action: OperatorAction, state: State
) -> None:
    op = operation(1, kind, state)
    if not APPLIES[(kind, action, state)]:
        with pytest.raises(OperatorRefused, match=f"^{kind} in state {state} cannot take event"):
            operator_move(op, action, NOW, decided(op, action))
        return
    move = operator_move(op, action, NOW, decided(op, action))
    assert (move.op, move.event, move.detail) == (op, ACTIONS[action][0], f"operator {action.value}")
    expected: dict[str, object] = {"next_attempt_at": NOW}
    if action in DECIDED:
        found = decided(op, action)
        assert found is not None
        expected["payload"] = {"decision": found.digest}
    if action == OperatorAction.APPROVE and kind == Kind.BRIDGE_OUT:
        expected["locked_until"] = 0
    if action == OperatorAction.REJECT:
        expected |= {"reason": "operator-rejected", "reason_code": 4}
    if action == OperatorAction.RETRY:
        expected["attempts"] = 0
    assert move.fields == expected


# --- the stage over the store ---------------------------------------------------------------------------


async def test_approving_a_held_operation_makes_it_approved_and_due_now(
    store: MemoryOperationStore, operator: Operator, clock: Clock
) -> None:
    held = await stored(store, 1, State.HELD)
    await store.update_many([(held.id, {"next_attempt_at": NOW + timedelta(days=1)})])
    clock.now = T0 + 60
    approved = await act(operator, held, OperatorAction.APPROVE)
    assert (approved.state, approved.next_attempt_at) == (State.APPROVED, clock.utc())
    assert (approved.reason, approved.reason_code) == (None, None)
    assert approved == await store.get(held.id)
    [*_, last] = await store.history(held.id)
    assert (last["from"], last["to"], last["event"], last["detail"]) == (
        "held", "approved", "operator-approved", "operator approve"
    )  # fmt: skip


async def test_rejecting_a_held_bridge_out_records_the_operator_rejection_for_its_refund(
    store: MemoryOperationStore, operator: Operator, clock: Clock
) -> None:
    held = await stored(store, 2, State.HELD)
    clock.now = T0 + 30
    rejected = await act(operator, held, OperatorAction.REJECT)
    assert (rejected.state, rejected.reason, rejected.reason_code) == (State.REJECTED, "operator-rejected", 4)
    assert is_final(Kind.HOLDER_REGISTER, rejected.state)
    assert rejected.next_attempt_at == clock.utc()
    assert rejected == await store.get(held.id)
    [*_, last] = await store.history(held.id)
    assert (last["from"], last["to"], last["event"], last["detail"]) == (
        "held", "rejected", "operator-rejected", "operator reject"
    )  # fmt: skip


async def test_retrying_a_stalled_operation_starts_its_attempts_afresh_and_due_now(
    store: MemoryOperationStore, operator: Operator, clock: Clock
) -> None:
    stalled = await stored(store, 3, State.STALLED)
    later = NOW + timedelta(hours=5)
    await store.update_many([(stalled.id, {"attempts": 20, "next_attempt_at": later, "last_error": "Reverted"})])
    clock.now = T0 + 120
    retried = await operator(stalled.id, OperatorAction.RETRY)
    assert (retried.state, retried.attempts, retried.next_attempt_at) == (State.ATTESTED, 0, clock.utc())
    assert retried.last_error == "Reverted"  # kept for the record; the next attempt overwrites it
    assert retried == await store.get(stalled.id)
    assert [o.id for o in await store.due([State.ATTESTED], now=clock.utc())] == [stalled.id]


async def test_retrying_a_stalled_refund_attests_the_refund_again(
    store: MemoryOperationStore, operator: Operator
) -> None:
    stalled = await stored(store, 4, State.REFUND_STALLED)
    retried = await operator(stalled.id, OperatorAction.RETRY)
    assert (retried.state, retried.attempts, retried.next_attempt_at) == (State.REFUND_ATTESTED, 0, NOW)


async def test_retrying_a_held_operation_decides_it_again(store: MemoryOperationStore, operator: Operator) -> None:
    held = await stored(store, 5, State.HELD)
    assert (await operator(held.id, OperatorAction.RETRY)).state == State.FINALIZED


REFUSED = [
    (OperatorAction.APPROVE, State.OBSERVED),
    (OperatorAction.APPROVE, State.FINALIZED),
    (OperatorAction.APPROVE, State.APPROVED),
    (OperatorAction.APPROVE, State.STALLED),
    (OperatorAction.APPROVE, State.CONFIRMED),
    (OperatorAction.REJECT, State.APPROVED),
    (OperatorAction.REJECT, State.ATTESTED),
    (OperatorAction.REJECT, State.STALLED),
    (OperatorAction.REJECT, State.REJECTED),
    (OperatorAction.RETRY, State.OBSERVED),
    (OperatorAction.RETRY, State.ATTESTED),
    (OperatorAction.RETRY, State.CONFIRMED),
    (OperatorAction.RETRY, State.REJECTED),
]


@pytest.mark.parametrize(("action", "state"), REFUSED, ids=[f"{a}-{s}" for a, s in REFUSED])
async def test_an_action_the_state_does_not_allow_is_refused_and_changes_nothing(
    store: MemoryOperationStore, operator: Operator, action: OperatorAction, state: State
) -> None:
    op = await stored(store, 6, state)
    history = await store.history(op.id)
    with pytest.raises(OperatorRefused, match=f"is {state}: cannot {action}"):
        await act(operator, op, action)
    assert await store.get(op.id) == op
    assert await store.history(op.id) == history


async def test_rejecting_a_held_bridge_back_is_refused(store: MemoryOperationStore, operator: Operator) -> None:
    """A bridge-back has no rejected state: its burned units can only be released."""
    held = await stored(store, 7, State.HELD, Kind.BRIDGE_BACK)
    with pytest.raises(OperatorRefused, match="bridge-back in state held cannot take event operator-rejected"):
        await act(operator, held, OperatorAction.REJECT)
    assert await store.get(held.id) == held
    assert (await act(operator, held, OperatorAction.APPROVE)).state == State.APPROVED


async def test_rejecting_a_held_registration_is_final_for_it(store: MemoryOperationStore, operator: Operator) -> None:
    held = await stored(store, 8, State.HELD, Kind.HOLDER_REGISTER)
    rejected = await act(operator, held, OperatorAction.REJECT)
    assert (rejected.state, rejected.reason, rejected.reason_code) == (State.REJECTED, "operator-rejected", 4)
    assert is_final(Kind.HOLDER_REGISTER, rejected.state)


async def test_an_unknown_operation_is_reported(operator: Operator) -> None:
    with pytest.raises(UnknownOperation):
        await operator(f"{REG}-404", OperatorAction.APPROVE, decision_for(operation(404)))


class RacedStore(MemoryOperationStore):
    """A store where another process approves the operation right after this one read it (once)."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(clock)
        self.armed = False

    async def get(self, operation_id: str) -> Operation:
        read = await super().get(operation_id)
        if self.armed:
            self.armed = False
            await self.transition(operation_id, Event.OPERATOR_APPROVED, detail="the other operator")
        return read


@pytest.mark.parametrize("action", [OperatorAction.APPROVE, OperatorAction.REJECT])
async def test_a_move_that_lost_the_race_is_refused(clock: Clock, action: OperatorAction) -> None:
    store = RacedStore(clock)
    held = await stored(store, 9, State.HELD)
    store.armed = True
    with pytest.raises(OperatorRefused, match=f"{held.id} is approved, expected held"):
        await act(Operator(store, clock, TransparencyLog(MemoryLogStorage()), OFFICERS, DECISIONS), held, action)
    after = await store.get(held.id)
    assert after.state == State.APPROVED and after.reason is None
    assert [h["detail"] for h in await store.history(held.id)][-1] == "the other operator"


# --- the officer's decision -------------------------------------------------------------------------------


async def test_the_officers_decision_is_logged_stored_and_named_and_keeps_its_lock_up(
    store: MemoryOperationStore, operator: Operator, log: TransparencyLog
) -> None:
    held = await stored(store, 10, State.HELD)
    await store.update_many([(held.id, {"locked_until": 1_900_000_000})])  # the rules' lock-up
    held = await store.get(held.id)
    decision = decision_for(held, locked_until=1_950_000_000)  # the officer keeps a longer one
    approved = await operator(held.id, OperatorAction.APPROVE, decision)
    digest = "0x" + decision.digest.hex()
    assert (approved.state, approved.locked_until, approved.payload["decision"]) == (
        State.APPROVED, 1_950_000_000, digest
    )  # fmt: skip
    document = await store.attestation(digest)
    assert document is not None and Attestation.parse(document).log_index == 0
    assert log.size == 1
    assert await store.attestations_of(held.id) == []  # the attestors' statements only


def _other_source(op: Operation) -> Operation:
    return Operation(**{**op.__dict__, "source": Source(REG, "0x" + "99" * 32, 10, "0x" + "aa" * 32, 3)})


NOT_COUNTED: dict[str, tuple[Callable[[Operation], Attestation | None], str]] = {
    "no decision": (lambda op: None, "takes a compliance officer's signed decision"),
    "signed by an attestor, not the officer": (
        lambda op: decision_for(op, key=attestor_key("att-1")),
        "operator-decision-invalid",
    ),
    "about another source event": (lambda op: decision_for(_other_source(op)), "another source event"),
    "a rejection, to approve": (lambda op: decision_for(op, approve=False), "decision rejects; cannot approve"),
    "below the rules' lock-up": (lambda op: decision_for(op, locked_until=5), "below the rules' 1900000000"),
}


@pytest.mark.parametrize("case", NOT_COUNTED)
async def test_an_approval_without_a_decision_that_counts_is_refused_and_changes_nothing(
    store: MemoryOperationStore, operator: Operator, log: TransparencyLog, case: str
) -> None:
    """The relayer holds no officer key: whoever calls the API or the CLI without the officer's own signature
    on this very item (or with a decision that lowers the rules' lock-up) changes nothing."""
    held = await stored(store, 11, State.HELD)
    await store.update_many([(held.id, {"locked_until": 1_900_000_000})])
    held = await store.get(held.id)
    make, match = NOT_COUNTED[case]
    with pytest.raises(OperatorRefused, match=match):
        await operator(held.id, OperatorAction.APPROVE, make(held))
    assert await store.get(held.id) == held
    assert log.size == 0


async def test_without_configured_officers_no_decision_counts(store: MemoryOperationStore, clock: Clock) -> None:
    held = await stored(store, 12, State.HELD)
    operator = Operator(store, clock, TransparencyLog(MemoryLogStorage()), None, DECISIONS)
    with pytest.raises(OperatorRefused, match="no compliance officers are configured"):
        await operator(held.id, OperatorAction.APPROVE, decision_for(held))
