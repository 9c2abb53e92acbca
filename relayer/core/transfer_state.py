"""The transfer state machine: one transition table for every operation the relayer carries out, and
what follows from it (final states, delivery purposes, operator actions); the status table of the
transactions that deliver them; the retry schedule.

Pure (no I/O, no clock). Kinds share states; a few transitions belong to one kind only. Illegal
transitions raise `IllegalTransition`. Retry timing is a pure function of the persisted attempt count.

    bridge-out:   observed -> finalized -> approved -> attested -> submitted -> confirmed (minted)
                  finalized -> held (escalated) -> approved | rejected
                  finalized -> rejected -> refund-attested -> refund-submitted -> refunded
                  rejected -> held (the attestors refuse the refund: they decide otherwise)
    bridge-back:  observed -> finalized -> approved -> attested -> submitted -> confirmed (released)
    holder-register / holder-revoke: like bridge-back; a rejected registration (or a revocation with
                  nothing to revoke) is final
    any kind:     observed -> dropped (its block was reorged out) -> observed (seen again)
                  attested -> stalled (the chain refuses delivery) -> attested (operator retry)

Once a bridge-out is attested for minting it can never be refunded: the signed authorization stays
valid, so the only safe end is the mint (attestors enforce the same rule on their side).

A delivering transaction (``submissions``): pending -> mined -> final, or failed (reverted), replaced
(its nonce went to another transaction, or the node dropped it); a reorg takes a mined one back to
pending (the node still holds it) or reorged (its operations are delivered again).
"""

from __future__ import annotations

import hashlib
from enum import StrEnum

from relayer.core.errors import DariError


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


class Purpose(StrEnum):
    """What the transaction delivering an operation does on its destination chain."""

    MINT = "mint"
    REFUND = "refund"
    RELEASE = "release"
    REGISTER = "register"
    REVOKE = "revoke"


class OperatorAction(StrEnum):
    """What an operator may do to a held or stalled operation (`ACTIONS` says where)."""

    APPROVE = "approve"
    REJECT = "reject"
    RETRY = "retry"


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
    (State.REJECTED, Event.ESCALATED): (State.HELD, OUT),
    (State.REFUND_ATTESTED, Event.SUBMITTED): (State.REFUND_SUBMITTED, OUT),
    (State.REFUND_ATTESTED, Event.CONFIRMED): (State.REFUNDED, OUT),
    (State.REFUND_ATTESTED, Event.STALLED): (State.REFUND_STALLED, OUT),
    (State.REFUND_SUBMITTED, Event.CONFIRMED): (State.REFUNDED, OUT),
    (State.REFUND_SUBMITTED, Event.SUBMISSION_FAILED): (State.REFUND_ATTESTED, OUT),
    (State.REFUND_STALLED, Event.RETRIED): (State.REFUND_ATTESTED, OUT),
    (State.REFUND_STALLED, Event.CONFIRMED): (State.REFUNDED, OUT),
}

REVIVING = frozenset({Event.REOBSERVED})
"""Events only the chain brings (the event reappeared after a reorg): they never keep a state from being final."""


def next_state(kind: Kind, state: State, event: Event) -> State:
    """The state after ``event``; `IllegalTransition` when the table has no such edge for ``kind``."""
    edge = TRANSITIONS.get((state, event))
    if edge is None or kind not in edge[1]:
        raise IllegalTransition(kind, state, event)
    return edge[0]


def _reachable(kind: Kind) -> set[State]:
    seen, frontier = {State.OBSERVED}, [State.OBSERVED]
    while frontier:
        state = frontier.pop()
        for (source, _), (target, kinds) in TRANSITIONS.items():
            if source == state and kind in kinds and target not in seen:
                seen.add(target)
                frontier.append(target)
    return seen


def _final(kind: Kind) -> frozenset[State]:
    """The states ``kind`` reaches and never leaves, but for an event that comes back (`REVIVING`)."""
    leaving = {s for (s, e), (_, kinds) in TRANSITIONS.items() if kind in kinds and e not in REVIVING}
    return frozenset(_reachable(kind) - leaving)


def _reached_by(*events: Event) -> frozenset[State]:
    return frozenset(target for (_, event), (target, _) in TRANSITIONS.items() if event in events)


FINAL: dict[Kind, frozenset[State]] = {kind: _final(kind) for kind in Kind}
ALWAYS_FINAL = frozenset(s for s in State if all(s in FINAL[k] for k in Kind if s in _reachable(k)))
"""States final for every kind that reaches them (confirmed, refunded, dropped): a query needs no kind."""
AWAITING_DELIVERY = _reached_by(Event.ATTESTED)  # signed, to be sent (attested, refund-attested)
SUBMITTED = _reached_by(Event.SUBMITTED)  # sent, waiting for the transaction to be final
DELIVERED = _reached_by(Event.SUBMITTED, Event.CONFIRMED)  # on its way or done: its signatures are stored

REFUNDING = frozenset({State.REJECTED, *(t for (s, _), (t, kinds) in TRANSITIONS.items() if kinds == OUT)})
"""The bridge-out refund path: rejected, and every state only a bridge-out's refund reaches."""

_PURPOSE = {
    Kind.BRIDGE_OUT: Purpose.MINT, Kind.BRIDGE_BACK: Purpose.RELEASE, Kind.HOLDER_REGISTER: Purpose.REGISTER,
    Kind.HOLDER_REVOKE: Purpose.REVOKE,
}  # fmt: skip
_ACTION_EVENTS = {
    OperatorAction.APPROVE: Event.OPERATOR_APPROVED, OperatorAction.REJECT: Event.OPERATOR_REJECTED,
    OperatorAction.RETRY: Event.RETRIED,
}  # fmt: skip
ACTIONS: dict[OperatorAction, tuple[Event, frozenset[State]]] = {
    action: (event, frozenset(s for (s, e) in TRANSITIONS if e == event)) for action, event in _ACTION_EVENTS.items()
}
"""Each operator action: its event and the states it applies in (every state the table lets it leave)."""


def is_final(kind: Kind, state: State) -> bool:
    return state in FINAL[kind]


def purpose(kind: Kind, state: State) -> Purpose:
    """What delivering a ``kind`` operation in ``state`` does: a bridge-out on its refund path is refunded."""
    if kind == Kind.BRIDGE_OUT and state in REFUNDING:
        return Purpose.REFUND
    return _PURPOSE[kind]


def backoff_seconds(attempts: int, key: str, base: float = 1.0, cap: float = 300.0) -> float:
    """Delay before retry number ``attempts`` (1, 2, ...): exponential, capped, with a jitter of up to
    25% derived from ``key`` so that a restart computes the same schedule."""
    if attempts <= 0:
        return 0.0
    delay: float = min(cap, base * 2.0 ** min(attempts - 1, 30))
    jitter = int.from_bytes(hashlib.sha256(f"{key}/{attempts}".encode()).digest()[:4], "big") / 2**32
    return delay * (0.75 + 0.25 * jitter)


# --- the delivering transactions ------------------------------------------------------------------------


class SubmissionStatus(StrEnum):
    PENDING = "pending"  # broadcast (or about to be), not mined
    MINED = "mined"  # mined and succeeded, not deep enough yet
    FINAL = "final"  # mined, succeeded, canonical and deep enough
    FAILED = "failed"  # mined and reverted
    REPLACED = "replaced"  # its nonce went to another transaction, or the node dropped it
    REORGED = "reorged"  # a reorg took it away and the node no longer holds it


SUBMISSION_TRANSITIONS: dict[SubmissionStatus, frozenset[SubmissionStatus]] = {
    SubmissionStatus.PENDING: frozenset(
        {SubmissionStatus.MINED, SubmissionStatus.FINAL, SubmissionStatus.FAILED, SubmissionStatus.REPLACED}
    ),
    SubmissionStatus.MINED: frozenset(
        {SubmissionStatus.FINAL, SubmissionStatus.FAILED, SubmissionStatus.PENDING, SubmissionStatus.REORGED}
    ),
    SubmissionStatus.FINAL: frozenset(),
    SubmissionStatus.FAILED: frozenset(),
    SubmissionStatus.REPLACED: frozenset(),
    SubmissionStatus.REORGED: frozenset(),
}
WATCHED = frozenset(s for s, following in SUBMISSION_TRANSITIONS.items() if following)
"""Submissions whose transaction may still change (pending, mined): the chain is asked about them again."""
IN_FLIGHT = frozenset({SubmissionStatus.PENDING})
"""Submissions whose transaction may still mine: their operations are never sent again meanwhile."""


class IllegalSubmissionMove(DariError):
    """A recorded submission cannot go from ``status`` to ``target``."""

    def __init__(self, status: SubmissionStatus, target: SubmissionStatus) -> None:
        self.status, self.target = status, target
        super().__init__(f"a {status} submission cannot become {target}")


def check_submission_move(status: SubmissionStatus, target: SubmissionStatus) -> SubmissionStatus:
    """``target``, if the table lets a ``status`` submission go there; `IllegalSubmissionMove` otherwise."""
    if target not in SUBMISSION_TRANSITIONS[status]:
        raise IllegalSubmissionMove(status, target)
    return target
