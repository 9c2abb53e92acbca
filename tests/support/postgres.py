"""PostgreSQL for the test suite, found through one variable.

``DARI_TEST_DATABASE_URL`` when set (it must work); otherwise the machine's server at
127.0.0.1:5432 (trust auth, database ``test``); otherwise a private throwaway cluster started on
the machine's PostgreSQL binaries in a temporary directory, stopped when the session ends.
"""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg

ENV = "DARI_TEST_DATABASE_URL"
MACHINE_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"


def usable(url: str) -> bool:
    async def probe() -> bool:
        try:
            conn = await asyncpg.connect(url, timeout=3)
        except (TimeoutError, OSError, asyncpg.PostgresError):
            return False
        try:
            await conn.execute("SELECT 1")
            return True
        finally:
            await conn.close()

    return asyncio.run(probe())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def private_cluster() -> Iterator[str]:
    """A throwaway cluster (trust auth, loopback only); yields its admin URL."""
    initdbs = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not initdbs:
        raise RuntimeError("no PostgreSQL binaries under /usr/lib/postgresql: apt-get install postgresql")
    bindir = Path(initdbs[-1]).parent
    root = Path(tempfile.mkdtemp(prefix="dari-pg-"))
    as_postgres: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        shutil.chown(root, "postgres", "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    data, port = root / "data", _free_port()
    try:
        subprocess.run(
            [*as_postgres, str(bindir / "initdb"), "-A", "trust", "-U", "postgres", "-D", str(data)],
            check=True, capture_output=True,
        )  # fmt: skip
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
        pg_ctl = [*as_postgres, str(bindir / "pg_ctl"), "-D", str(data)]
        subprocess.run(
            [*pg_ctl, "-o", options, "-l", str(root / "log"), "-w", "start"], check=True, capture_output=True
        )
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*as_postgres, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], capture_output=True
        )
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def admin_url() -> Iterator[str]:
    """An admin URL of a PostgreSQL server the tests may create databases on."""
    configured = os.environ.get(ENV)
    if configured:
        if not usable(configured):
            raise RuntimeError(f"{ENV}={configured} is not reachable")
        yield configured
    elif usable(MACHINE_DEFAULT):
        yield MACHINE_DEFAULT
    else:
        with private_cluster() as url:
            yield url


def with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


async def create_database(admin: str, name: str) -> None:
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def drop_database(admin: str, name: str) -> None:
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
