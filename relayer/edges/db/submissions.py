"""The delivering transactions of one chain (table ``submissions``), recorded before they are broadcast so
that after a restart a pending one is awaited, not duplicated. Statuses follow
`relayer.core.transfer_state.SUBMISSION_TRANSITIONS`."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncEngine

from relayer.core.transfer_state import (
    IN_FLIGHT,
    WATCHED,
    Purpose,
    SubmissionStatus,
    check_submission_move,
)
from relayer.edges.db.schema import submissions
from relayer.edges.db.store import as_utc, now_utc


@dataclass(frozen=True)
class Submission:
    """One recorded transaction and the operations it delivers."""

    tx_hash: str
    chain_id: int
    sender: str
    nonce: int
    operation_ids: tuple[str, ...]
    purpose: Purpose
    gas_price: int
    status: SubmissionStatus
    created_at: datetime


class SubmissionStore:
    """The submissions of one chain."""

    def __init__(self, engine: AsyncEngine, chain_id: int) -> None:
        self._engine = engine
        self.chain_id = chain_id

    async def record(
        self, tx_hash: str, sender: str, nonce: int, operation_ids: Iterable[str], purpose: Purpose, gas_price: int,
        *, replacing: str | None = None,
    ) -> None:  # fmt: skip
        """Records a pending transaction (``replacing``: the one it replaces, marked replaced in the same
        database transaction)."""
        async with self._engine.begin() as conn:
            if replacing is not None:
                await conn.execute(
                    update(submissions)
                    .where(submissions.c.tx_hash == replacing)
                    .values(status=SubmissionStatus.REPLACED.value)
                )
            await conn.execute(
                insert(submissions).values(
                    tx_hash=tx_hash, chain_id=self.chain_id, sender=sender, nonce=nonce,
                    operation_ids=json.dumps(list(operation_ids)), purpose=purpose.value, gas_price=str(gas_price),
                    status=SubmissionStatus.PENDING.value, created_at=now_utc(),
                )
            )  # fmt: skip

    async def in_status(self, statuses: Iterable[SubmissionStatus]) -> list[Submission]:
        query = select(submissions).where(
            submissions.c.chain_id == self.chain_id, submissions.c.status.in_([s.value for s in statuses])
        )
        async with self._engine.connect() as conn:
            rows = list((await conn.execute(query)).mappings())
        return [_submission(r) for r in rows]

    async def watched(self) -> list[Submission]:
        """The submissions whose transaction may still change (pending or mined)."""
        return await self.in_status(WATCHED)

    async def in_flight(self) -> set[str]:
        """Operation ids inside pending submissions (never resent while their transaction may mine)."""
        return {op_id for row in await self.in_status(IN_FLIGHT) for op_id in row.operation_ids}

    async def mark_many(self, moves: Mapping[str, tuple[SubmissionStatus, SubmissionStatus]]) -> None:
        """Moves each submission (by transaction hash) from its status to the next (`IllegalSubmissionMove`
        if the table has no such move), in one database transaction."""
        if not moves:
            return
        rows = [{"b_hash": h, "b_status": check_submission_move(*move).value} for h, move in moves.items()]
        async with self._engine.begin() as conn:
            await conn.execute(
                update(submissions)
                .where(submissions.c.tx_hash == bindparam("b_hash"))
                .values(status=bindparam("b_status")),
                rows,
            )


def _submission(row: RowMapping) -> Submission:
    return Submission(
        row["tx_hash"], row["chain_id"], row["sender"], row["nonce"], tuple(json.loads(row["operation_ids"])),
        Purpose(row["purpose"]), int(row["gas_price"]), SubmissionStatus(row["status"]),
        as_utc(row["created_at"]) or now_utc(),
    )  # fmt: skip
