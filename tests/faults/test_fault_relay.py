"""Exactly once under faults, on PostgreSQL: the relayer SIGKILLed at random points during a stream of
transfers (200 short, 1,000 with --long), attestors stopped and restarted, and two relayers sharing one
database with a failover."""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import sqlite3
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from unittest.mock import patch

import pytest
from sqlalchemy import select

from relayer.core.model import UnknownOperation
from relayer.core.transfer_state import State
from relayer.devtools.devnet.anvil import free_port
from relayer.edges.db import engine as db
from relayer.edges.db.schema import leases
from relayer.relay import open_relay
from tests.support.bridge import Bridge, devnet_on_postgres, relaying
from tests.support.faults import Traffic, assert_exactly_once, interleave, nonce, variants

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory, pg_admin: str) -> Iterator[tuple[Path, str]]:
    with devnet_on_postgres(tmp_path_factory.mktemp("faults"), pg_admin, "faults") as devnet:
        yield devnet


@pytest.fixture
async def bridge(devnet: tuple[Path, str]) -> AsyncIterator[Bridge]:
    async with relaying(*devnet) as b:
        yield b


@dataclass(frozen=True)
class Storm:
    transfers: int
    kills: int  # while bridge-outs are being sent, then up to a fifth more while some are still in flight


@pytest.mark.parametrize("storm", variants(Storm(200, 5), Storm(1000, 20)))
async def test_sigkill_storm_delivers_every_transfer_exactly_once(bridge: Bridge, storm: Storm) -> None:
    """INV-001/INV-002/INV-008: transfers (mints over both public chains, a quarter refunds) while the
    relayer is SIGKILLed at seeded random points spread over the stream and restarted each time, then a
    few more times while transfers are still in flight: each ends exactly once and reconciliation balances.
    Short: 200 transfers, 5 kills (+1); long (--long): 1,000 transfers, 20 kills (+4)."""
    rng = random.Random(20261125 + storm.transfers)
    traffic = Traffic(bridge, storm.transfers, rng)
    kills: list[int] = []

    async def kill_and_restart(_: int) -> None:
        kills.append(await traffic.in_flight())
        bridge.kill("relayer", signal.SIGKILL)
        await bridge.start_relayer()

    await interleave(traffic, storm.kills, rng, kill_and_restart)
    for _ in range(max(1, storm.kills // 5)):
        await asyncio.sleep(rng.uniform(0.2, 1.5))
        if await traffic.in_flight() == 0:
            break
        await kill_and_restart(0)
    assert len(kills) >= storm.kills, kills  # transfers in flight at each kill
    await traffic.wait_final(timeout=120 + storm.transfers * 0.3)
    assert "relayer" in {r.name for r in bridge.processes.running()}
    await assert_exactly_once(bridge, traffic.mints, traffic.refunds)


@dataclass(frozen=True)
class AttestorOutages:
    transfers: int
    rounds: int  # every third round stops all three attestors, the others one or two of them


def journaled(bridge: Bridge) -> dict[str, dict[str, set[int]]]:
    """Each attestor's signing journal: the bridge-out nonces it signed, by statement kind."""
    found: dict[str, dict[str, set[int]]] = {}
    for attestor in bridge.config.attestors:
        assert attestor.journal is not None
        with contextlib.closing(sqlite3.connect(f"file:{attestor.journal}?mode=ro", uri=True)) as db:
            query = "SELECT kind, nonce FROM signed WHERE source_chain_id = ? AND nonce IS NOT NULL"
            rows = db.execute(query, (str(bridge.registry),)).fetchall()
        found[attestor.id] = defaultdict(set)
        for kind, nonce_text in rows:
            found[attestor.id][kind].add(int(nonce_text))
    return found


@pytest.mark.parametrize("plan", variants(AttestorOutages(120, 6), AttestorOutages(600, 24)))
async def test_attestor_restarts_keep_every_transfer_exactly_once(bridge: Bridge, plan: AttestorOutages) -> None:
    """INV-001/INV-002/INV-003/INV-008: during a stream of transfers the attestors are stopped (SIGKILL or
    SIGTERM, seeded), kept down a moment and restarted, all three at once every third round, each more than
    once. Every transfer ends exactly once, reconciliation balances, and the signing journals survived the
    kills: each minted (refunded) nonce is journaled as a transfer (refund) authorization by at least the
    threshold of attestors, and no attestor journaled both for one nonce. Short: 120 transfers, 6 rounds."""
    rng = random.Random(20261202 + plan.transfers)
    ids = [a.id for a in bridge.config.attestors]
    traffic = Traffic(bridge, plan.transfers, rng)
    stops: Counter[tuple[str, signal.Signals]] = Counter()

    async def stop_and_restart(i: int) -> None:
        if i % 3 == 0:  # all three, with both signals
            victims = {a: (signal.SIGKILL, signal.SIGTERM)[(n + i) % 2] for n, a in enumerate(ids)}
        else:
            victims = {a: rng.choice((signal.SIGKILL, signal.SIGTERM)) for a in rng.sample(ids, rng.randint(1, 2))}
        for attestor, sig in victims.items():
            bridge.kill(attestor, sig)
            stops[attestor, sig] += 1
        await asyncio.sleep(rng.uniform(0.5, 3.0))
        await asyncio.gather(*(bridge.restart_attestor(a) for a in victims))

    try:
        await interleave(traffic, plan.rounds, rng, stop_and_restart)
        await traffic.wait_final(timeout=120 + plan.transfers * 0.5)
    finally:
        running = {r.name for r in bridge.processes.running()}
        for attestor in ids:
            if attestor not in running:
                await bridge.restart_attestor(attestor)
    assert all(sum(n for (a, _), n in stops.items() if a == attestor) >= 2 for attestor in ids), stops
    assert {sig for _, sig in stops} == {signal.SIGKILL, signal.SIGTERM}
    await assert_exactly_once(bridge, traffic.mints, traffic.refunds)
    journals = journaled(bridge)
    threshold = bridge.config.trust.threshold
    for kind, expected in (("TransferAuthorization", traffic.mints), ("RefundAuthorization", traffic.refunds)):
        for op_id in expected:
            signers = [a for a in ids if nonce(op_id) in journals[a][kind]]
            assert len(signers) >= threshold, f"{op_id}: {kind} journaled only by {signers}"
    for attestor, signed in journals.items():
        both = signed["TransferAuthorization"] & signed["RefundAuthorization"]
        assert not both, f"{attestor} signed both a transfer and a refund of {sorted(both)}"


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


async def test_a_crash_after_reading_a_bridge_out_before_recording_it_loses_nothing(
    bridge: Bridge, tmp_path: Path
) -> None:
    """INV-001 at its narrowest: a relayer that read a bridge-out from the registry but died before recording
    it (simulated: recording raises, as if SIGKILL came there) sees it again once restarted. The kill storm
    hits this window at random; this test hits it every time. An in-process relayer on its own database
    (the daemon's cursors are not touched); it only reads."""
    engine = db.create_engine(f"sqlite:///{tmp_path / 'crash.db'}")
    await db.upgrade(engine)
    registry = bridge.registry
    try:
        async with open_relay(bridge.config, engine, owner="crashes") as relay:
            while (poll := await relay.watchers[registry].poll()).scanned_to < poll.head:
                pass  # caught up (without recording): only what comes next matters
            [op_id] = await bridge.bridge_out("Minjun", 1, "ethereum")
            with (
                patch.object(relay.store, "observe_many", side_effect=SimulatedCrash),
                pytest.raises(SimulatedCrash),
            ):
                await relay.intake.ingest(registry, relay.views.fresh())
        async with open_relay(bridge.config, engine, owner="restarted") as relay:
            for _ in range(5):
                await relay.intake.ingest(registry, relay.views.fresh())
            try:
                await relay.store.get(op_id)
            except UnknownOperation:
                raise AssertionError(f"{op_id} was read before the crash and never recorded: lost") from None
    finally:
        await engine.dispose()


class SimulatedCrash(Exception):
    """The relayer process dies here."""
