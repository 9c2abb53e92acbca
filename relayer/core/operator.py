"""What an operator's action does to a held or stalled operation, pure: the move it makes, or why it does
not apply (`OperatorRefused`). Which states each action applies in is the state machine's
(`relayer.core.transfer_state.ACTIONS`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from relayer.core.decisions import REFUND_REASONS
from relayer.core.errors import DariError
from relayer.core.model import Move, Operation
from relayer.core.transfer_state import ACTIONS, IllegalTransition, OperatorAction, next_state


class OperatorRefused(DariError):
    """The action does not apply to the operation in its current state."""


def operator_move(op: Operation, action: OperatorAction, now: datetime) -> Move:
    """The move ``action`` makes of ``op`` at ``now`` (due at once; a rejection carries its refund reason, a
    retry starts its attempts afresh); `OperatorRefused` when it does not apply in ``op``'s state."""
    event, allowed = ACTIONS[action]
    if op.state not in allowed:
        raise OperatorRefused(f"{op.id} is {op.state}: cannot {action}")
    try:
        next_state(op.kind, op.state, event)
    except IllegalTransition as exc:
        raise OperatorRefused(str(exc)) from exc
    fields: dict[str, Any] = {"next_attempt_at": now}
    if action == OperatorAction.REJECT:
        fields |= {"reason": "operator-rejected", "reason_code": REFUND_REASONS["operator-rejected"]}
    elif action == OperatorAction.RETRY:
        fields["attempts"] = 0
    return Move(op, event, f"operator {action}", fields)
