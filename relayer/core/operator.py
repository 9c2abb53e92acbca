"""What an operator's action does to a held or stalled operation, pure: the move it makes, or why it does
not apply (`OperatorRefused`). Which states each action applies in is the state machine's
(`relayer.core.transfer_state.ACTIONS`).

An approval or rejection is a compliance officer's decision: it carries the officer's signed
`OperatorDecision` (checked by `relayer.core.signed.verified_decision` before it gets here), whose digest the
operation's payload names (``decision``) so that the attestors are shown it. A bridge-out approved is minted
under the lock-up the decision keeps, never below the one the rules set."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from attestations.kinds import OperatorDecision
from relayer.core.decisions import REFUND_REASONS
from relayer.core.errors import DariError
from relayer.core.model import Move, Operation
from relayer.core.transfer_state import ACTIONS, IllegalTransition, Kind, OperatorAction, next_state

DECIDED = frozenset({OperatorAction.APPROVE, OperatorAction.REJECT})  # the actions that are an officer's decision


class OperatorRefused(DariError):
    """The action does not apply to the operation in its current state, or its decision does not fit."""


@dataclass(frozen=True)
class Decided:
    """An officer's verified decision about an operation, and the digest of its attestation."""

    decision: OperatorDecision
    digest: str


def operator_move(op: Operation, action: OperatorAction, now: datetime, decided: Decided | None = None) -> Move:
    """The move ``action`` makes of ``op`` at ``now`` (due at once; a rejection carries its refund reason, a
    retry starts its attempts afresh; an approval or rejection needs ``decided``, the officer's decision that
    makes it); `OperatorRefused` when it does not apply in ``op``'s state or with that decision."""
    event, allowed = ACTIONS[action]
    if op.state not in allowed:
        raise OperatorRefused(f"{op.id} is {op.state}: cannot {action}")
    try:
        next_state(op.kind, op.state, event)
    except IllegalTransition as exc:
        raise OperatorRefused(str(exc)) from exc
    fields: dict[str, Any] = {"next_attempt_at": now}
    if action in DECIDED:
        fields |= _decided(op, action, decided)
    if action == OperatorAction.REJECT:
        fields |= {"reason": "operator-rejected", "reason_code": REFUND_REASONS["operator-rejected"]}
    elif action == OperatorAction.RETRY:
        fields["attempts"] = 0
    return Move(op, event, f"operator {action}", fields)


def _decided(op: Operation, action: OperatorAction, decided: Decided | None) -> dict[str, Any]:
    if decided is None:
        raise OperatorRefused(f"{op.id}: to {action} takes a compliance officer's signed decision")
    decision = decided.decision
    if decision.approve != (action == OperatorAction.APPROVE):
        verb = "approves" if decision.approve else "rejects"
        raise OperatorRefused(f"{op.id}: officer {decision.officer}'s decision {verb}; cannot {action} with it")
    fields: dict[str, Any] = {"payload": {**op.payload, "decision": decided.digest}}
    if action == OperatorAction.APPROVE and op.kind == Kind.BRIDGE_OUT:
        rules = op.locked_until or 0
        if decision.locked_until < rules:
            raise OperatorRefused(
                f"{op.id}: the decision keeps lockedUntil {decision.locked_until}, below the rules' {rules}"
            )
        fields["locked_until"] = decision.locked_until
    return fields
