"""Attest: the statement of every approved operation and refund (`relayer.core.statements`), signed by a
threshold of attestors (each shown the KYC claim and officer's decision the operation's decision rests on, to
decide again itself), appended to the transparency log, stored; the operation moves on (refused, a mint or a
refund: held for an operator; not yet: retried).

Batches of `BATCH` statements fly concurrently, at most `FLIGHTS` at once, so a slow batch never holds up
the ones behind it; a flight that lands wakes the stage for the next ones.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any

import structlog

from attestations.attestation import Attestation
from attestations.eip712 import Domain
from attestations.kinds import Statement
from relayer.core.errors import AttestationRefused, Failure
from relayer.core.model import Move, Operation
from relayer.core.ports import AttestationLog, Attestors, OperationStore
from relayer.core.transfer_state import Event, Kind, State
from relayer.failures import classify
from relayer.pipeline.attested import Attested
from relayer.pipeline.lanes import timed
from relayer.pipeline.moves import Mover

log = structlog.get_logger("relay")

BATCH = 100  # statements per batch request to the attestors
FLIGHTS = 6  # batches being attested at once

SHOWN = ("claim", "decision")  # payload keys naming the signed statements a decision rests on
Statements = Callable[[Operation], tuple[Statement, Domain]]


class Attest:
    """The attest stage: batches in flight, and what they carry."""

    def __init__(
        self, store: OperationStore, attestors: Attestors, log_: AttestationLog, mover: Mover, attested: Attested,
        statements: Statements, *, wake: Callable[[], None],
    ) -> None:  # fmt: skip
        """``statements``: the statement and domain that deliver an operation; ``wake``: runs the stage again."""
        self.store, self.attestors, self.log, self.mover = store, attestors, log_, mover
        self.attested, self.statements, self.wake = attested, statements, wake
        self._flights: set[asyncio.Task[None]] = set()
        self._attesting: set[str] = set()  # the operations the flights carry
        self._crashed: BaseException | None = None  # a flight's fatal failure, raised by the next pass

    async def run(self) -> None:
        """Starts a flight for each batch of due operations not already in one, while fewer than `FLIGHTS`
        are in the air."""
        if self._crashed is not None:
            raise self._crashed
        room = (FLIGHTS - len(self._flights)) * BATCH
        if room <= 0:
            return
        approved = await self.store.due([State.APPROVED], limit=room, exclude=self._attesting)
        rejected = await self.store.due([State.REJECTED], limit=room, exclude=self._attesting, kind=Kind.BRIDGE_OUT)
        refunds = [op for op in rejected if op.reason_code is not None]  # a rejected registration is final
        ops = sorted(approved + refunds, key=lambda op: (op.source.block_number, op.source.log_index))[:room]
        for start in range(0, len(ops), BATCH):
            if len(self._flights) >= FLIGHTS:
                return  # the rest when a flight lands (it wakes this stage)
            batch = ops[start : start + BATCH]
            self._attesting.update(op.id for op in batch)
            flight = asyncio.create_task(timed("attest", self.batch(batch)))
            self._flights.add(flight)
            flight.add_done_callback(functools.partial(self._landed, {op.id for op in batch}))

    async def drain(self) -> None:
        """Waits for the flights in the air to land."""
        await asyncio.gather(*self._flights, return_exceptions=True)

    def _landed(self, ids: set[str], flight: asyncio.Task[None]) -> None:
        """A flight ended: its operations may fly again; a transient or refused failure is logged (the next
        pass retries), a fatal one fails the stage's next pass."""
        self._flights.discard(flight)
        self._attesting.difference_update(ids)
        error = None if flight.cancelled() else flight.exception()
        if error is not None and classify(error) is Failure.FATAL:
            self._crashed = error
        elif error is not None:
            log.warning("attestation batch failed", error=repr(error))
        self.wake()

    async def _shown(self, ops: list[Operation]) -> list[dict[str, Any] | None]:
        """Per operation, the signed statements its decision rests on, for the attestors to check themselves:
        the KYC claim and an officer's decision its payload names (``claim``, ``decision``)."""
        named = [{k: op.payload[k] for k in SHOWN if isinstance(op.payload.get(k), str)} for op in ops]
        documents = await self.store.attestations(d for n in named for d in n.values())
        return [{k: documents[d] for k, d in n.items() if d in documents} or None for n in named]

    async def batch(self, ops: list[Operation]) -> None:
        """Gathers the attestors' signatures of ``ops``' statements, logs and stores the attestations and
        moves the operations on."""
        statements = [self.statements(op) for op in ops]
        answers = await self.attestors.gather_many(statements, await self._shown(ops))
        signed: list[tuple[Operation, Attestation]] = []
        moves, retries = [], []
        for op, (statement, domain), answer in zip(ops, statements, answers, strict=True):
            if isinstance(answer, AttestationRefused):  # they decide otherwise: an operator decides
                fields = {"reason": "attestors-refused", "reason_code": None}
                moves.append(Move(op, Event.ESCALATED, f"attestors refused: {answer}", fields))
            elif isinstance(answer, BaseException):
                retries.append((op, str(answer)))
            else:
                signed.append((op, Attestation(statement, domain, tuple(answer))))
        indices = await self.log.append_many([a.digest for _, a in signed])
        signed = [(op, a.with_log_index(i)) for (op, a), i in zip(signed, indices, strict=True)]
        await self.store.save_attestations([(a, op.id) for op, a in signed])
        self.attested.keep(a for _, a in signed)
        now = self.mover.now()
        for op, attestation in signed:
            digest = "0x" + attestation.digest.hex()
            moves.append(
                Move(op, Event.ATTESTED, digest, {"attestation": digest, "attempts": 0, "next_attempt_at": now})
            )
        await self.mover.apply(moves)
        await self.mover.retry(retries)
