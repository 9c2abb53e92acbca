"""Intake: every chain's new events recorded as operations (observed), and the observed ones moved on once
final (finalized) or dropped when a reorg took their block away."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping, Sequence

import structlog

from relayer import metrics
from relayer.core.config import SecurityConfig
from relayer.core.events import AddressFrozen, InvestorRevoked, LogRef, WatchedEvent
from relayer.core.model import Move, Operation
from relayer.core.operations import operation_for, per_wallet_operations
from relayer.core.ports import ChainWatcher, ContractReads, OperationStore
from relayer.core.transfer_state import Event, State
from relayer.pipeline.moves import Mover

log = structlog.get_logger("relay")


class Intake:
    """The ingest and finalize stages of every watched chain."""

    def __init__(
        self, store: OperationStore, watchers: Mapping[int, ChainWatcher], mover: Mover, *, registry_chain_id: int,
        public_chain_ids: Sequence[int], securities: Sequence[SecurityConfig],
    ) -> None:  # fmt: skip
        self.store, self.watchers, self.mover = store, watchers, mover
        self.registry_chain_id = registry_chain_id
        self.public_chain_ids = list(public_chain_ids)
        self.securities = list(securities)
        self.heads: dict[int, int] = {}

    async def ingest(self, chain_id: int, views: ContractReads) -> None:
        """The chain's new events, recorded as operations before the watcher's cursor moves past them (a
        revocation or freeze reads the investor's linked wallets through ``views``)."""

        async def record(events: list[WatchedEvent]) -> None:
            ops = [op for event in events for op in await self._operations(event, views)]
            seen: Counter[str] = Counter()
            for op, new in zip(ops, await self.store.observe_many(ops), strict=True):
                if new:
                    metrics.EVENTS_SEEN.labels(str(chain_id), op.kind.value).inc()
                    log.debug("observed", id=op.id, kind=op.kind.value, block=op.source.block_number)
                    seen[op.kind.value] += 1
            for kind, count in sorted(seen.items()):
                log.info("observed", chain=chain_id, kind=kind, count=count)

        poll = await self.watchers[chain_id].poll(record)
        self.heads[chain_id] = poll.head

    async def _operations(self, event: WatchedEvent, views: ContractReads) -> list[Operation]:
        if not isinstance(event, InvestorRevoked | AddressFrozen):
            return [operation_for(event, self.registry_chain_id, self.securities)]
        linked = await asyncio.gather(*(views.linked_wallet(event.wallet, c) for c in self.public_chain_ids))
        wallets = dict(zip(self.public_chain_ids, linked, strict=True))
        return per_wallet_operations(event, self.registry_chain_id, wallets)

    async def finalize(self, chain_id: int) -> None:
        """The chain's observed operations: finalized once final, dropped once reorged out."""
        head = self.heads.get(chain_id)
        if head is None:
            return
        ops = await self.store.due([State.OBSERVED], source_chain_id=chain_id)
        refs = [
            LogRef(chain_id, op.source.block_number, op.source.block_hash, op.source.tx_hash, op.source.log_index, "")
            for op in ops
        ]
        verdicts = await self.watchers[chain_id].finality(refs, head) if refs else []
        await self.mover.apply([
            Move(op, Event.FINALIZED) if final else Move(op, Event.REORGED, "reorged out")
            for op, final in zip(ops, verdicts, strict=True)
            if final is not None
        ])  # fmt: skip
