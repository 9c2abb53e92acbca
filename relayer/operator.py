"""Operator actions on held or stalled operations, shared by `dari transfers` and the HTTP API."""

from __future__ import annotations

from relayer.decision import REFUND_REASONS
from relayer.errors import DariError
from relayer.store import Operation, OperationStore, StaleState, now_utc
from relayer.transfer_state import Event, IllegalTransition, State


class OperatorRefused(DariError):
    """The action does not apply to the operation in its current state."""


ACTIONS: dict[str, tuple[Event, frozenset[State]]] = {
    "approve": (Event.OPERATOR_APPROVED, frozenset({State.HELD})),
    "reject": (Event.OPERATOR_REJECTED, frozenset({State.HELD})),
    "retry": (Event.RETRIED, frozenset({State.STALLED, State.REFUND_STALLED, State.HELD})),
}


async def act(store: OperationStore, operation_id: str, action: str) -> Operation:
    """Applies ``action`` (approve, reject or retry); `OperatorRefused` when it does not apply now."""
    event, allowed = ACTIONS[action]
    op = await store.get(operation_id)
    if op.state not in allowed:
        raise OperatorRefused(f"{operation_id} is {op.state}: cannot {action}")
    fields: dict[str, object] = {"next_attempt_at": now_utc()}
    if action == "reject":
        fields |= {"reason": "operator-rejected", "reason_code": REFUND_REASONS["operator-rejected"]}
    elif action == "retry":
        fields["attempts"] = 0
    try:
        return await store.transition(op.id, event, expect=op.state, detail=f"operator {action}", **fields)
    except (IllegalTransition, StaleState) as exc:
        raise OperatorRefused(str(exc)) from exc
