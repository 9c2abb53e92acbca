"""Shared fixtures: databases (SQLite and PostgreSQL), a fresh anvil, artifacts; the ``--long`` option,
without which tests marked ``long`` (the long variants of the fault scenarios) are skipped."""

from __future__ import annotations

import asyncio
import secrets
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from relayer import failures
from relayer.core.ports import OperationStore
from relayer.devtools.devnet.anvil import ChainSpec, anvil_argv, free_port, wait_ready
from relayer.devtools.devnet.cast import DEPLOYER_KEY
from relayer.edges.db import engine as db
from relayer.edges.db.store import OperationStore as SqlOperationStore
from relayer.edges.evm.artifacts import Artifacts, load_artifacts
from relayer.edges.evm.client import ChainClient, RevertDecoder
from tests.contracts.system import System, deploy_system
from tests.support import postgres
from tests.support.memory import MemoryOperationStore

LONG_OPTION = "--long"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        LONG_OPTION,
        action="store_true",
        default=False,
        help="also run the tests marked `long` (the long variants of the fault scenarios)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption(LONG_OPTION):
        return
    skip = pytest.mark.skip(reason=f"long variant: runs only with {LONG_OPTION}")
    for item in items:
        if item.get_closest_marker("long") is not None:
            item.add_marker(skip)


@pytest.fixture(autouse=True, scope="session")
def _no_retry_waits() -> Iterator[None]:
    """Retries of transient faults (`relayer.failures`) run without their waits in the test process."""
    failures.waits(False)
    yield
    failures.waits(True)


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[str]:
    """Admin URL of the PostgreSQL server the tests use (see tests/support/postgres.py)."""
    with postgres.admin_url() as url:
        yield url


@contextmanager
def fresh_database(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a fresh, empty database on ``backend`` (sqlite or postgresql), dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'dari.db'}"
        return
    admin = request.getfixturevalue("pg_admin")
    name = f"dari_test_{secrets.token_hex(6)}"
    asyncio.run(postgres.create_database(admin, name))
    try:
        yield postgres.with_database(admin, name)
    finally:
        asyncio.run(postgres.drop_database(admin, name))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database on each backend."""
    with fresh_database(request.param, request, tmp_path) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql", "memory"])
def store_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | None]:
    """A fresh database's URL on each backend, or None for memory."""
    if request.param == "memory":
        yield None
        return
    with fresh_database(request.param, request, tmp_path) as url:
        yield url


@pytest.fixture
async def operation_store(store_backend: str | None) -> AsyncIterator[OperationStore]:
    """A fresh operations store on each database, and the unit tests' one in memory (which must behave the
    same: it passes the same store tests)."""
    if store_backend is None:
        yield MemoryOperationStore()
        return
    engine = db.create_engine(store_backend)
    await db.upgrade(engine)
    try:
        yield SqlOperationStore(engine)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def artifacts() -> Artifacts:
    return load_artifacts()


@pytest.fixture
def anvil_url(tmp_path: Path) -> Iterator[str]:
    """A fresh automining anvil (chain id 31337), stopped after the test."""
    port = free_port()
    log = tmp_path / "anvil.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            anvil_argv(ChainSpec("test", 31337, permissioned=False, confirmations=0), port),
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        asyncio.run(wait_ready(url, 31337, lambda: proc.poll() is None, log))
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
async def chain(anvil_url: str, artifacts: Artifacts) -> AsyncIterator[ChainClient]:
    async with ChainClient(anvil_url, RevertDecoder.from_artifacts(artifacts)) as client:
        yield client


@pytest.fixture
def deployer() -> LocalAccount:
    account: LocalAccount = Account.from_key(DEPLOYER_KEY)
    return account


@pytest.fixture
async def system(chain: ChainClient, artifacts: Artifacts, deployer: LocalAccount) -> System:
    """A full deployment (registry and public side) on a fresh anvil."""
    return await deploy_system(chain, artifacts, deployer)
