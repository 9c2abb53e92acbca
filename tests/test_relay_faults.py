"""Exactly once under faults, on PostgreSQL: the relayer SIGKILLed at random points during 200
transfers, attestors stopped and restarted, and two relayers sharing one database with a failover."""

from __future__ import annotations

import asyncio
import random
import signal
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from relayer.devnet import control
from relayer.devnet.anvil import free_port
from relayer.schema import leases
from relayer.transfer_state import State
from tests.support import postgres
from tests.support.bridge import Bridge

pytestmark = pytest.mark.integration
KILLS = 5
TRANSFERS = 200


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory, pg_admin: str) -> Iterator[tuple[Path, str]]:
    root = tmp_path_factory.mktemp("faults")
    asyncio.run(control.up(root, relayer=False))
    name = f"dari_faults_{int(time.time() * 1000) % 10**9}"
    asyncio.run(postgres.create_database(pg_admin, name))
    try:
        yield root, postgres.with_database(pg_admin, name)
    finally:
        control.down(root)
        asyncio.run(postgres.drop_database(pg_admin, name))


@pytest.fixture
async def bridge(devnet: tuple[Path, str]) -> AsyncIterator[Bridge]:
    root, url = devnet
    async with Bridge(root, url) as b:
        if "relayer" not in {r.name for r in b.processes.running()}:
            await b.start_relayer()
        yield b


async def test_sigkill_storm_delivers_every_transfer_exactly_once(bridge: Bridge) -> None:
    """INV-001/INV-002/INV-008: 200 transfers (150 mints over two chains, 50 refunds) while the relayer
    is SIGKILLed five times at random points and restarted: each ends exactly once."""
    rng = random.Random(20261125)
    mints = await bridge.bridge_out("Minjun", 1, "ethereum", count=75) + await bridge.bridge_out(
        "Minjun", 1, "rollup", count=75
    )
    refunds = await bridge.bridge_out("Bob", 1, "ethereum", count=TRANSFERS - 150)
    for _ in range(KILLS):
        await asyncio.sleep(rng.uniform(0.5, 2.5))
        bridge.kill("relayer", signal.SIGKILL)
        await bridge.start_relayer()
    await bridge.wait(mints, {State.CONFIRMED}, timeout=240)
    await bridge.wait(refunds, {State.REFUNDED}, timeout=120)

    minted: list[int] = []
    for chain in bridge.manifest.public:
        minted += [e["sourceNonce"] for e in await bridge.logs(chain.chain_id, chain.contracts["gateway"], "Minted")]
    assert len(minted) == len(set(minted)), "a bridge-out was minted twice"
    assert {int(i.split("-")[1]) for i in mints} <= set(minted)
    refunded = [
        e["nonce"] for e in await bridge.logs(bridge.registry, bridge.manifest.registry.contracts["escrow"], "Refunded")
    ]
    assert len(refunded) == len(set(refunded)), "a bridge-out was refunded twice"
    assert {int(i.split("-")[1]) for i in refunds} <= set(refunded)
    assert set(minted).isdisjoint(refunded), "a bridge-out was both minted and refunded"
    assert await bridge.locked() == await bridge.wrapped_supply()


async def test_one_attestor_down_delivers_two_down_waits(bridge: Bridge) -> None:
    """Threshold 2 of 3: one attestor down still delivers; two down waits, then delivers when one returns."""
    bridge.kill("att-3", signal.SIGTERM)
    [first] = await bridge.bridge_out("Minjun", 1, "ethereum")
    await bridge.wait([first], {State.CONFIRMED})
    bridge.kill("att-2", signal.SIGTERM)
    [second] = await bridge.bridge_out("Minjun", 1, "ethereum")
    await bridge.wait([second], {State.APPROVED})
    await asyncio.sleep(3)
    waiting = await bridge.store.get(second)
    assert waiting.state == State.APPROVED
    assert waiting.attempts > 0
    await bridge.restart_attestor("att-2")
    await bridge.wait([second], {State.CONFIRMED}, timeout=120)
    await bridge.restart_attestor("att-3")


async def test_two_relayers_one_acts_and_the_standby_takes_over(bridge: Bridge) -> None:
    """HA: two relayers on one PostgreSQL; only the lease holder acts; killing it, the standby continues."""
    await bridge.start_relayer("standby", api_port=free_port())
    ids = await bridge.bridge_out("Minjun", 1, "ethereum", count=5)
    await bridge.wait(ids, {State.CONFIRMED})
    async with bridge.engine.connect() as conn:
        owner = (await conn.execute(select(leases.c.owner).where(leases.c.name == "relayer"))).scalar_one()
    assert owner in ("relayer", "standby")
    bridge.kill(owner, signal.SIGKILL)
    more = await bridge.bridge_out("Minjun", 1, "rollup", count=5)
    await bridge.wait(more, {State.CONFIRMED}, timeout=120)
    async with bridge.engine.connect() as conn:
        assert (await conn.execute(select(leases.c.owner).where(leases.c.name == "relayer"))).scalar_one() != owner
    minted = [
        e["sourceNonce"]
        for c in bridge.manifest.public
        for e in await bridge.logs(c.chain_id, c.contracts["gateway"], "Minted")
    ]
    assert len(minted) == len(set(minted))
    survivor = "standby" if owner == "relayer" else "relayer"
    bridge.kill(survivor, signal.SIGTERM)
