"""`ChainView` over plain JSON-RPC: the attestor's own connections to every chain (its own URLs), also
used by reconciliation.

Requests made in the same turn of the event loop for one chain travel as one JSON-RPC batch
(`ChainClient.request`: checks of a batch of sign requests run concurrently, so their reads coalesce);
each request keeps its own outcome. Transient faults are retried per request a few times (jittered,
capped in attempts and time), then surface as `ChainUnavailable`; a reverting view or a missing contract
is `Refused` (``view-failed``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

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
from relayer.evm.abi import Function, abi_of, checksum_address
from relayer.evm.artifacts import Artifacts
from relayer.evm.client import ChainClient, RevertDecoder, RpcError, RpcUnavailable

RPC_TIMEOUT = 5.0  # seconds per JSON-RPC request
RPC_ATTEMPTS = 3  # per chain read, on transient faults only
RPC_BUDGET = 8.0  # seconds all attempts of one chain read may take


class RpcChainView:
    """`ChainView` (and `relayer.reconcile.ChainReader`) over JSON-RPC; see the module docstring."""

    def __init__(
        self, urls: Mapping[int, str], artifacts: Artifacts, *, timeout: float = RPC_TIMEOUT, retry_wait: bool = True
    ) -> None:
        self._urls = dict(urls)
        self._artifacts = artifacts
        self._timeout = timeout
        self._retry_wait = retry_wait
        self._decoder = RevertDecoder.from_artifacts(artifacts)
        self._clients: dict[int, ChainClient] = {}

    async def close(self) -> None:
        for client in self._clients.values():
            await client.close()
        self._clients.clear()

    async def _once(self, chain_id: int, method: str, params: list[Any]) -> Any:
        """One attempt of one request, coalesced by the chain's client with whatever else this turn of the
        loop asks of the chain (`ChainClient.request`)."""
        url = self._urls.get(chain_id)
        if url is None:
            raise Refused("unknown-chain", f"chain {chain_id} is not configured")
        client = self._clients.get(chain_id)
        if client is None:
            client = self._clients[chain_id] = ChainClient(url, self._decoder, timeout=self._timeout)
        try:
            result = await client.request(method, params)
        except RpcUnavailable as exc:
            raise ChainUnavailable(f"{method} on chain {chain_id}: {exc}") from None
        if not isinstance(result, RpcError):
            return result
        if method == "eth_call" and (result.code == 3 or "revert" in result.message.lower()):
            raise Refused("view-failed", f"a view on chain {chain_id} reverted: {result.message}")
        raise ChainUnavailable(f"{method} on chain {chain_id}: {result.message}")

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
            abi = abi_of(self._artifacts, contract)
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
