"""The fallback CI relies on when the machine's PostgreSQL is unusable: a private throwaway cluster."""

from __future__ import annotations

import asyncio
import glob

import pytest

from relayer.edges.db import engine as db
from tests.support import postgres

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not glob.glob("/usr/lib/postgresql/*/bin/initdb"), reason="no PostgreSQL binaries"),
]


async def migrate(url: str) -> str | None:
    engine = db.create_engine(url)
    try:
        await db.upgrade(engine)
        return await db.current_revision(engine)
    finally:
        await engine.dispose()


def test_private_cluster_starts_migrates_and_stops() -> None:
    with postgres.private_cluster() as url:
        assert postgres.usable(url)
        assert asyncio.run(migrate(url)) == "0003"
    assert not postgres.usable(url)
