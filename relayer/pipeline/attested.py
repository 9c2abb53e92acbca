"""The attestations of operations on their way to delivery: those this process made lately from memory,
until their delivery is sent (the store has every one, for the others and after a restart)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import structlog

from attestations.attestation import Attestation
from relayer.core.model import Move, Operation
from relayer.core.ports import Delivery, OperationStore
from relayer.core.transfer_state import DELIVERED, State

log = structlog.get_logger("relay")

RECENT = 2000  # attested, not yet sent: kept in memory for delivery


class Attested:
    """Recent attestations by digest (0x-hex, lower case), oldest first, at most ``limit`` of them."""

    def __init__(self, store: OperationStore, limit: int = RECENT) -> None:
        self._store = store
        self._limit = limit
        self._recent: dict[str, Attestation] = {}

    def keep(self, attestations: Iterable[Attestation]) -> None:
        for attestation in attestations:
            self._recent["0x" + attestation.digest.hex()] = attestation
        while len(self._recent) > self._limit:
            del self._recent[next(iter(self._recent))]

    def on_moved(self, move: Move, state: State) -> None:
        """A `relayer.pipeline.moves.Listener`: a delivered operation's attestation leaves memory."""
        if state in DELIVERED:
            self._recent.pop((move.op.attestation or "").lower(), None)

    async def of(self, ops: Sequence[Operation]) -> list[Delivery]:
        """``ops`` with their attestations, from memory or the store; an operation whose attestation is missing
        is logged and left out (it cannot be delivered)."""
        keys = {op.id: (op.attestation or "").lower() for op in ops}
        documents = await self._store.attestations(k for k in keys.values() if k not in self._recent)
        found = []
        for op in ops:
            key = keys[op.id]
            attestation = self._recent.get(key)
            if attestation is None and key in documents:
                attestation = Attestation.parse(documents[key])
            if attestation is None:
                log.error("attestation missing from the store", id=op.id, attestation=op.attestation)
                continue
            found.append((op, attestation))
        return found
