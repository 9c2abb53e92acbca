"""Operator actions on held or stalled operations (`dari transfers approve|reject|retry` and the API's
``POST /v1/transfers/{id}/{action}``): the core's move, applied to the store."""

from __future__ import annotations

from datetime import UTC, datetime

from relayer.core.model import Operation, StaleState
from relayer.core.operator import OperatorRefused, operator_move
from relayer.core.ports import Clock, OperationStore
from relayer.core.transfer_state import OperatorAction


class Operator:
    """`relayer.core.ports.OperatorActions` over one store."""

    def __init__(self, store: OperationStore, clock: Clock) -> None:
        self._store, self._clock = store, clock

    async def __call__(self, operation_id: str, action: OperatorAction) -> Operation:
        """Applies ``action``; `UnknownOperation`, or `OperatorRefused` when it does not apply now (the
        operation's state, or it moved on meanwhile)."""
        op = await self._store.get(operation_id)
        move = operator_move(op, action, datetime.fromtimestamp(self._clock(), UTC))
        try:
            return await self._store.transition(op.id, move.event, expect=op.state, detail=move.detail, **move.fields)
        except StaleState as exc:
            raise OperatorRefused(str(exc)) from exc
