"""`ChainView` over plain JSON-RPC: the attestor's own connections to every chain (one aiohttp session,
its own URLs), also used by reconciliation.

Requests made in the same turn of the event loop for one chain travel as one JSON-RPC batch (checks of
a batch of sign requests run concurrently, so their reads coalesce); each request keeps its own
outcome. Transient faults are retried per request a few times (jittered, capped in attempts and time),
then surface as `ChainUnavailable`; a reverting view or a missing contract is `Refused` (``view-failed``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    wait_none,
    wait_random_exponential,
)

from relayer.attestor import ChainUnavailable, Refused
from relayer.errors import ArtifactsError, ConfigError
from relayer.evm.abi import Abi, Function, checksum_address
from relayer.evm.artifacts import Artifacts

RPC_TIMEOUT = 5.0  # seconds per JSON-RPC request
RPC_ATTEMPTS = 3  # per chain read, on transient faults only
RPC_BUDGET = 8.0  # seconds all attempts of one chain read may take
MAX_BATCH = 200  # requests per JSON-RPC batch


def _is_revert(error: Any) -> bool:
    if not isinstance(error, dict):
        return False
    return error.get("code") == 3 or "revert" in str(error.get("message", "")).lower()


@dataclass
class _Request:
    method: str
    params: list[Any]
    answer: asyncio.Future[Any]


def _settle(request: _Request, answer: Any, chain_id: int) -> None:
    """Resolves ``request`` with its JSON-RPC ``answer`` (None: the node gave none)."""
    where = f"{request.method} on chain {chain_id}"
    if not isinstance(answer, dict):
        request.answer.set_exception(ChainUnavailable(f"{where}: not a JSON-RPC answer"))
    elif "error" in answer:
        error = answer["error"]
        if request.method == "eth_call" and _is_revert(error):
            request.answer.set_exception(Refused("view-failed", f"a view on chain {chain_id} reverted: {error}"))
        else:
            request.answer.set_exception(ChainUnavailable(f"{where}: {error}"))
    else:
        request.answer.set_result(answer.get("result"))


class RpcChainView:
    """`ChainView` (and `relayer.reconcile.ChainReader`) over JSON-RPC; see the module docstring."""

    def __init__(
        self, urls: Mapping[int, str], artifacts: Artifacts, *, timeout: float = RPC_TIMEOUT, retry_wait: bool = True
    ) -> None:
        self._urls = dict(urls)
        self._artifacts = artifacts
        self._timeout = timeout
        self._retry_wait = retry_wait
        self._session: aiohttp.ClientSession | None = None
        self._abis: dict[str, Abi] = {}
        self._queued: dict[int, list[_Request]] = {}
        self._flushes: set[asyncio.Task[None]] = set()

    async def close(self) -> None:
        for task in list(self._flushes):
            task.cancel()
        await asyncio.gather(*self._flushes, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self._timeout))
        return self._session

    # --- transport: coalesced batches ------------------------------------------------------------------

    async def _once(self, chain_id: int, method: str, params: list[Any]) -> Any:
        """One attempt of one request, sent with whatever else this turn of the loop asks of the chain."""
        if chain_id not in self._urls:
            raise Refused("unknown-chain", f"chain {chain_id} is not configured")
        loop = asyncio.get_running_loop()
        request = _Request(method, params, loop.create_future())
        queue = self._queued.setdefault(chain_id, [])
        queue.append(request)
        if len(queue) == 1:
            loop.call_soon(self._start_flush, chain_id)
        return await request.answer

    def _start_flush(self, chain_id: int) -> None:
        queue = self._queued.pop(chain_id, [])
        for start in range(0, len(queue), MAX_BATCH):
            task = asyncio.ensure_future(self._send(chain_id, queue[start : start + MAX_BATCH]))
            self._flushes.add(task)
            task.add_done_callback(self._flushes.discard)

    async def _send(self, chain_id: int, requests: list[_Request]) -> None:
        """Posts ``requests`` (a bare request when alone, else a batch) and settles each one's future."""
        batch = [{"jsonrpc": "2.0", "id": i, "method": r.method, "params": r.params} for i, r in enumerate(requests)]
        what = requests[0].method if len(requests) == 1 else f"batch of {len(requests)} ({requests[0].method}, ...)"
        try:
            body = await self._post(self._urls[chain_id], batch[0] if len(batch) == 1 else batch)
        except ChainUnavailable as exc:
            self._fail(requests, ChainUnavailable(f"{what} on chain {chain_id}: {exc}"))
            return
        except asyncio.CancelledError:
            self._fail(requests, ChainUnavailable(f"{what} on chain {chain_id}: the view is closing"))
            raise
        if len(requests) == 1:  # a bare request: its answer, whatever id it carries
            by_id: dict[int, Any] = {0: body}
        elif isinstance(body, list):
            by_id = {a["id"]: a for a in body if isinstance(a, dict) and isinstance(a.get("id"), int)}
        else:
            by_id = {}
        for i, request in enumerate(requests):
            if not request.answer.done():
                _settle(request, by_id.get(i), chain_id)

    async def _post(self, url: str, payload: Any) -> Any:
        """The JSON answer to ``payload``; `ChainUnavailable` on any transport fault."""
        try:
            async with self._client().post(url, json=payload) as response:
                if response.status != 200:
                    raise ChainUnavailable(f"HTTP {response.status}")
                return await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise ChainUnavailable(f"{type(exc).__name__} {exc}") from None

    @staticmethod
    def _fail(requests: Sequence[_Request], error: ChainUnavailable) -> None:
        for request in requests:
            if not request.answer.done():
                request.answer.set_exception(error)

    async def _rpc(self, chain_id: int, method: str, params: list[Any]) -> Any:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(RPC_ATTEMPTS) | stop_after_delay(RPC_BUDGET),
            wait=wait_random_exponential(multiplier=0.1, max=1.0) if self._retry_wait else wait_none(),
            retry=retry_if_exception_type(ChainUnavailable),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._once(chain_id, method, params)
        raise ChainUnavailable(f"{method} on chain {chain_id}: no attempt made")  # pragma: no cover

    # --- the reads ---------------------------------------------------------------------------------------

    async def head(self, chain_id: int) -> int:
        result = await self._rpc(chain_id, "eth_blockNumber", [])
        try:
            return int(str(result), 16)
        except ValueError:
            raise ChainUnavailable(f"eth_blockNumber on chain {chain_id}: bad answer {result!r}") from None

    async def block_hash(self, chain_id: int, number: int) -> str | None:
        block = await self._rpc(chain_id, "eth_getBlockByNumber", [hex(number), False])
        if block is None:
            return None
        if not isinstance(block, dict) or not isinstance(block.get("hash"), str):
            raise ChainUnavailable(f"eth_getBlockByNumber on chain {chain_id}: bad answer")
        return str(block["hash"]).lower()

    async def logs(
        self, chain_id: int, address: str, topics: Sequence[str | Sequence[str] | None], to_block: int
    ) -> list[Mapping[str, Any]]:
        query = {"address": address, "topics": list(topics), "fromBlock": "0x0", "toBlock": hex(to_block)}
        result = await self._rpc(chain_id, "eth_getLogs", [query])
        if not isinstance(result, list) or not all(isinstance(entry, dict) for entry in result):
            raise ChainUnavailable(f"eth_getLogs on chain {chain_id}: bad answer")
        return result

    def _function(self, contract: str, function: str) -> Function:
        try:
            abi = self._abis.get(contract) or self._abis.setdefault(contract, Abi.of(self._artifacts.get(contract)))
            return abi[function]
        except ArtifactsError as exc:
            raise ConfigError("artifacts", [str(exc)]) from None

    async def call(self, chain_id: int, contract: str, address: str, function: str, *args: Any) -> Any:
        return await self._call(chain_id, "latest", contract, address, function, args)

    async def call_at(self, chain_id: int, block: int, contract: str, address: str, function: str, *args: Any) -> Any:
        """`call` in the state of ``block`` (reconciliation at finalized blocks)."""
        return await self._call(chain_id, hex(block), contract, address, function, args)

    async def _call(
        self, chain_id: int, block: str, contract: str, address: str, function: str, args: tuple[Any, ...]
    ) -> Any:
        view = self._function(contract, function)
        data = "0x" + view.encode(*args).hex()
        result = await self._rpc(chain_id, "eth_call", [{"to": address, "data": data}, block])
        try:
            raw = bytes.fromhex(str(result)[2:])
        except ValueError:
            raise ChainUnavailable(f"eth_call on chain {chain_id}: bad answer") from None
        if not raw and view.outputs:
            raise Refused("view-failed", f"no {contract} at {address} on chain {chain_id}")
        try:
            values = view.decode(raw)
        except Exception as exc:  # eth-abi raises several unrelated error types on short or junk data
            raise Refused("view-failed", f"{contract}.{function} at {address}: undecodable answer ({exc})") from None
        if len(view.outputs) == 1:
            return checksum_address(values) if view.outputs[0] == "address" else values
        return tuple(checksum_address(v) if t == "address" else v for t, v in zip(view.outputs, values, strict=True))
