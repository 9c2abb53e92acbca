"""The transfer state machine, exhaustively: every (kind, state, event) is either in the table or raises."""

from __future__ import annotations

import itertools

import pytest

from relayer.core.transfer_state import (
    ACTIONS,
    ALWAYS_FINAL,
    AWAITING_DELIVERY,
    DELIVERED,
    FINAL,
    IN_FLIGHT,
    SUBMISSION_TRANSITIONS,
    SUBMITTED,
    TRANSITIONS,
    WATCHED,
    Event,
    IllegalSubmissionMove,
    IllegalTransition,
    Kind,
    OperatorAction,
    Purpose,
    State,
    SubmissionStatus,
    backoff_seconds,
    check_submission_move,
    is_final,
    next_state,
    purpose,
)


@pytest.mark.parametrize(("kind", "state", "event"), list(itertools.product(Kind, State, Event)))
def test_every_combination_is_defined_or_raises(kind: Kind, state: State, event: Event) -> None:
    edge = TRANSITIONS.get((state, event))
    if edge is not None and kind in edge[1]:
        assert next_state(kind, state, event) == edge[0]
    else:
        with pytest.raises(IllegalTransition) as info:
            next_state(kind, state, event)
        assert (info.value.kind, info.value.state, info.value.event) == (kind, state, event)


def walk(kind: Kind, *events: Event) -> State:
    state = State.OBSERVED
    for event in events:
        state = next_state(kind, state, event)
    return state


def test_paths() -> None:
    E = Event
    assert walk(Kind.BRIDGE_OUT, E.FINALIZED, E.APPROVED, E.ATTESTED, E.SUBMITTED, E.CONFIRMED) == State.CONFIRMED
    refund = (E.FINALIZED, E.REJECTED, E.ATTESTED, E.SUBMITTED, E.CONFIRMED)
    assert walk(Kind.BRIDGE_OUT, *refund) == State.REFUNDED
    held = (E.FINALIZED, E.ESCALATED, E.OPERATOR_REJECTED, E.ATTESTED, E.SUBMITTED, E.CONFIRMED)
    assert walk(Kind.BRIDGE_OUT, *held) == State.REFUNDED
    retried = (E.FINALIZED, E.APPROVED, E.ATTESTED, E.SUBMITTED, E.SUBMISSION_FAILED, E.SUBMITTED, E.CONFIRMED)
    assert walk(Kind.BRIDGE_BACK, *retried) == State.CONFIRMED
    assert walk(Kind.HOLDER_REGISTER, E.FINALIZED, E.REJECTED) == State.REJECTED
    assert walk(Kind.BRIDGE_OUT, E.REORGED, E.REOBSERVED, E.FINALIZED) == State.FINALIZED


def reachable_from(start: State) -> set[State]:
    reachable, frontier = {start}, [start]
    while frontier:
        state = frontier.pop()
        for event in Event:
            try:
                following = next_state(Kind.BRIDGE_OUT, state, event)
            except IllegalTransition:
                continue
            if following not in reachable:
                reachable.add(following)
                frontier.append(following)
    return reachable


def test_an_attested_mint_can_never_turn_into_a_refund() -> None:
    """Exactly once: after ATTESTED (mint path) no sequence of events reaches a refund state."""
    refunds = {State.REJECTED, State.REFUND_ATTESTED, State.REFUND_SUBMITTED, State.REFUNDED, State.REFUND_STALLED}
    assert reachable_from(State.ATTESTED).isdisjoint(refunds)


def test_only_bridge_outs_refund_and_bridge_backs_are_never_rejected() -> None:
    for kind in (Kind.BRIDGE_BACK, Kind.HOLDER_REGISTER, Kind.HOLDER_REVOKE):
        with pytest.raises(IllegalTransition):
            next_state(kind, State.REJECTED, Event.ATTESTED)
    with pytest.raises(IllegalTransition):
        next_state(Kind.BRIDGE_BACK, State.FINALIZED, Event.REJECTED)


def test_final_states_have_no_way_out_except_reobservation() -> None:
    for kind, finals in FINAL.items():
        for state in finals:
            assert is_final(kind, state)
            assert not any(state in allowed for _, allowed in ACTIONS.values())
            for event in Event:
                if (state, event) == (State.DROPPED, Event.REOBSERVED):
                    continue
                with pytest.raises(IllegalTransition):
                    next_state(kind, state, event)


def test_every_state_is_reachable_for_bridge_out() -> None:
    assert reachable_from(State.OBSERVED) == set(State)


def test_backoff_is_a_pure_capped_function_of_attempts() -> None:
    assert backoff_seconds(0, "x") == 0
    delays = [backoff_seconds(n, "820001-7") for n in range(1, 20)]
    assert delays == [backoff_seconds(n, "820001-7") for n in range(1, 20)]  # same after a restart
    assert all(0.75 <= d / min(300.0, 2 ** (n - 1)) <= 1.0 for n, d in enumerate(delays, 1))
    assert max(delays) <= 300
    assert backoff_seconds(3, "a") != backoff_seconds(3, "b")


def test_the_sets_derived_from_the_table_are_the_documented_ones() -> None:
    """Final, delivery and operator states follow from the one table; pinned here so a new edge that changes
    them is a deliberate change."""
    S = State
    assert {
        Kind.BRIDGE_OUT: {S.CONFIRMED, S.REFUNDED, S.DROPPED},
        Kind.BRIDGE_BACK: {S.CONFIRMED, S.DROPPED},
        Kind.HOLDER_REGISTER: {S.CONFIRMED, S.REJECTED, S.DROPPED},
        Kind.HOLDER_REVOKE: {S.CONFIRMED, S.REJECTED, S.DROPPED},
    } == FINAL
    assert {S.CONFIRMED, S.REFUNDED, S.DROPPED} == ALWAYS_FINAL
    assert {S.ATTESTED, S.REFUND_ATTESTED} == AWAITING_DELIVERY
    assert {S.SUBMITTED, S.REFUND_SUBMITTED} == SUBMITTED
    assert {S.SUBMITTED, S.REFUND_SUBMITTED, S.CONFIRMED, S.REFUNDED} == DELIVERED
    assert {a: allowed for a, (_, allowed) in ACTIONS.items()} == {
        OperatorAction.APPROVE: {S.HELD}, OperatorAction.REJECT: {S.HELD},
        OperatorAction.RETRY: {S.HELD, S.STALLED, S.REFUND_STALLED},
    }  # fmt: skip


def test_each_delivery_has_its_purpose() -> None:
    assert purpose(Kind.BRIDGE_OUT, State.ATTESTED) == Purpose.MINT
    assert purpose(Kind.BRIDGE_OUT, State.SUBMITTED) == Purpose.MINT
    for refunding in (State.REJECTED, State.REFUND_ATTESTED, State.REFUND_SUBMITTED, State.REFUND_STALLED):
        assert purpose(Kind.BRIDGE_OUT, refunding) == Purpose.REFUND
    assert purpose(Kind.BRIDGE_BACK, State.ATTESTED) == Purpose.RELEASE
    assert purpose(Kind.HOLDER_REGISTER, State.SUBMITTED) == Purpose.REGISTER
    assert purpose(Kind.HOLDER_REVOKE, State.ATTESTED) == Purpose.REVOKE


@pytest.mark.parametrize(("status", "target"), list(itertools.product(SubmissionStatus, SubmissionStatus)))
def test_every_submission_move_is_in_the_table_or_raises(status: SubmissionStatus, target: SubmissionStatus) -> None:
    if target in SUBMISSION_TRANSITIONS[status]:
        assert check_submission_move(status, target) is target
    else:
        with pytest.raises(IllegalSubmissionMove):
            check_submission_move(status, target)


def test_only_pending_and_mined_submissions_are_watched_and_only_pending_ones_in_flight() -> None:
    assert {SubmissionStatus.PENDING, SubmissionStatus.MINED} == WATCHED
    assert {SubmissionStatus.PENDING} == IN_FLIGHT
