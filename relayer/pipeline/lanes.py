"""Lanes: a process's work as concurrent loops that act only while the process holds the leadership lease.

The lease is taken or renewed every third of its length by a task of its own, independent of how long a
lane's pass takes; a failed renewal (the database is down, say) lets it lapse, and the lanes stop acting
once it would have expired (by this process's own clock, so it stops in time). A lane runs its pass, then
again when woken (another lane handed it work) or after its interval. What a failed pass means is
`relayer.failures.classify`'s: transient or refused, it is logged and left to the next pass; fatal, the
lane stops, loudly (a critical log line and ``dari_lane_stopped``), while the other lanes go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping

import structlog

from relayer import metrics
from relayer.core.errors import Failure
from relayer.core.ports import Leadership
from relayer.failures import classify

log = structlog.get_logger("lanes")

Work = Callable[[], Awaitable[None]]
ChainStage = Callable[[int], Awaitable[None]]


class Lanes:
    """Named lanes behind one lease."""

    def __init__(self, lease: Leadership) -> None:
        self.lease = lease
        self._until = 0.0  # time.monotonic() until which this process may act
        self._wakes: dict[str, asyncio.Event] = {}
        self.stopped: dict[str, str] = {}  # lane -> the fatal failure that stopped it

    @property
    def leader(self) -> bool:
        """Whether this process holds the lease now."""
        return time.monotonic() < self._until

    def wake(self, name: str) -> None:
        """Runs lane ``name`` again at once (no-op outside `run` or for an unknown lane)."""
        if name in self._wakes:
            self._wakes[name].set()

    async def run(self, lanes: Mapping[str, tuple[Work, float]], stop: asyncio.Event) -> None:
        """Keeps the lease and runs ``lanes`` (name: (pass, interval in seconds)) until ``stop``; each lane
        finishes its current pass."""
        self._wakes = {name: asyncio.Event() for name in lanes}

        async def on_stop() -> None:
            await stop.wait()
            for wake in self._wakes.values():
                wake.set()

        async with asyncio.TaskGroup() as group:
            group.create_task(on_stop())
            group.create_task(self._keep_lease(stop))
            for name, (work, interval) in lanes.items():
                group.create_task(self._lane(name, work, interval, stop))

    async def _keep_lease(self, stop: asyncio.Event) -> None:
        seconds = self.lease.seconds
        while not stop.is_set():
            started = time.monotonic()
            try:
                held = await self.lease.acquire()
            except Exception as exc:
                if classify(exc) is Failure.FATAL:
                    raise
                log.warning("lease not renewed", error=repr(exc))
            else:
                was = self.leader
                self._until = started + seconds if held else 0.0
                if held and not was:
                    log.info("leading", owner=self.lease.owner)
                    for wake in self._wakes.values():
                        wake.set()
            metrics.LEADER.set(1 if self.leader else 0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=seconds / 3)

    async def _lane(self, name: str, work: Work, interval: float, stop: asyncio.Event) -> None:
        wake = self._wakes[name]
        metrics.LANE_STOPPED.labels(name).set(0)
        while not stop.is_set():
            wake.clear()
            if self.leader:
                try:
                    await work()
                except Exception as exc:
                    if classify(exc) is Failure.FATAL:
                        self.stopped[name] = repr(exc)
                        metrics.LANE_STOPPED.labels(name).set(1)
                        log.critical("lane stopped", lane=name, error=repr(exc), exc_info=exc)
                        return
                    log.warning("pass failed", lane=name, error=repr(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=interval)


async def timed(stage: str, work: Awaitable[None]) -> None:
    """Runs ``work``, its time in ``dari_stage_seconds`` under ``stage``."""
    started = time.perf_counter()
    try:
        await work
    finally:
        metrics.STAGE_SECONDS.labels(stage).observe(time.perf_counter() - started)


async def each_chain(chain_ids: Iterable[int], *stages: ChainStage) -> None:
    """Runs ``stages`` in order for every chain, the chains concurrently. A stage's transient or refused
    failure is logged (``dari_rpc_errors_total``) and left to the next pass, the chain's next stage and the
    other chains go on; a fatal one ends its chain's pass and is raised once every chain is done (it stops
    the lane)."""

    async def chain(chain_id: int) -> BaseException | None:
        for stage in stages:
            try:
                await stage(chain_id)
            except Exception as exc:
                if classify(exc) is Failure.FATAL:
                    return exc
                metrics.RPC_ERRORS.labels(str(chain_id)).inc()
                log.warning("stage failed", stage=getattr(stage, "__name__", "stage"), chain=chain_id, error=repr(exc))
        return None

    fatal = [e for e in await asyncio.gather(*(chain(c) for c in chain_ids)) if e is not None]
    if fatal:
        raise fatal[0]
