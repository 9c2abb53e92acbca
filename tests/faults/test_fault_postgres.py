"""PostgreSQL restarted mid-run: the relayer's database is a private throwaway cluster
(`tests.support.postgres.Cluster`, never the machine's server), restarted (`pg_ctl restart -m fast`) and
stopped for a few seconds, then started again, while transfers are in flight. The relayer recovers by itself
(the same process, never restarted) and every transfer ends exactly once."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from relayer.devtools.devnet import control
from relayer.devtools.devnet.processes import ProcessRecord, is_alive
from tests.support import postgres
from tests.support.bridge import Bridge
from tests.support.faults import Traffic, assert_exactly_once, interleave, variants

pytestmark = pytest.mark.integration
DATABASE = "dari_pg_faults"


@dataclass(frozen=True)
class Outages:
    transfers: int
    outages: int  # alternately a `pg_ctl restart -m fast` and a stop, `down` seconds without a server, a start
    down: tuple[float, float] = (2.0, 5.0)


@pytest.fixture(scope="module")
def cluster() -> Iterator[postgres.Cluster]:
    cluster = postgres.Cluster()
    try:
        cluster.create()
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory, cluster: postgres.Cluster) -> Iterator[tuple[Path, str]]:
    root = tmp_path_factory.mktemp("pg-faults")
    asyncio.run(postgres.create_database(cluster.admin_url, DATABASE))
    asyncio.run(control.up(root, relayer=False))
    try:
        yield root, postgres.with_database(cluster.admin_url, DATABASE)
    finally:
        control.down(root)


def relayer_record(bridge: Bridge) -> ProcessRecord:
    return next(r for r in bridge.processes.records() if r.name == "relayer")


@pytest.mark.parametrize("plan", variants(Outages(100, 4), Outages(400, 12)))
async def test_relayer_rides_out_postgres_restarts(
    devnet: tuple[Path, str], cluster: postgres.Cluster, plan: Outages
) -> None:
    """INV-001/INV-002/INV-008: while transfers (mints over both public chains, a quarter refunds) are sent
    and in flight, the relayer's PostgreSQL is restarted fast and, in turn, stopped for a few seconds and
    started again. The relayer process stays up throughout and is never restarted, and every transfer
    ends exactly once; reconciliation balances. Short: 100 transfers, 4 outages; long: 400 transfers, 12."""
    root, url = devnet
    rng = random.Random(20261201 + plan.transfers)
    async with Bridge(root, url) as bridge:
        try:
            await bridge.start_relayer()
            relayer = relayer_record(bridge)
            traffic = Traffic(bridge, plan.transfers, rng)
            in_flight: list[int] = []

            async def outage(i: int) -> None:
                in_flight.append(await traffic.in_flight())
                if i % 2 == 0:
                    await asyncio.to_thread(cluster.restart, "fast")
                else:
                    await asyncio.to_thread(cluster.stop, "fast")
                    await asyncio.sleep(rng.uniform(*plan.down))  # transfers go on being sent meanwhile
                    await asyncio.to_thread(cluster.start)
                assert is_alive(relayer), f"the relayer died on database outage {i}; see {root / 'logs'}"

            await interleave(traffic, plan.outages, rng, outage, jitter=2.0)
            assert all(n > 0 for n in in_flight), f"an outage found no transfer in flight: {in_flight}"
            await traffic.wait_final(timeout=120 + plan.transfers * 0.3)
            assert is_alive(relayer) and relayer_record(bridge) == relayer, "the relayer was restarted"
            await assert_exactly_once(bridge, traffic.mints, traffic.refunds)
        finally:
            if "relayer" in {r.name for r in bridge.processes.running()}:
                bridge.kill("relayer")


async def test_the_private_cluster_stops_starts_and_restarts_on_its_port_and_data(cluster: postgres.Cluster) -> None:
    """The fault the scenario injects: the same server comes back on the same port with the same data."""
    conn = await asyncpg.connect(cluster.admin_url)
    try:
        await conn.execute("CREATE TABLE IF NOT EXISTS survives (n int)")
        await conn.execute("INSERT INTO survives VALUES (1)")
    finally:
        await conn.close()
    await asyncio.to_thread(cluster.restart, "fast")
    await asyncio.to_thread(cluster.stop, "fast")
    assert not await asyncio.to_thread(postgres.usable, cluster.admin_url)
    await asyncio.to_thread(cluster.start)
    conn = await asyncpg.connect(cluster.admin_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM survives") >= 1
    finally:
        await conn.close()
