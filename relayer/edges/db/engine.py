"""Database engine factory and migrations: SQLite by default, PostgreSQL when the URL says so."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from relayer.core.errors import ConfigError

_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}
_MIGRATIONS = Path(__file__).parent / "migrations"


def async_url(url: str) -> str:
    """``url`` with the async driver of its dialect; raises `ConfigError` for an unsupported dialect."""
    try:
        parsed = make_url(url)
    except Exception as exc:  # SQLAlchemy raises ArgumentError or ValueError on junk
        raise ConfigError("database.url", [f"not a database URL: {exc}"]) from exc
    backend = parsed.get_backend_name()
    if backend not in _ASYNC_DRIVERS:
        raise ConfigError("database.url", [f"unsupported database {backend!r}: use sqlite or postgresql"])
    return parsed.set(drivername=_ASYNC_DRIVERS[backend]).render_as_string(hide_password=False)


def dialect(engine: AsyncEngine) -> str:
    """``"sqlite"`` or ``"postgresql"``."""
    return engine.dialect.name


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def create_engine(url: str) -> AsyncEngine:
    """An async engine for ``url``; creates the SQLite file's directory and sets WAL mode."""
    full = make_url(async_url(url))
    if full.get_backend_name() == "sqlite":
        if full.database and full.database != ":memory:":
            Path(full.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(full)
        event.listen(engine.sync_engine, "connect", _tune_sqlite)
        return engine
    return create_async_engine(full, pool_size=10, max_overflow=10, pool_pre_ping=True)


async def begin_immediate(conn: AsyncConnection) -> None:
    """SQLite: takes the database's write lock now (waiting up to busy_timeout) for the transaction the
    driver has not begun yet, so what the transaction reads stays true until it commits."""
    await conn.exec_driver_sql("BEGIN IMMEDIATE")


def _alembic_config(connection: Connection) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Applies migrations up to ``revision`` (idempotent)."""
    async with engine.begin() as conn:
        await conn.run_sync(lambda sync: command.upgrade(_alembic_config(sync), revision))


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    """Reverts migrations down to ``revision`` (``"base"`` removes every table)."""
    async with engine.begin() as conn:
        await conn.run_sync(lambda sync: command.downgrade(_alembic_config(sync), revision))


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at, or None before the first migration."""
    from alembic.runtime.migration import MigrationContext

    async with engine.connect() as conn:
        return await conn.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())
