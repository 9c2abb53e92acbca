"""Lanes: a process's work as concurrent loops that act only while the process holds the leadership lease.

The lease is taken or renewed every third of its length by a task of its own, independent of how long a
lane's pass takes; a failed renewal (the database is down, say) lets it lapse, and the lanes stop acting
once it would have expired (by this process's own clock, so it stops in time). A lane runs its pass, then
again when woken (another lane handed it work) or after its interval; a transient failure is logged and
left to the next pass, anything else ends the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping

import aiohttp
import structlog
from sqlalchemy.exc import DBAPIError
from web3.exceptions import Web3Exception

from relayer import metrics
from relayer.errors import DariError
from relayer.lease import Lease

log = structlog.get_logger("lanes")

# What a pass may meet and the next pass retries: the network, a node (a JSON-RPC error answer is a
# Web3Exception), the database (a restart is a DBAPIError), or the package's own refusals.
TRANSIENT = (OSError, TimeoutError, DariError, aiohttp.ClientError, DBAPIError, Web3Exception)

Work = Callable[[], Awaitable[None]]


class Lanes:
    """Named lanes behind one lease."""

    def __init__(self, lease: Lease) -> None:
        self.lease = lease
        self._until = 0.0  # time.monotonic() until which this process may act
        self._wakes: dict[str, asyncio.Event] = {}

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
            except TRANSIENT as exc:
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
        while not stop.is_set():
            wake.clear()
            if self.leader:
                try:
                    await work()
                except TRANSIENT as exc:
                    log.warning("pass failed", lane=name, error=repr(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=interval)
