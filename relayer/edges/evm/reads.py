"""`ChainReads` over JSON-RPC: raw reads of every configured chain through one `ChainClient` per chain (the
attestor's own connections, or the relayer's), used by the attestors' checks, reconciliation and the
relayer's typed contract views (`relayer.edges.evm.views`).

Requests made in the same turn of the event loop for one chain travel as one JSON-RPC batch
(`ChainClient.request`: checks of a batch of sign requests run concurrently, so their reads coalesce);
each request keeps its own outcome. Transient faults are retried by the client at the call, then surface
as `RpcUnavailable`; a reverting view, a missing contract or an undecodable answer is `ContractReverted`,
a chain that is not configured `UnknownChain`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from relayer.core.errors import DariError, RpcUnavailable
from relayer.edges.evm.abi import Function, abi_of, checksum_address
from relayer.edges.evm.artifacts import Artifacts
from relayer.edges.evm.client import ChainClient, ContractReverted, RevertDecoder, RpcError, quantity

RPC_TIMEOUT = 5.0  # seconds per JSON-RPC request


class UnknownChain(DariError):
    """A read of a chain that is not configured."""


class RpcChainReads:
    """`ChainReads` over JSON-RPC; see the module docstring."""

    def __init__(
        self,
        urls: Mapping[int, str],
        artifacts: Artifacts,
        *,
        timeout: float = RPC_TIMEOUT,
        clients: Mapping[int, ChainClient] | None = None,
    ) -> None:
        """``urls``: chain id -> JSON-RPC URL; ``clients``: connections to use instead of opening new ones (the
        relayer's own; they are not closed here)."""
        self._urls = dict(urls)
        self._artifacts = artifacts
        self._timeout = timeout
        self._decoder = RevertDecoder.from_artifacts(artifacts)
        self._shared = dict(clients or {})
        self._clients: dict[int, ChainClient] = {}

    async def close(self) -> None:
        for client in self._clients.values():
            await client.close()
        self._clients.clear()

    def _client(self, chain_id: int) -> ChainClient:
        if chain_id in self._shared:
            return self._shared[chain_id]
        url = self._urls.get(chain_id)
        if url is None:
            raise UnknownChain(f"chain {chain_id} is not configured")
        if chain_id not in self._clients:
            self._clients[chain_id] = ChainClient(url, self._decoder, timeout=self._timeout)
        return self._clients[chain_id]

    async def _rpc(self, chain_id: int, method: str, params: list[Any]) -> Any:
        """One request, coalesced by the chain's client with whatever else this turn of the loop asks of
        the chain (`ChainClient.request`)."""
        result = await self._client(chain_id).request(method, params)
        if not isinstance(result, RpcError):
            return result
        if method == "eth_call" and (result.code == 3 or "revert" in result.message.lower()):
            raise ContractReverted("Error", (f"a view on chain {chain_id} reverted: {result.message}",))
        raise RpcUnavailable(method, f"chain {chain_id}: {result.message}", result.code)

    # --- the reads ---------------------------------------------------------------------------------------

    async def head(self, chain_id: int) -> int:
        result = await self._rpc(chain_id, "eth_blockNumber", [])
        try:
            return int(str(result), 16)
        except ValueError:
            raise RpcUnavailable("eth_blockNumber", f"chain {chain_id}: bad answer {result!r}") from None

    async def _block(self, chain_id: int, number: int) -> dict[str, Any] | None:
        block = await self._rpc(chain_id, "eth_getBlockByNumber", [hex(number), False])
        if block is None:
            return None
        if not isinstance(block, dict) or not isinstance(block.get("hash"), str):
            raise RpcUnavailable("eth_getBlockByNumber", f"chain {chain_id}: bad answer")
        return block

    async def block_hash(self, chain_id: int, number: int) -> str | None:
        block = await self._block(chain_id, number)
        return None if block is None else str(block["hash"]).lower()

    async def block_time(self, chain_id: int, number: int) -> int | None:
        block = await self._block(chain_id, number)
        return None if block is None else quantity("eth_getBlockByNumber", block.get("timestamp"))

    async def logs(
        self, chain_id: int, address: str, topics: Sequence[str | Sequence[str] | None], to_block: int
    ) -> list[Mapping[str, Any]]:
        query = {"address": address, "topics": list(topics), "fromBlock": "0x0", "toBlock": hex(to_block)}
        result = await self._rpc(chain_id, "eth_getLogs", [query])
        if not isinstance(result, list) or not all(isinstance(entry, dict) for entry in result):
            raise RpcUnavailable("eth_getLogs", f"chain {chain_id}: bad answer")
        return result

    def _function(self, contract: str, function: str) -> Function:
        return abi_of(self._artifacts, contract)[function]

    async def call(
        self, chain_id: int, contract: str, address: str, function: str, *args: Any, block: int | None = None
    ) -> Any:
        view = self._function(contract, function)
        data = "0x" + view.encode(*args).hex()
        tag = "latest" if block is None else hex(block)
        result = await self._rpc(chain_id, "eth_call", [{"to": address, "data": data}, tag])
        try:
            raw = bytes.fromhex(str(result)[2:])
        except ValueError:
            raise RpcUnavailable("eth_call", f"chain {chain_id}: bad answer") from None
        if not raw and view.outputs:
            raise ContractReverted("NoContract", (contract, address, chain_id))
        try:
            values = view.decode(raw)
        except Exception as exc:  # eth-abi raises several unrelated error types on short or junk data
            raise ContractReverted("Undecodable", (f"{contract}.{function} at {address}", str(exc))) from None
        if len(view.outputs) == 1:
            return checksum_address(values) if view.outputs[0] == "address" else values
        return tuple(checksum_address(v) if t == "address" else v for t, v in zip(view.outputs, values, strict=True))
