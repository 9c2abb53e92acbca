"""The transfer state machine: one transition table for every operation the relayer carries out.

Pure (no I/O, no clock). Kinds share states; a few transitions belong to one kind only. Illegal
transitions raise `IllegalTransition`. Retry timing is a pure function of the persisted attempt count.

    bridge-out:   observed -> finalized -> approved -> attested -> submitted -> confirmed (minted)
                  finalized -> held (escalated) -> approved | rejected
                  finalized -> rejected -> refund-attested -> refund-submitted -> refunded
    bridge-back:  observed -> finalized -> approved -> attested -> submitted -> confirmed (released)
    holder-register / holder-revoke: like bridge-back; a rejected registration (or a revocation with
                  nothing to revoke) is final
    any kind:     observed -> dropped (its block was reorged out) -> observed (seen again)
                  attested -> stalled (the chain refuses delivery) -> attested (operator retry)

Once a bridge-out is attested for minting it can never be refunded: the signed authorization stays
valid, so the only safe end is the mint (attestors enforce the same rule on their side).
"""

from __future__ import annotations

import hashlib
from enum import StrEnum

from relayer.errors import DariError


class Kind(StrEnum):
    BRIDGE_OUT = "bridge-out"
    BRIDGE_BACK = "bridge-back"
    HOLDER_REGISTER = "holder-register"
    HOLDER_REVOKE = "holder-revoke"


class State(StrEnum):
    OBSERVED = "observed"
    FINALIZED = "finalized"
    HELD = "held"
    APPROVED = "approved"
    ATTESTED = "attested"
    SUBMITTED = "submitted"
    CONFIRMED = "confirmed"
    STALLED = "stalled"
    REJECTED = "rejected"
    REFUND_ATTESTED = "refund-attested"
    REFUND_SUBMITTED = "refund-submitted"
    REFUNDED = "refunded"
    REFUND_STALLED = "refund-stalled"
    DROPPED = "dropped"


class Event(StrEnum):
    FINALIZED = "finalized"
    REORGED = "reorged"
    REOBSERVED = "reobserved"
    APPROVED = "approved"
    REJECTED = "rejected"
    ESCALATED = "escalated"
    OPERATOR_APPROVED = "operator-approved"
    OPERATOR_REJECTED = "operator-rejected"
    ATTESTED = "attested"
    SUBMITTED = "submitted"
    CONFIRMED = "confirmed"
    SUBMISSION_FAILED = "submission-failed"
    STALLED = "stalled"
    RETRIED = "retried"


class IllegalTransition(DariError):
    """``event`` cannot happen to a ``kind`` operation in ``state``."""

    def __init__(self, kind: Kind, state: State, event: Event) -> None:
        self.kind, self.state, self.event = kind, state, event
        super().__init__(f"{kind} in state {state} cannot take event {event}")


ALL = frozenset(Kind)
OUT = frozenset({Kind.BRIDGE_OUT})
REGISTER = frozenset({Kind.HOLDER_REGISTER, Kind.HOLDER_REVOKE})

# (state, event) -> (next state, kinds for which the transition exists)
TRANSITIONS: dict[tuple[State, Event], tuple[State, frozenset[Kind]]] = {
    (State.OBSERVED, Event.FINALIZED): (State.FINALIZED, ALL),
    (State.OBSERVED, Event.REORGED): (State.DROPPED, ALL),
    (State.DROPPED, Event.REOBSERVED): (State.OBSERVED, ALL),
    (State.FINALIZED, Event.APPROVED): (State.APPROVED, ALL),
    (State.FINALIZED, Event.REJECTED): (State.REJECTED, OUT | REGISTER),
    (State.FINALIZED, Event.ESCALATED): (State.HELD, ALL),
    (State.HELD, Event.OPERATOR_APPROVED): (State.APPROVED, ALL),
    (State.HELD, Event.OPERATOR_REJECTED): (State.REJECTED, OUT | REGISTER),
    (State.HELD, Event.RETRIED): (State.FINALIZED, ALL),
    (State.APPROVED, Event.ATTESTED): (State.ATTESTED, ALL),
    (State.APPROVED, Event.ESCALATED): (State.HELD, ALL),
    (State.ATTESTED, Event.SUBMITTED): (State.SUBMITTED, ALL),
    (State.ATTESTED, Event.CONFIRMED): (State.CONFIRMED, ALL),
    (State.ATTESTED, Event.STALLED): (State.STALLED, ALL),
    (State.SUBMITTED, Event.CONFIRMED): (State.CONFIRMED, ALL),
    (State.SUBMITTED, Event.SUBMISSION_FAILED): (State.ATTESTED, ALL),
    (State.STALLED, Event.RETRIED): (State.ATTESTED, ALL),
    (State.STALLED, Event.CONFIRMED): (State.CONFIRMED, ALL),
    (State.REJECTED, Event.ATTESTED): (State.REFUND_ATTESTED, OUT),
    (State.REFUND_ATTESTED, Event.SUBMITTED): (State.REFUND_SUBMITTED, OUT),
    (State.REFUND_ATTESTED, Event.CONFIRMED): (State.REFUNDED, OUT),
    (State.REFUND_ATTESTED, Event.STALLED): (State.REFUND_STALLED, OUT),
    (State.REFUND_SUBMITTED, Event.CONFIRMED): (State.REFUNDED, OUT),
    (State.REFUND_SUBMITTED, Event.SUBMISSION_FAILED): (State.REFUND_ATTESTED, OUT),
    (State.REFUND_STALLED, Event.RETRIED): (State.REFUND_ATTESTED, OUT),
    (State.REFUND_STALLED, Event.CONFIRMED): (State.REFUNDED, OUT),
}

FINAL: dict[Kind, frozenset[State]] = {
    Kind.BRIDGE_OUT: frozenset({State.CONFIRMED, State.REFUNDED, State.DROPPED}),
    Kind.BRIDGE_BACK: frozenset({State.CONFIRMED, State.DROPPED}),
    Kind.HOLDER_REGISTER: frozenset({State.CONFIRMED, State.REJECTED, State.DROPPED}),
    Kind.HOLDER_REVOKE: frozenset({State.CONFIRMED, State.REJECTED, State.DROPPED}),
}
# States in which the relayer acts by itself; the others wait for the chain or an operator.
ACTIONABLE = frozenset(
    {State.OBSERVED, State.FINALIZED, State.APPROVED, State.ATTESTED, State.SUBMITTED, State.REJECTED,
     State.REFUND_ATTESTED, State.REFUND_SUBMITTED}
)  # fmt: skip


def next_state(kind: Kind, state: State, event: Event) -> State:
    """The state after ``event``; `IllegalTransition` when the table has no such edge for ``kind``."""
    edge = TRANSITIONS.get((state, event))
    if edge is None or kind not in edge[1]:
        raise IllegalTransition(kind, state, event)
    return edge[0]


def is_final(kind: Kind, state: State) -> bool:
    return state in FINAL[kind]


def is_actionable(kind: Kind, state: State) -> bool:
    """Whether the relayer moves a ``kind`` operation in ``state`` forward by itself."""
    return state in ACTIONABLE and not is_final(kind, state)


def backoff_seconds(attempts: int, key: str, base: float = 1.0, cap: float = 300.0) -> float:
    """Delay before retry number ``attempts`` (1, 2, ...): exponential, capped, with a jitter of up to
    25% derived from ``key`` so that a restart computes the same schedule."""
    if attempts <= 0:
        return 0.0
    delay: float = min(cap, base * 2.0 ** min(attempts - 1, 30))
    jitter = int.from_bytes(hashlib.sha256(f"{key}/{attempts}".encode()).digest()[:4], "big") / 2**32
    return delay * (0.75 + 0.25 * jitter)
