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


class Cluster:
    """A throwaway PostgreSQL cluster in a temporary directory, on the machine's binaries (trust auth,
    loopback only, fsync off), that a test may stop, start and restart on the same port and data
    directory. `create` initialises and starts it; `destroy` stops it and removes its directory."""

    def __init__(self) -> None:
        initdbs = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not initdbs:
            raise RuntimeError("no PostgreSQL binaries under /usr/lib/postgresql: apt-get install postgresql")
        self.bindir = Path(initdbs[-1]).parent
        self.root = Path(tempfile.mkdtemp(prefix="dari-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "log"
        self.port = _free_port()
        self._as_postgres: list[str] = []
        if os.geteuid() == 0:  # initdb refuses to run as root
            shutil.chown(self.root, "postgres", "postgres")
            self._as_postgres = ["runuser", "-u", "postgres", "--"]

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([*self._as_postgres, *argv], check=check, capture_output=True, timeout=120)

    def _pg_ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        return self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), *args, check=check)

    @property
    def _options(self) -> str:
        return f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"

    def create(self) -> str:
        """Initialises and starts the cluster; returns its admin URL."""
        self._run(str(self.bindir / "initdb"), "-A", "trust", "-U", "postgres", "-D", str(self.data))
        self.start()
        return self.admin_url

    def start(self) -> None:
        """Starts the server and waits until it accepts connections."""
        self._pg_ctl("-o", self._options, "-l", str(self.log), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        """Stops the server (``fast``: disconnects clients, rolls back; ``immediate``: like a crash)."""
        self._pg_ctl("-m", mode, "-w", "stop")

    def restart(self, mode: str = "fast") -> None:
        """`pg_ctl restart`: stops the server (``mode``), starts it again and waits until it accepts connections."""
        self._pg_ctl("-m", mode, "-o", self._options, "-l", str(self.log), "-w", "restart")

    def destroy(self) -> None:
        """Stops the server if it runs and removes its directory."""
        if self.data.exists():
            self._pg_ctl("-m", "immediate", "stop", check=False)
        shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def private_cluster() -> Iterator[str]:
    """A throwaway cluster (trust auth, loopback only); yields its admin URL."""
    cluster = Cluster()
    try:
        yield cluster.create()
    finally:
        cluster.destroy()


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
