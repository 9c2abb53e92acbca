"""`dari config check` and `dari db upgrade`."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click

from relayer.cli import err, fails_cleanly, out
from relayer.core.config import load_config
from relayer.core.errors import ConfigError


@click.group("config")
def config_group() -> None:
    """Configuration files."""


@config_group.command("check")
@click.argument("file", type=click.Path(path_type=Path))
@fails_cleanly
def config_check(file: Path) -> None:
    """Validate FILE; every problem is listed with its key path (exit 2 when invalid)."""
    try:
        load_config(file)
    except ConfigError as exc:
        err.print(f"[red]{exc.source}[/red]: {len(exc.problems)} problem(s)")
        for problem in exc.problems:
            err.print(f"  {problem}", highlight=False)
        sys.exit(2)
    out.print(f"{file}: valid")


@click.group("db")
def db_group() -> None:
    """The relayer's database."""


@db_group.command("upgrade")
@click.option("--config", "config_file", type=click.Path(path_type=Path), required=True)
@fails_cleanly
def db_upgrade(config_file: Path) -> None:
    """Apply every pending migration to the configured database."""
    from relayer.edges.db import engine as db

    config = load_config(config_file)

    async def run() -> str | None:
        engine = db.create_engine(config.database.url)
        try:
            await db.upgrade(engine)
            return await db.current_revision(engine)
        finally:
            await engine.dispose()

    out.print(f"database at revision {asyncio.run(run())}")
