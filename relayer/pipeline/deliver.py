"""Deliver: every attested operation sent to its destination chain (mints batched in ``mintBatch``), unless
the chain shows it done already (a crash may have left it mined but unrecorded) or its transaction is still
in flight. A delivery the contract refuses is retried with a backoff and stalls for an operator after
``relayer.max_attempts`` refusals."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

import structlog

from relayer import metrics
from relayer.core.config import RelayerConfig
from relayer.core.errors import DeliveryRefused
from relayer.core.model import Move, Operation
from relayer.core.ports import Delivery, OperationStore, Submitter
from relayer.core.transfer_state import Event, Purpose, State, purpose
from relayer.pipeline.attested import Attested
from relayer.pipeline.moves import ERROR_LENGTH, Mover

log = structlog.get_logger("relay")


def targets(chain_id: int, registry_chain_id: int, delivery: State, refund: State) -> list[tuple[State, int | None]]:
    """Which operations ``chain_id`` delivers: those in ``delivery`` bound for it, and on the registry also
    the refunds (in ``refund``, whatever their destination)."""
    found: list[tuple[State, int | None]] = [(delivery, chain_id)]
    if chain_id == registry_chain_id:
        found.append((refund, None))
    return found


class ChainStage:
    """A stage that works on each destination chain through its submitter (deliver, confirm)."""

    def __init__(
        self, store: OperationStore, submitters: Mapping[int, Submitter], mover: Mover, attested: Attested,
        settings: RelayerConfig, *, registry_chain_id: int,
    ) -> None:  # fmt: skip
        self.store, self.submitters, self.mover, self.attested = store, submitters, mover, attested
        self.settings = settings
        self.registry_chain_id = registry_chain_id


class Deliver(ChainStage):
    """The deliver stage of every chain."""

    async def run(self, chain_id: int) -> None:
        submitter = self.submitters[chain_id]
        in_flight = await submitter.in_flight()
        due = [
            op
            for state, dest in targets(chain_id, self.registry_chain_id, State.ATTESTED, State.REFUND_ATTESTED)
            for op in await self.store.due([state], dest_chain_id=dest)
            if op.id not in in_flight
        ]
        pending = await self.attested.of(due)
        groups: dict[str, list[Delivery]] = defaultdict(list)
        already = []
        for (op, attestation), delivered in zip(pending, await submitter.delivered_many(pending), strict=True):
            if delivered:
                already.append(Move(op, Event.CONFIRMED, "already delivered on chain"))
                continue
            kind = purpose(op.kind, op.state)
            single = kind != Purpose.MINT or op.attempts > 0  # a mint refused before goes alone
            groups[op.id if single else Purpose.MINT.value].append((op, attestation))
        await self.mover.apply(already)
        for deliveries in groups.values():
            for start in range(0, len(deliveries), self.settings.batch_size):
                await self._send(submitter, deliveries[start : start + self.settings.batch_size])

    async def _send(self, submitter: Submitter, deliveries: Sequence[Delivery]) -> None:
        first = deliveries[0][0]
        kind = purpose(first.kind, first.state)
        try:
            tx_hash = await submitter.send(deliveries, kind)
        except DeliveryRefused as exc:
            await self._refused([op for op, _ in deliveries], f"refused: {exc.error}", alone=len(deliveries) == 1)
            return
        metrics.SUBMISSIONS.labels(str(submitter.chain_id), kind.value).inc()
        log.info("submitted", chain=submitter.chain_id, purpose=kind.value, tx=tx_hash, operations=len(deliveries))
        await self.mover.apply([Move(op, Event.SUBMITTED, tx_hash, {"dest_tx_hash": tx_hash}) for op, _ in deliveries])

    async def _refused(self, ops: Sequence[Operation], error: str, *, alone: bool) -> None:
        """A refused delivery is retried later; refused alone ``max_attempts`` times, it stalls."""
        stalls, retries = [], []
        for op in ops:
            attempts = op.attempts + 1
            if alone and attempts >= self.settings.max_attempts:
                stalls.append(
                    Move(op, Event.STALLED, error, {"reason": "delivery-refused", "last_error": error[:ERROR_LENGTH]})
                )
            else:
                retries.append((op, error))
        await self.mover.apply(stalls)
        await self.mover.retry(retries)
