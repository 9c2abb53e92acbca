"""What every fault scenario checks afterwards, and the devnet rewiring the scenarios share."""

from __future__ import annotations

import asyncio
import json
import random
import tomllib
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
import tomli_w
from eth_account import Account
from eth_account.signers.local import LocalAccount

from relayer.core.transfer_state import Kind, State, is_final
from relayer.devtools.devnet import control
from relayer.devtools.devnet.cast import DEPLOYER_KEY
from tests.support.bridge import Bridge

RECONCILE_TIMEOUT = 120.0
SETTLE_TIMEOUT = 120.0  # seconds for every operation to reach a final state
T = TypeVar("T")


def variants(short: T, long: T) -> list[Any]:
    """The two sizes of one scenario as parameters: ``short`` (always run, part of `make test`) and ``long``
    (marked ``long``: run only with ``pytest --long``)."""
    return [pytest.param(short, id="short"), pytest.param(long, id="long", marks=pytest.mark.long)]


def rewrite_config(root: Path, change: Callable[[dict[str, Any]], None]) -> None:
    """Applies ``change`` to ``root/dari.toml`` (daemons started afterwards read the new file)."""
    path = root / "dari.toml"
    document = tomllib.loads(path.read_text())
    change(document)
    path.write_text(tomli_w.dumps(document))


def set_confirmations(root: Path, public: int, registry: int | None = None) -> None:
    """Every public chain of ``root``'s config waits ``public`` confirmations (the registry ``registry``)."""

    def change(document: dict[str, Any]) -> None:
        for chain in document["public"]:
            chain["confirmations"] = public
        if registry is not None:
            document["registry"]["confirmations"] = registry

    rewrite_config(root, change)


@contextmanager
def devnet_waiting(root: Path, public: int, registry: int | None = None) -> Iterator[Path]:
    """A devnet in ``root`` (no relayer yet) whose config waits these confirmations; gone afterwards."""
    try:
        asyncio.run(control.up(root, relayer=False))
        set_confirmations(root, public, registry)
        yield root
    finally:
        control.down(root)


async def restart_attestors(bridge: Bridge) -> None:
    """Stops and starts every attestor, so that they read the config again."""
    for attestor in bridge.config.attestors:
        if attestor.id in {r.name for r in bridge.processes.running()}:
            bridge.kill(attestor.id)
        await bridge.restart_attestor(attestor.id)


async def fund(bridge: Bridge, who: str, units: int, security: int = 0) -> None:
    """Mints ``units`` more of ``security`` on the registry to ``who`` (the devnet's agent key)."""
    agent: LocalAccount = Account.from_key(DEPLOYER_KEY)
    token = bridge.contract("SecurityToken", bridge.registry, bridge.manifest.securities[security].registry_token)
    await bridge.clients[bridge.registry].transact(
        token.functions.mint(bridge.investor(who).registry_address, units), agent
    )


async def source_nonces(bridge: Bridge) -> tuple[Counter[int], Counter[int]]:
    """How often each bridge-out nonce was minted (every public gateway) and refunded (the escrow)."""
    minted: Counter[int] = Counter()
    for chain in bridge.manifest.public:
        for event in await bridge.logs(chain.chain_id, chain.contracts["gateway"], "Minted"):
            minted[int(event["sourceNonce"])] += 1
    escrow = bridge.manifest.registry.contracts["escrow"]
    refunded = Counter(int(e["nonce"]) for e in await bridge.logs(bridge.registry, escrow, "Refunded"))
    return minted, refunded


def nonce(operation_id: str) -> int:
    return int(operation_id.split("-")[1])


async def assert_exactly_once(bridge: Bridge, mints: list[str], refunds: list[str]) -> None:
    """INV-001/INV-002/INV-008 after a fault: each of ``mints`` minted once and never refunded, each of
    ``refunds`` refunded once and never minted, no nonce minted or refunded twice, every operation in
    a final state (the wallet links the rules hold approved by the devnet's officer), locked units equal to
    the wrapped supply, and `dari reconcile` balanced."""
    minted, refunded = await source_nonces(bridge)
    assert [n for n, c in minted.items() if c > 1] == [], "a bridge-out was minted twice"
    assert [n for n, c in refunded.items() if c > 1] == [], "a bridge-out was refunded twice"
    assert set(minted).isdisjoint(refunded), "a bridge-out was both minted and refunded"
    assert {nonce(i) for i in mints} <= set(minted), "a confirmed bridge-out is not minted"
    assert {nonce(i) for i in refunds} <= set(refunded), "a refunded bridge-out has no refund"
    assert {nonce(i) for i in mints}.isdisjoint(refunded)
    deadline = asyncio.get_running_loop().time() + SETTLE_TIMEOUT
    while True:  # operations the faults sent into a retry backoff (seeded registrations, say) end too
        await bridge.approve_held_registrations()  # the officer's part: a foreign holder's link held for review
        counts = await bridge.store.counts()
        open_ = {k: n for k, n in counts.items() if not is_final(Kind(k[0]), State(k[1]))}
        if not open_ or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.5)
    assert open_ == {}, f"operations not final after {SETTLE_TIMEOUT:.0f} s: {open_}"
    assert await bridge.locked() == await bridge.wrapped_supply()
    report = await reconcile(bridge)
    assert report["balanced"], report


async def reconcile(bridge: Bridge) -> dict[str, Any]:
    """`dari reconcile --config root/dari.toml --json`, which must exit 0 (balanced and attested)."""
    proc = await asyncio.create_subprocess_exec(
        *control.PYTHON, "reconcile", "--config", str(bridge.root / "dari.toml"), "--json",
        env=bridge.env(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        stdout, stderr = await asyncio.wait_for(proc.communicate(), RECONCILE_TIMEOUT)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode == 0, f"dari reconcile exited {proc.returncode}: {stderr.decode()[-2000:]}"
    report: dict[str, Any] = json.loads(stdout)
    return report


async def finished_bridge_outs(bridge: Bridge) -> int:
    """How many bridge-outs the relayer's database holds in a final state."""
    counts = await bridge.store.counts()
    return sum(
        n for (kind, state), n in counts.items() if kind == Kind.BRIDGE_OUT and is_final(Kind.BRIDGE_OUT, State(state))
    )


class Traffic:
    """``transfers`` bridge-outs sent in the background in shuffled chunks: a quarter by Bob (ineligible:
    refunded), the rest by Minjun (eligible: minted), half to each public chain. `limit` holds the sender
    back at a count until a fault has been injected, so that faults are spread over the whole stream."""

    def __init__(self, bridge: Bridge, transfers: int, rng: random.Random, chunk: int = 5) -> None:
        self.bridge = bridge
        self.transfers = transfers
        refunds = transfers // 4
        per_chain = (transfers - refunds) // 2
        lanes = {
            ("Minjun", "ethereum"): transfers - refunds - per_chain,
            ("Minjun", "rollup"): per_chain,
            ("Bob", "ethereum"): refunds,
        }
        self.plan = [(lane, min(chunk, n - i)) for lane, n in lanes.items() for i in range(0, n, chunk)]
        rng.shuffle(self.plan)
        self.mints: list[str] = []
        self.refunds: list[str] = []
        self.sent = 0
        self.baseline = 0
        self._limit = transfers
        self._changed = asyncio.Condition()

    async def allow(self, limit: int) -> None:
        """Lets the sender go on up to ``limit`` transfers in all."""
        async with self._changed:
            self._limit = limit
            self._changed.notify_all()

    async def reached(self, count: int) -> None:
        """Waits until ``count`` transfers have been sent."""
        async with self._changed:
            await self._changed.wait_for(lambda: self.sent >= count)

    async def in_flight(self) -> int:
        """Sent transfers not yet final in the relayer's database (the database must be up)."""
        return self.sent - (await finished_bridge_outs(self.bridge) - self.baseline)

    async def run(self) -> None:
        self.baseline = await finished_bridge_outs(self.bridge)
        await fund(self.bridge, "Minjun", self.transfers)
        await fund(self.bridge, "Bob", self.transfers)
        for (who, chain), size in self.plan:
            left = size
            while left:
                async with self._changed:
                    await self._changed.wait_for(lambda: self.sent < self._limit)
                    count = min(left, self._limit - self.sent)
                ids = await self.bridge.bridge_out(who, 1, chain, count=count)
                (self.mints if who == "Minjun" else self.refunds).extend(ids)
                left -= count
                async with self._changed:
                    self.sent += count
                    self._changed.notify_all()

    async def wait_final(self, timeout: float) -> None:
        """Every sent transfer final in its expected state: mints confirmed, refunds refunded."""
        await self.bridge.wait(self.mints, {State.CONFIRMED}, timeout=timeout)
        await self.bridge.wait(self.refunds, {State.REFUNDED}, timeout=timeout)


async def interleave(
    traffic: Traffic, faults: int, rng: random.Random, fault: Callable[[int], Awaitable[None]], jitter: float = 1.0
) -> None:
    """Sends ``traffic`` and injects ``fault(0)`` ... ``fault(faults - 1)`` at seeded random points of it:
    fault i once the i-th of ``faults`` random counts has been sent (plus up to ``jitter`` seconds), the
    sender going on meanwhile but never past the next count until fault i is done."""
    points = sorted(rng.sample(range(1, traffic.transfers), faults))

    async def inject() -> None:
        for i, point in enumerate(points):
            await traffic.allow(points[i + 1] if i + 1 < len(points) else traffic.transfers)
            await traffic.reached(point)
            await asyncio.sleep(rng.uniform(0, jitter))
            await fault(i)

    await traffic.allow(points[0])
    async with asyncio.TaskGroup() as group:
        group.create_task(traffic.run())
        group.create_task(inject())
