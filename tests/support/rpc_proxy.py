"""A loopback JSON-RPC fault proxy: in front of one node URL, it drops, delays or fails a seeded share of
requests and forwards the rest unchanged.

Faults, drawn per request from a seeded RNG:

- drop: the connection is closed without an answer; half of the dropped requests reach the node first
  (the answer is lost: a transaction may be broadcast although its sender saw a failure);
- delay: the request is held 50–500 ms, then forwarded;
- error: an HTTP 502, or a JSON-RPC error object (one per request of a batch), without forwarding.

Runs in the caller's event loop (`start` / `stop`, or ``async with``), bound to 127.0.0.1 on a free port.
"""

from __future__ import annotations

import asyncio
import json
import random
import socket
from collections import Counter
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

DELAY_SECONDS = (0.05, 0.5)
FAULT_CODE = -32603


@dataclass(frozen=True)
class Faults:
    """Shares of requests (each 0..1, summing to at most 1) that are dropped, delayed or failed."""

    drop: float = 0.0
    delay: float = 0.0
    error: float = 0.0

    def __post_init__(self) -> None:
        shares = (self.drop, self.delay, self.error)
        if any(s < 0 for s in shares) or sum(shares) > 1:
            raise ValueError(f"fault shares must be non-negative and sum to at most 1: {shares}")


NONE = Faults()


class RpcFaultProxy:
    """One proxy for one upstream JSON-RPC URL; ``counts`` tallies what it did, by fault."""

    def __init__(self, upstream: str, faults: Faults = NONE, *, seed: int = 0) -> None:
        self.upstream = upstream
        self.faults = faults
        self.counts: Counter[str] = Counter()
        self._rng = random.Random(seed)
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.url = ""

    async def start(self) -> str:
        """Starts listening on a free loopback port; returns the proxy's URL."""
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        app = web.Application()
        app.router.add_post("/", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        await web.SockSite(self._runner, sock).start()
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def __aenter__(self) -> RpcFaultProxy:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    def _draw(self) -> str:
        roll = self._rng.random()
        for name, share in (("drop", self.faults.drop), ("delay", self.faults.delay), ("error", self.faults.error)):
            if roll < share:
                return name
            roll -= share
        return "forward"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        fault = self._draw()
        self.counts[fault] += 1
        if fault == "drop":
            if self._rng.random() < 0.5:
                await self._forward(body)  # the node acts; the answer is lost
            return _hang_up(request)
        if fault == "error":
            return _error(body, http=self._rng.random() < 0.5)
        if fault == "delay":
            await asyncio.sleep(self._rng.uniform(*DELAY_SECONDS))
        status, answer = await self._forward(body)
        return web.Response(status=status, body=answer, content_type="application/json")

    async def _forward(self, body: bytes) -> tuple[int, bytes]:
        assert self._session is not None
        async with self._session.post(
            self.upstream, data=body, headers={"Content-Type": "application/json"}
        ) as response:
            return response.status, await response.read()


def _hang_up(request: web.Request) -> web.StreamResponse:
    """Closes the connection without an answer (the client sees a disconnect)."""
    if request.transport is not None:
        request.transport.abort()
    return web.Response(status=499)  # never written: the transport is gone


def _error(body: bytes, *, http: bool) -> web.Response:
    """An HTTP 502, or a JSON-RPC error answer to each request in ``body``."""
    if http:
        return web.Response(status=502, text="injected bad gateway")
    try:
        parsed: Any = json.loads(body)
    except ValueError:
        parsed = {}
    requests = parsed if isinstance(parsed, list) else [parsed]
    errors = [
        {"jsonrpc": "2.0", "id": r.get("id") if isinstance(r, dict) else None,
         "error": {"code": FAULT_CODE, "message": "injected fault"}}
        for r in requests
    ]  # fmt: skip
    return web.json_response(errors if isinstance(parsed, list) else errors[0])
