"""The transparency log's SQL storage on SQLite and PostgreSQL: it survives a new engine, keeps each entry
once, refuses UPDATE and DELETE in the database itself, and stays gap-free under concurrent appenders."""

from __future__ import annotations

import asyncio
import hashlib

import pytest
from sqlalchemy import delete, inspect, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from attestations.errors import MalformedError
from attestations.log import TransparencyLog
from relayer.edges.db import engine as db
from relayer.edges.db import log_store
from relayer.edges.db.log_store import LogAppendConflict, SqlLogStorage
from relayer.edges.db.schema import log_entries


def digest(i: int) -> bytes:
    return hashlib.sha256(f"attestation-{i}".encode()).digest()


async def test_append_and_reload_with_a_new_engine(database_url: str) -> None:
    engine = db.create_engine(database_url)
    await db.upgrade(engine)
    storage = SqlLogStorage(engine)
    assert await storage.size() == 0
    assert await storage.entries(0, 10) == []
    log = TransparencyLog(storage)
    assert await log.append_many([digest(i) for i in range(20)]) == list(range(20))
    assert await log.append(digest(20)) == 20
    root = log.root()
    await engine.dispose()

    reopened = db.create_engine(database_url)
    try:
        storage = SqlLogStorage(reopened)
        assert await storage.size() == 21
        assert await storage.entries(5, 8) == [digest(5), digest(6), digest(7)]
        assert await storage.index_of(digest(13)) == 13
        assert await storage.index_of(digest(99)) is None
        reloaded = TransparencyLog(storage)
        assert await reloaded.load() == 21
        assert reloaded.root() == root
    finally:
        await reopened.dispose()


async def test_duplicates_keep_their_index(database_url: str) -> None:
    engine = db.create_engine(database_url)
    try:
        await db.upgrade(engine)
        storage = SqlLogStorage(engine)
        assert await storage.append([digest(0), digest(1)]) == [0, 1]
        assert await storage.append([digest(1), digest(2), digest(0), digest(2)]) == [1, 2, 0, 2]
        assert await storage.append([digest(2)]) == [2]
        assert await storage.size() == 3
        with pytest.raises(MalformedError):
            await storage.append([digest(3), b"short"])
        assert await storage.size() == 3
    finally:
        await engine.dispose()


async def test_the_database_refuses_update_and_delete(database_url: str) -> None:
    engine = db.create_engine(database_url)
    try:
        await db.upgrade(engine)
        storage = SqlLogStorage(engine)
        await storage.append([digest(0), digest(1)])
        statements = [
            update(log_entries).values(entry=digest(9)).where(log_entries.c.leaf_index == 0),
            update(log_entries).values(leaf_index=5).where(log_entries.c.leaf_index == 1),
            delete(log_entries).where(log_entries.c.leaf_index == 1),
            delete(log_entries),
        ]
        for statement in statements:
            with pytest.raises(DBAPIError, match="append-only"):
                async with engine.begin() as conn:
                    await conn.execute(statement)
        with pytest.raises(DBAPIError):  # out of order, wrong size: the constraints refuse it too
            async with engine.begin() as conn:
                await conn.execute(log_entries.insert().values(leaf_index=-1, entry=b"x" * 31))
        async with engine.connect() as conn:
            rows = (await conn.execute(select(log_entries).order_by(log_entries.c.leaf_index))).all()
        assert [(r.leaf_index, bytes(r.entry)) for r in rows] == [(0, digest(0)), (1, digest(1))]
    finally:
        await engine.dispose()


async def test_concurrent_appenders_leave_no_gap(database_url: str) -> None:
    engines = [db.create_engine(database_url) for _ in range(3)]
    try:
        await db.upgrade(engines[0])
        stores = [SqlLogStorage(e) for e in engines]

        async def appender(worker: int) -> list[int]:
            store = stores[worker % len(stores)]
            indices: list[int] = []
            for i in range(15):
                batch = [digest(1000 + worker * 100 + i), digest(i)]  # digest(i) is shared by every worker
                indices += await store.append(batch)
            return indices

        results = await asyncio.gather(*(appender(w) for w in range(6)))
        storage = stores[0]
        size = await storage.size()
        assert size == 6 * 15 + 15
        entries = await storage.entries(0, size)
        assert len(entries) == len(set(entries)) == size
        for worker, indices in enumerate(results):
            for n, index in enumerate(indices):
                expected = digest(1000 + worker * 100 + n // 2) if n % 2 == 0 else digest(n // 2)
                assert entries[index] == expected
    finally:
        for engine in engines:
            await engine.dispose()


async def test_downgrade_drops_the_table_and_its_triggers(database_url: str) -> None:
    engine = db.create_engine(database_url)
    try:
        await db.upgrade(engine)
        await SqlLogStorage(engine).append([digest(0)])
        await db.downgrade(engine, "0001")
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
        assert "log_entries" not in tables and "chain_cursors" in tables
        await db.upgrade(engine)
        assert await SqlLogStorage(engine).append([digest(1), digest(0)]) == [0, 1]
    finally:
        await engine.dispose()


async def test_conflicts_are_re_read_and_retried_a_bounded_number_of_times(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = db.create_engine(database_url)
    try:
        await db.upgrade(engine)
        storage = SqlLogStorage(engine)
        await storage.append([digest(0)])
        real = SqlLogStorage._append_once
        calls: list[int] = []

        async def rival_wins_first(self: SqlLogStorage, unique: list[bytes]) -> dict[bytes, int]:
            calls.append(len(unique))
            if len(calls) == 1:  # a writer outside the lock appended the same entry meanwhile
                await real(self, [digest(1)])
                raise IntegrityError("INSERT", {}, Exception("duplicate key"))
            return await real(self, unique)

        monkeypatch.setattr(log_store, "_BACKOFF_SECONDS", 0.0)
        monkeypatch.setattr(SqlLogStorage, "_append_once", rival_wins_first)
        assert await storage.append([digest(1), digest(2)]) == [1, 2]
        assert len(calls) == 2

        async def always_conflicts(self: SqlLogStorage, unique: list[bytes]) -> dict[bytes, int]:
            calls.append(len(unique))
            raise IntegrityError("INSERT", {}, Exception("duplicate key"))

        calls.clear()
        monkeypatch.setattr(SqlLogStorage, "_append_once", always_conflicts)
        with pytest.raises(LogAppendConflict):
            await storage.append([digest(3)])
        assert len(calls) == log_store.APPEND_ATTEMPTS
        assert await storage.size() == 3
    finally:
        await engine.dispose()
