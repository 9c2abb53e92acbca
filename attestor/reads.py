"""The attestor's chain reads: the shared `RpcChainReads` over its own connections, with the transport's
failures turned into the attestor's own answers (`ChainUnavailable`: 503; a reverting or missing view, or a
chain it does not know: `Refused`, 409)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from attestor.errors import ChainUnavailable, Refused
from relayer.core.errors import RpcUnavailable
from relayer.edges.evm.client import ContractReverted
from relayer.edges.evm.reads import RpcChainReads, UnknownChain


class AttestorReads:
    """`ChainReads` over ``reads``, raising only `ChainUnavailable` and `Refused`."""

    def __init__(self, reads: RpcChainReads) -> None:
        self.reads = reads

    async def close(self) -> None:
        await self.reads.close()

    async def head(self, chain_id: int) -> int:
        try:
            return await self.reads.head(chain_id)
        except (RpcUnavailable, UnknownChain) as exc:
            raise _translated(exc) from None

    async def block_hash(self, chain_id: int, number: int) -> str | None:
        try:
            return await self.reads.block_hash(chain_id, number)
        except (RpcUnavailable, UnknownChain) as exc:
            raise _translated(exc) from None

    async def block_time(self, chain_id: int, number: int) -> int | None:
        try:
            return await self.reads.block_time(chain_id, number)
        except (RpcUnavailable, UnknownChain) as exc:
            raise _translated(exc) from None

    async def logs(
        self, chain_id: int, address: str, topics: Sequence[str | Sequence[str] | None], to_block: int
    ) -> list[Mapping[str, Any]]:
        try:
            return await self.reads.logs(chain_id, address, topics, to_block)
        except (RpcUnavailable, UnknownChain) as exc:
            raise _translated(exc) from None

    async def call(
        self, chain_id: int, contract: str, address: str, function: str, *args: Any, block: int | None = None
    ) -> Any:
        try:
            return await self.reads.call(chain_id, contract, address, function, *args, block=block)
        except (RpcUnavailable, UnknownChain, ContractReverted) as exc:
            raise _translated(exc) from None


def _translated(exc: RpcUnavailable | UnknownChain | ContractReverted) -> ChainUnavailable | Refused:
    if isinstance(exc, RpcUnavailable):
        return ChainUnavailable(str(exc))
    if isinstance(exc, UnknownChain):
        return Refused("unknown-chain", str(exc))
    return Refused("view-failed", str(exc))
