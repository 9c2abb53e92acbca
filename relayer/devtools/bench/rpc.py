"""A bare JSON-RPC client: what the benchmark's minimal loops use instead of web3 (no middleware,
no gas estimation, no receipt polling per transaction)."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import aiohttp

from relayer.core.errors import DariError


class RpcFailed(DariError):
    """A node answered a JSON-RPC error."""


class Rpc:
    """One node over one HTTP session."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session, self.url = session, url
        self._ids = itertools.count(1)

    async def call(self, method: str, *params: Any) -> Any:
        body = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": list(params)}
        async with self.session.post(self.url, json=body) as response:
            answer = await response.json(content_type=None)
        if "error" in answer:
            raise RpcFailed(f"{method}: {answer['error']}")
        return answer["result"]

    async def send_raw(self, raw: bytes) -> str:
        return str(await self.call("eth_sendRawTransaction", "0x" + raw.hex()))

    async def nonce(self, address: str, block: str = "latest") -> int:
        return int(await self.call("eth_getTransactionCount", address, block), 16)

    async def batch(self, method: str, params: list[list[Any]]) -> list[Any]:
        """``method`` once per parameter list, as one JSON-RPC batch; the results in order."""
        body = [{"jsonrpc": "2.0", "id": i, "method": method, "params": p} for i, p in enumerate(params)]
        async with self.session.post(self.url, json=body) as response:
            answers = {a.get("id"): a for a in await response.json(content_type=None)}
        if any("error" in a for a in answers.values()) or len(answers) != len(params):
            raise RpcFailed(f"{method}: {[a.get('error') for a in answers.values() if 'error' in a][:1]}")
        return [answers[i]["result"] for i in range(len(params))]

    async def wait_receipt(self, tx_hash: str, timeout: float) -> tuple[float, dict[str, Any]]:
        """Polls until ``tx_hash`` has a receipt (a node may count a nonce before it stores the receipt);
        the perf_counter time it did and the receipt."""
        deadline = time.perf_counter() + timeout
        while (receipt := await self.call("eth_getTransactionReceipt", tx_hash)) is None:
            if time.perf_counter() > deadline:
                raise DariError(f"{self.url}: {tx_hash} not mined after {timeout} s")
            await asyncio.sleep(0.02)
        return time.perf_counter(), receipt

    async def wait_block(self, number: int, timeout: float) -> float:
        """Polls until the head reaches block ``number``; returns the perf_counter time it did."""
        deadline = time.perf_counter() + timeout
        while int(await self.call("eth_blockNumber"), 16) < number:
            if time.perf_counter() > deadline:
                raise DariError(f"{self.url}: block {number} not reached after {timeout} s")
            await asyncio.sleep(0.02)
        return time.perf_counter()

    async def wait_nonce(self, address: str, target: int, timeout: float) -> float:
        """Polls until ``address``'s mined nonce reaches ``target``; returns the perf_counter time it did."""
        deadline = time.perf_counter() + timeout
        while (mined := await self.nonce(address)) < target:
            if time.perf_counter() > deadline:
                raise DariError(f"{self.url}: {target - mined} transactions of {address} not mined after {timeout} s")
            await asyncio.sleep(0.02)
        return time.perf_counter()
