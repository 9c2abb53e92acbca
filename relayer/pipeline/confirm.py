"""Confirm: a delivery counts once final. The recorded submissions are settled first; then each submitted
operation's disposition follows from its transaction's receipt (`relayer.core.disposition`): confirmed once
final, awaited while not, and when the transaction failed, was dropped or was reorged out the chain is asked
whether the operation is done anyway (final: confirmed; only latest: awaited; not: delivered again after a
backoff)."""

from __future__ import annotations

from relayer import metrics
from relayer.core.disposition import Disposition, Recheck, disposition, recheck
from relayer.core.finality import final_block
from relayer.core.model import Move, Operation
from relayer.core.transfer_state import Event, State
from relayer.pipeline.deliver import ChainStage, targets


class Confirm(ChainStage):
    """The confirm stage of every chain."""

    async def run(self, chain_id: int) -> None:
        submitter = self.submitters[chain_id]
        await submitter.settle_pending(self.settings.stuck_after)
        routes = targets(chain_id, self.registry_chain_id, State.SUBMITTED, State.REFUND_SUBMITTED)
        hashes = {h for state, dest in routes for h in await self.store.tx_hashes([state], dest_chain_id=dest)}
        if not hashes:
            return
        in_flight = await submitter.in_flight()
        head = await submitter.head()
        receipts = await submitter.receipts(hashes)
        final = await submitter.settled(receipts.values(), head)
        ready = [  # the others are not deep enough yet
            h for h, r in receipts.items() if disposition(r, final.get(h), in_flight=False) is not Disposition.WAIT
        ]
        ops = [
            op for state, dest in routes for op in await self.store.due([state], dest_chain_id=dest, tx_hashes=ready)
        ]
        moves: list[Move] = []
        undelivered: list[Operation] = []
        for op in ops:
            receipt = receipts[str(op.dest_tx_hash)]  # in `ready`: a submitted operation names its transaction
            verdict = disposition(receipt, final.get(receipt.tx_hash), in_flight=op.id in in_flight)
            if verdict is Disposition.CONFIRM:
                moves.append(Move(op, Event.CONFIRMED, op.dest_tx_hash))
            elif verdict is Disposition.CHECK:
                undelivered.append(op)
        pairs = await self.attested.of(undelivered)
        at_final = await submitter.delivered_many(pairs, final_block(head, submitter.confirmations))
        at_latest = await submitter.delivered_many(pairs) if submitter.confirmations else at_final
        for (op, _), done_final, done_latest in zip(pairs, at_final, at_latest, strict=True):
            answer = recheck(done_final, done_latest)
            if answer is Recheck.CONFIRM:
                moves.append(Move(op, Event.CONFIRMED, "delivered by another transaction"))
            elif answer is Recheck.REDELIVER:
                attempts = op.attempts + 1
                moves.append(Move(op, Event.SUBMISSION_FAILED, "transaction failed, dropped or reorged out", {
                    "attempts": attempts, "next_attempt_at": self.mover.later(op, attempts),
                }))  # fmt: skip
        for move in await self.mover.apply(moves):
            if move.event == Event.CONFIRMED and move.op.created_at is not None:
                latency = (self.mover.now() - move.op.created_at).total_seconds()
                metrics.DELIVERY_LATENCY.labels(move.op.kind.value).observe(latency)
