"""The transparency log's entries in SQL (`LogStorage` over the ``log_entries`` table).

Appenders are serialised by the database (PostgreSQL: a transaction-scoped advisory lock; SQLite:
``BEGIN IMMEDIATE``), so indices stay gap-free and entries unique. Should a writer bypass that lock, the
primary key and the unique entry turn a race into a conflict: the batch is re-read and retried a bounded
number of times.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence

from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from attestations.errors import MalformedError
from relayer.core.errors import DariError
from relayer.edges.db.engine import begin_immediate
from relayer.edges.db.schema import log_entries

APPEND_ATTEMPTS = 8
_BACKOFF_SECONDS = 0.02
_ADVISORY_LOCK = 0x64617269_6C6F6700  # "dari" "log" 0x00: one key for every appender
_ENTRY_SIZE = 32
_LOOKUP_CHUNK = 500  # entries per IN (...) lookup


class LogAppendConflict(DariError):
    """Concurrent appends kept conflicting after `APPEND_ATTEMPTS` attempts."""


class SqlLogStorage:
    """`attestations.log.LogStorage` on the relayer's database (SQLite or PostgreSQL)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def size(self) -> int:
        async with self._engine.connect() as conn:
            last = (await conn.execute(select(func.max(log_entries.c.leaf_index)))).scalar_one()
        return 0 if last is None else int(last) + 1

    async def append(self, entries: Sequence[bytes]) -> list[int]:
        for entry in entries:
            if not isinstance(entry, bytes) or len(entry) != _ENTRY_SIZE:
                raise MalformedError("a log entry is a 32-byte digest")
        unique = list(dict.fromkeys(entries))
        for attempt in range(APPEND_ATTEMPTS):
            try:
                indices = await self._append_once(unique)
            except IntegrityError:  # a writer outside the lock took an index or the same entry: re-read
                await asyncio.sleep(_BACKOFF_SECONDS * (attempt + 1) * random.random())  # noqa: S311 (jitter)
                continue
            return [indices[entry] for entry in entries]
        raise LogAppendConflict(f"appending {len(unique)} log entries conflicted {APPEND_ATTEMPTS} times")

    async def entries(self, start: int, end: int) -> list[bytes]:
        if end <= start:
            return []
        query = (
            select(log_entries.c.leaf_index, log_entries.c.entry)
            .where(log_entries.c.leaf_index >= start, log_entries.c.leaf_index < end)
            .order_by(log_entries.c.leaf_index)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        if [row.leaf_index for row in rows] != list(range(start, start + len(rows))):
            raise MalformedError(f"log_entries has a gap in [{start}, {end})")
        return [bytes(row.entry) for row in rows]

    async def index_of(self, entry: bytes) -> int | None:
        async with self._engine.connect() as conn:
            index = (
                await conn.execute(select(log_entries.c.leaf_index).where(log_entries.c.entry == entry))
            ).scalar_one_or_none()
        return None if index is None else int(index)

    async def _append_once(self, unique: list[bytes]) -> dict[bytes, int]:
        async with self._engine.begin() as conn:
            await self._lock(conn)
            indices = await self._known(conn, unique)
            fresh = [entry for entry in unique if entry not in indices]
            if fresh:
                last = (await conn.execute(select(func.max(log_entries.c.leaf_index)))).scalar_one()
                start = 0 if last is None else int(last) + 1
                added = {entry: start + i for i, entry in enumerate(fresh)}
                await conn.execute(log_entries.insert(), [{"leaf_index": i, "entry": e} for e, i in added.items()])
                indices.update(added)
        return indices

    async def _lock(self, conn: AsyncConnection) -> None:
        """Takes the database's writer lock for the rest of the transaction."""
        if conn.dialect.name == "postgresql":
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK})
        else:  # SQLite: the write lock, so the last index read below is still the last when we insert
            await begin_immediate(conn)

    async def _known(self, conn: AsyncConnection, entries: list[bytes]) -> dict[bytes, int]:
        known: dict[bytes, int] = {}
        for i in range(0, len(entries), _LOOKUP_CHUNK):
            chunk = entries[i : i + _LOOKUP_CHUNK]
            rows = await conn.execute(
                select(log_entries.c.entry, log_entries.c.leaf_index).where(log_entries.c.entry.in_(chunk))
            )
            known.update((bytes(row.entry), int(row.leaf_index)) for row in rows)
        return known
