"""Database layer on SQLite and PostgreSQL: migrations, URL handling, cursors."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from relayer.core.errors import ConfigError
from relayer.edges.db import engine as db
from relayer.edges.db.cursors import Cursor, CursorRegression, CursorStore


def test_async_url_adds_drivers() -> None:
    assert db.async_url("sqlite:///x.db") == "sqlite+aiosqlite:///x.db"
    assert db.async_url("postgresql://u:p@h:5432/d") == "postgresql+asyncpg://u:p@h:5432/d"
    assert db.async_url("postgresql+asyncpg://h/d") == "postgresql+asyncpg://h/d"


@pytest.mark.parametrize("url", ["mysql://h/d", "not a url", ""])
def test_unsupported_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError):
        db.async_url(url)


async def test_migrations_up_and_down(database_url: str) -> None:
    engine = db.create_engine(database_url)
    try:
        assert await db.current_revision(engine) is None
        await db.upgrade(engine)
        await db.upgrade(engine)  # idempotent
        assert await db.current_revision(engine) == "0003"
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
        assert "chain_cursors" in tables
        await db.downgrade(engine, "base")
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
        assert "chain_cursors" not in tables
    finally:
        await engine.dispose()


async def test_cursor_store_survives_a_new_engine(database_url: str) -> None:
    engine = db.create_engine(database_url)
    await db.upgrade(engine)
    store = CursorStore(engine)
    assert await store.get(31337) is None
    await store.advance(Cursor(31337, 10, "0x" + "aa" * 32))
    await store.advance(Cursor(31337, 12, "0x" + "bb" * 32))
    await store.advance(Cursor(820001, 5, "0x" + "cc" * 32))
    with pytest.raises(CursorRegression):
        await store.advance(Cursor(31337, 11, "0x" + "dd" * 32))
    await engine.dispose()

    reopened = db.create_engine(database_url)
    try:
        store = CursorStore(reopened)
        assert await store.get(31337) == Cursor(31337, 12, "0x" + "bb" * 32)
        await store.advance(Cursor(31337, 11, "0x" + "dd" * 32), rewind=True)
        assert await store.get(31337) == Cursor(31337, 11, "0x" + "dd" * 32)
        assert await store.get(820001) == Cursor(820001, 5, "0x" + "cc" * 32)
    finally:
        await reopened.dispose()


async def test_dialect_is_reported(database_url: str) -> None:
    engine = db.create_engine(database_url)
    try:
        assert db.dialect(engine) == database_url.split(":")[0]
    finally:
        await engine.dispose()
