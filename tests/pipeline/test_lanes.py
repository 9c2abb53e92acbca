"""The lanes (`relayer.pipeline.lanes`): while the lease is held a lane runs its pass at its interval, and at
once when woken; a transient or refused failure is logged and the lane runs again next pass; a fatal one
(a deep reorg, a bug) stops that lane alone, in `Lanes.stopped` and ``dari_lane_stopped``; without the lease
nothing runs. `each_chain` runs every chain's stages, isolating a chain's non-fatal failure (counted in
``dari_rpc_errors_total``) and raising a fatal one once every chain is done; `timed` records
``dari_stage_seconds``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping

import pytest
import structlog

from relayer import metrics
from relayer.core.errors import DariError, RpcUnavailable
from relayer.core.finality import ReorgTooDeep
from relayer.pipeline.lanes import Lanes, Work, each_chain, timed
from tests.support.memory import MemoryLease

INTERVAL = 0.01
TIMEOUT = 1.0  # no test may hang: every run ends well before this


def sample(name: str, labels: Mapping[str, str] | None = None) -> float:
    value = metrics.REGISTRY.get_sample_value(name, dict(labels or {}))
    return 0.0 if value is None else value


def lane_stopped(lane: str) -> float | None:
    return metrics.REGISTRY.get_sample_value("dari_lane_stopped", {"lane": lane})


async def run(lanes: Lanes, spec: Mapping[str, tuple[Work, float]], stop: asyncio.Event) -> float:
    """Runs ``spec`` until ``stop``; the seconds it took."""
    started = time.monotonic()
    await asyncio.wait_for(lanes.run(spec, stop), TIMEOUT)
    return time.monotonic() - started


class Counter:
    """A lane's pass: counts its runs, sets ``stop`` after ``until`` of them, raises ``errors[n]`` on run n."""

    def __init__(
        self, stop: asyncio.Event, until: int | None = None, errors: Mapping[int, BaseException] | None = None
    ) -> None:
        self.stop, self.until, self.errors = stop, until, dict(errors or {})
        self.passes = 0
        self.leading: list[float | None] = []  # dari_leader during each pass
        self.then: Callable[[int], None] = lambda n: None

    async def __call__(self) -> None:
        self.passes += 1
        self.leading.append(metrics.REGISTRY.get_sample_value("dari_leader"))
        self.then(self.passes)
        if self.until is not None and self.passes >= self.until:
            self.stop.set()
        if self.passes in self.errors:
            raise self.errors[self.passes]


# --- lanes ----------------------------------------------------------------------------------------------


async def test_a_lane_runs_its_pass_at_its_interval_while_the_lease_is_held() -> None:
    stop = asyncio.Event()
    work = Counter(stop, until=3)
    lanes = Lanes(MemoryLease())
    await run(lanes, {"relay": (work, INTERVAL)}, stop)
    assert work.passes == 3
    assert work.leading == [1.0, 1.0, 1.0]
    assert lanes.stopped == {}
    assert lane_stopped("relay") == 0.0


async def test_a_woken_lane_runs_again_at_once() -> None:
    stop = asyncio.Event()
    lanes = Lanes(MemoryLease())
    slow = Counter(stop, until=2)  # its interval would keep it waiting for a minute
    other = Counter(stop)
    other.then = lambda n: lanes.wake("slow") if n == 1 else None
    took = await run(lanes, {"slow": (slow, 60.0), "other": (other, INTERVAL)}, stop)
    assert slow.passes == 2
    assert took < TIMEOUT


async def test_waking_an_unknown_lane_or_outside_a_run_does_nothing() -> None:
    lanes = Lanes(MemoryLease())
    lanes.wake("relay")  # not running
    stop = asyncio.Event()
    work = Counter(stop, until=2)
    work.then = lambda n: lanes.wake("nonexistent")
    await run(lanes, {"relay": (work, INTERVAL)}, stop)
    assert work.passes == 2


@pytest.mark.parametrize(
    "error",
    [RpcUnavailable("eth_getLogs", "connection refused"), DariError("the gateway refused the batch")],
    ids=["transient", "refused"],
)
async def test_a_failed_pass_is_logged_and_the_lane_runs_again(error: DariError) -> None:
    lane = f"flaky-{error.failure}"
    stop = asyncio.Event()
    work = Counter(stop, until=3, errors={1: error})
    lanes = Lanes(MemoryLease())
    with structlog.testing.capture_logs() as logs:
        await run(lanes, {lane: (work, INTERVAL)}, stop)
    assert work.passes == 3
    failed = [(e["log_level"], e["lane"], e["error"]) for e in logs if e["event"] == "pass failed"]
    assert failed == [("warning", lane, repr(error))]
    assert lanes.stopped == {}
    assert lane_stopped(lane) == 0.0


@pytest.mark.parametrize("error", [ReorgTooDeep(120, 31337), KeyError("op-1")], ids=["fatal", "bug"])
async def test_a_fatal_failure_stops_its_lane_alone(error: Exception) -> None:
    lane = f"doomed-{type(error).__name__}"
    stop = asyncio.Event()
    doomed = Counter(stop, errors={1: error})
    steady = Counter(stop, until=5)
    lanes = Lanes(MemoryLease())
    with structlog.testing.capture_logs() as logs:
        await run(lanes, {lane: (doomed, INTERVAL), "steady": (steady, INTERVAL)}, stop)
    assert doomed.passes == 1  # never again
    assert steady.passes == 5  # the other lane went on
    assert lanes.stopped == {lane: repr(error)}
    assert (lane_stopped(lane), lane_stopped("steady")) == (1.0, 0.0)
    critical = [(e["log_level"], e["lane"], e["error"]) for e in logs if e["event"] == "lane stopped"]
    assert critical == [("critical", lane, repr(error))]
    assert not [e for e in logs if e["event"] == "pass failed"]


async def test_a_restarted_lane_is_no_longer_marked_stopped() -> None:
    lane = "phoenix"
    stop = asyncio.Event()
    first = {lane: (Counter(stop, errors={1: KeyError("x")}), INTERVAL), "watch": (Counter(stop, until=3), INTERVAL)}
    with structlog.testing.capture_logs():
        await run(Lanes(MemoryLease()), first, stop)
    assert lane_stopped(lane) == 1.0
    stop = asyncio.Event()
    work = Counter(stop, until=1)
    lanes = Lanes(MemoryLease())
    await run(lanes, {lane: (work, INTERVAL)}, stop)
    assert (work.passes, lanes.stopped, lane_stopped(lane)) == (1, {}, 0.0)


async def test_without_the_lease_nothing_runs() -> None:
    stop = asyncio.Event()
    work = Counter(stop)
    lanes = Lanes(MemoryLease(held=False, seconds=0.03))
    asyncio.get_running_loop().call_later(0.1, stop.set)
    await run(lanes, {"relay": (work, INTERVAL), "deliver": (work, INTERVAL)}, stop)
    assert work.passes == 0
    assert not lanes.leader
    assert sample("dari_leader") == 0.0


async def test_lanes_start_at_once_when_the_lease_is_taken() -> None:
    stop = asyncio.Event()
    lease = MemoryLease(held=False, seconds=0.03)  # renewed every 0.01 s
    work = Counter(stop, until=1)
    asyncio.get_running_loop().call_later(0.03, setattr, lease, "held", True)
    took = await run(Lanes(lease), {"relay": (work, 60.0)}, stop)  # its interval alone would wait a minute
    assert work.passes == 1 and work.leading == [1.0]
    assert took < TIMEOUT


async def test_lanes_stop_acting_once_a_lost_lease_would_have_expired() -> None:
    stop = asyncio.Event()
    lease = MemoryLease(seconds=0.06)
    work = Counter(stop)
    lanes = Lanes(lease)
    seen: list[int] = []
    loop = asyncio.get_running_loop()

    def lose(n: int) -> None:
        if n == 2:
            lease.held = False  # another relayer took it over
            loop.call_later(0.12, lambda: seen.append(work.passes))  # past the last renewal's expiry
            loop.call_later(0.2, stop.set)

    work.then = lose
    await run(lanes, {"relay": (work, 0.005)}, stop)
    [after_expiry] = seen
    assert after_expiry >= 2
    assert work.passes == after_expiry  # nothing ran once the lease had expired
    assert not lanes.leader
    assert sample("dari_leader") == 0.0


async def test_a_lease_that_cannot_be_renewed_lapses_and_is_logged() -> None:
    class FlakyLease(MemoryLease):
        def __init__(self) -> None:
            super().__init__(seconds=0.03)
            self.renewals = 0

        async def acquire(self) -> bool:
            self.renewals += 1
            if self.renewals > 1:
                raise RpcUnavailable("lease", "database restarting")
            return True

    stop = asyncio.Event()
    work = Counter(stop)
    lanes = Lanes(FlakyLease())
    asyncio.get_running_loop().call_later(0.15, stop.set)
    with structlog.testing.capture_logs() as logs:
        await run(lanes, {"relay": (work, 0.005)}, stop)
    assert work.passes >= 1
    assert not lanes.leader
    assert {e["log_level"] for e in logs if e["event"] == "lease not renewed"} == {"warning"}


# --- each_chain and timed -------------------------------------------------------------------------------


class Stages:
    """Two stages of every chain (``poll``, then ``deliver``) recording what ran; ``fail`` maps a chain to
    what its poll raises; ``slow`` chains take a little longer."""

    def __init__(
        self, fail: Mapping[int, Exception] | None = None, slow: frozenset[int] = frozenset(), delay: float = 0.02
    ) -> None:
        self.fail, self.slow, self.delay = dict(fail or {}), slow, delay
        self.ran: list[tuple[str, int]] = []

    async def poll(self, chain_id: int) -> None:
        if chain_id in self.slow:
            await asyncio.sleep(self.delay)
        if chain_id in self.fail:
            raise self.fail[chain_id]
        self.ran.append(("poll", chain_id))

    async def deliver(self, chain_id: int) -> None:
        if chain_id in self.slow:
            await asyncio.sleep(self.delay)
        self.ran.append(("deliver", chain_id))


def rpc_errors(chain_id: int) -> float:
    return sample("dari_rpc_errors_total", {"chain": str(chain_id)})


async def test_each_chain_runs_every_stage_of_every_chain_in_order() -> None:
    stages = Stages()
    await each_chain([990001, 990002], stages.poll, stages.deliver)
    assert sorted(stages.ran) == [("deliver", 990001), ("deliver", 990002), ("poll", 990001), ("poll", 990002)]
    for chain in (990001, 990002):
        assert [s for s, c in stages.ran if c == chain] == ["poll", "deliver"]


async def test_each_chain_runs_the_chains_concurrently() -> None:
    stages = Stages(slow=frozenset({990011, 990012, 990013}), delay=0.04)
    started = time.monotonic()
    await each_chain([990011, 990012, 990013], stages.poll, stages.deliver)
    assert len(stages.ran) == 6
    assert time.monotonic() - started < 2 * 2 * 0.04  # one chain after the other would take 3 * 2 * 0.04


@pytest.mark.parametrize(
    "error", [RpcUnavailable("eth_blockNumber", "timeout"), DariError("reverted")], ids=["transient", "refused"]
)
async def test_a_chain_failure_is_isolated_counted_and_logged(error: Exception) -> None:
    bad, good = (990021, 990022) if isinstance(error, RpcUnavailable) else (990031, 990032)
    before = (rpc_errors(bad), rpc_errors(good))
    stages = Stages(fail={bad: error})
    with structlog.testing.capture_logs() as logs:
        await each_chain([bad, good], stages.poll, stages.deliver)
    assert sorted(stages.ran) == [("deliver", bad), ("deliver", good), ("poll", good)]  # its next stage ran
    assert (rpc_errors(bad) - before[0], rpc_errors(good) - before[1]) == (1.0, 0.0)
    failed = [(e["log_level"], e["stage"], e["chain"], e["error"]) for e in logs if e["event"] == "stage failed"]
    assert failed == [("warning", "poll", bad, repr(error))]


@pytest.mark.parametrize("error", [ReorgTooDeep(3, 990041), KeyError("x")], ids=["fatal", "bug"])
async def test_a_fatal_chain_failure_is_raised_once_every_chain_is_done(error: Exception) -> None:
    fatal, slow, fine = 990041, 990042, 990043
    before = rpc_errors(fatal)
    stages = Stages(fail={fatal: error}, slow=frozenset({slow}))
    with pytest.raises(type(error)) as raised:
        await each_chain([fatal, slow, fine], stages.poll, stages.deliver)
    assert raised.value is error
    assert ("deliver", fatal) not in stages.ran  # its chain's pass ended there
    assert sorted(stages.ran) == [("deliver", slow), ("deliver", fine), ("poll", slow), ("poll", fine)]
    assert stages.ran[-1] == ("deliver", slow)  # the slow chain had finished before the raise
    assert rpc_errors(fatal) == before  # not an RPC error


async def test_the_first_chain_fatal_failure_is_raised_and_transient_ones_still_counted() -> None:
    first, second, flaky = 990051, 990052, 990053
    first_error, second_error = ReorgTooDeep(1, first), ReorgTooDeep(2, second)
    before = rpc_errors(flaky)
    stages = Stages(fail={first: first_error, second: second_error, flaky: RpcUnavailable("x", "y")},
                    slow=frozenset({first}))  # fmt: skip
    with pytest.raises(ReorgTooDeep) as raised:
        await each_chain([first, second, flaky], stages.poll, stages.deliver)
    assert raised.value is first_error  # by chain order, though it failed last
    assert rpc_errors(flaky) - before == 1.0
    assert stages.ran == [("deliver", flaky)]


def stage_seconds(stage: str) -> tuple[float, float]:
    """(count, sum) of ``dari_stage_seconds`` under ``stage``."""
    labels = {"stage": stage}
    return sample("dari_stage_seconds_count", labels), sample("dari_stage_seconds_sum", labels)


async def test_timed_records_the_stage_time() -> None:
    before = stage_seconds("test-timed")
    ran: list[str] = []

    async def stage() -> None:
        await asyncio.sleep(0.02)
        ran.append("stage")

    await timed("test-timed", stage())
    count, total = stage_seconds("test-timed")
    assert ran == ["stage"]
    assert count - before[0] == 1.0
    assert 0.02 <= total - before[1] < TIMEOUT


async def test_timed_records_a_failed_stage_and_raises_its_failure() -> None:
    before = stage_seconds("test-timed-failing")
    error = RpcUnavailable("eth_call", "timeout")

    async def stage() -> None:
        raise error

    with pytest.raises(RpcUnavailable) as raised:
        await timed("test-timed-failing", stage())
    assert raised.value is error
    assert stage_seconds("test-timed-failing")[0] - before[0] == 1.0


async def test_timed_each_chain_is_how_a_lane_runs_its_stages() -> None:
    stop = asyncio.Event()
    stages = Stages()
    passes = 0

    async def lane() -> None:
        nonlocal passes
        passes += 1
        await timed("test-timed-lane", each_chain([990061], stages.poll, stages.deliver))
        if passes == 2:
            stop.set()

    before = stage_seconds("test-timed-lane")[0]
    await run(Lanes(MemoryLease()), {"deliver": (lane, INTERVAL)}, stop)
    assert stages.ran == [("poll", 990061), ("deliver", 990061)] * 2
    assert stage_seconds("test-timed-lane")[0] - before == 2.0
