"""Applying the stages' state changes and retry schedules to the store, with their metrics and log lines,
and telling whoever listens (the lanes to wake, the attestations no longer needed in memory)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

import structlog

from relayer import metrics
from relayer.core.model import Move, Operation
from relayer.core.ports import Clock, OperationStore
from relayer.core.transfer_state import IllegalTransition, State, backoff_seconds, next_state

log = structlog.get_logger("relay")

Listener = Callable[[Move, State], None]
"""Told of each applied move and the state it led to."""

ERROR_LENGTH = 500  # characters of an error kept with the operation


class Mover:
    """The stages' one way to change operations."""

    def __init__(self, store: OperationStore, clock: Clock, listeners: Sequence[Listener] = ()) -> None:
        self.store = store
        self.clock = clock
        self.listeners = list(listeners)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def later(self, op: Operation, attempts: int) -> datetime:
        """When retry number ``attempts`` of ``op`` is due (`backoff_seconds`: a restart keeps the schedule)."""
        return self.now() + timedelta(seconds=backoff_seconds(attempts, op.id))

    async def apply(self, moves: Sequence[Move]) -> list[Move]:
        """Applies ``moves`` in one database transaction; returns those that applied (the others' rows moved
        on, or the state machine has no such edge: both logged) and tells the listeners. Each transition is
        in ``operation_history`` and logged at debug level; info has one line per kind and state change."""
        planned: list[tuple[Move, State]] = []
        for move in moves:
            try:
                planned.append((move, next_state(move.op.kind, move.op.state, move.event)))
            except IllegalTransition as exc:
                log.info("transition skipped", id=move.op.id, on=move.event.value, error=str(exc))
        done = await self.store.transition_many([move for move, _ in planned])
        applied = [(move, nxt) for (move, nxt), ok in zip(planned, done, strict=True) if ok]
        summary: Counter[tuple[str, str, str]] = Counter()
        for move, nxt in applied:
            metrics.TRANSITIONS.labels(move.op.kind.value, move.event.value).inc()
            log.debug("transition", id=move.op.id, kind=move.op.kind.value, frm=move.op.state.value, to=nxt.value,
                      detail=move.detail)  # fmt: skip
            summary[(move.op.kind.value, move.op.state.value, nxt.value)] += 1
            for listener in self.listeners:
                listener(move, nxt)
        for (kind, before, after), count in sorted(summary.items()):
            log.info("transitions", kind=kind, frm=before, to=after, count=count)
        return [move for move, _ in applied]

    async def retry(self, retries: Sequence[tuple[Operation, str]]) -> None:
        """Schedules each operation's next attempt after its error (attempts + 1, with the backoff)."""
        await self.store.update_many([
            (op.id, {"attempts": op.attempts + 1, "next_attempt_at": self.later(op, op.attempts + 1),
                     "last_error": error[:ERROR_LENGTH]})
            for op, error in retries
        ])  # fmt: skip
