"""Persisted watcher cursors: where each chain's log reading resumes after a restart."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from relayer.core.errors import DariError
from relayer.edges.db.schema import chain_cursors


class CursorRegression(DariError):
    """A cursor was asked to move backwards without ``rewind=True``."""


@dataclass(frozen=True)
class Cursor:
    """The last processed block of one chain."""

    chain_id: int
    block_number: int
    block_hash: str


class CursorStore:
    """Reads and advances cursors in one row per chain."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def get(self, chain_id: int) -> Cursor | None:
        """The cursor of ``chain_id``, or None before its first block was processed."""
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(chain_cursors).where(chain_cursors.c.chain_id == chain_id))).one_or_none()
        return None if row is None else Cursor(row.chain_id, row.block_number, row.block_hash)

    async def advance(self, cursor: Cursor, *, rewind: bool = False) -> None:
        """Stores ``cursor``; moving backwards (a reorg) must be explicit with ``rewind=True``."""
        values = {
            "block_number": cursor.block_number,
            "block_hash": cursor.block_hash,
            "updated_at": datetime.now(UTC),
        }
        async with self._engine.begin() as conn:
            current = (
                await conn.execute(
                    select(chain_cursors.c.block_number)
                    .where(chain_cursors.c.chain_id == cursor.chain_id)
                    .with_for_update()
                )
            ).scalar_one_or_none()
            if current is None:
                await conn.execute(chain_cursors.insert().values(chain_id=cursor.chain_id, **values))
                return
            if cursor.block_number < current and not rewind:
                raise CursorRegression(
                    f"chain {cursor.chain_id}: cursor at {current}, refusing to move back to {cursor.block_number}"
                )
            await conn.execute(
                chain_cursors.update().where(chain_cursors.c.chain_id == cursor.chain_id).values(**values)
            )
