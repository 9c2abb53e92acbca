"""A `ChainReads` that reads each distinct thing once: the chain as of one batch of sign requests, or of one
pass of the relayer's stages.

Every reader of one memo sees the same head and the same answers; the head is read once, so finality is
judged against a head no newer than the chain's (never optimistic). Concurrent identical reads share one
request; a failed read fails every sharer and is not retried (the transport retries, `relayer.failures`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from relayer.core.ports import ChainReads


class MemoReads:
    """Wraps ``reads``; use for one batch or pass, then drop."""

    def __init__(self, reads: ChainReads) -> None:
        self.reads = reads
        self._reads: dict[tuple[Any, ...], asyncio.Future[Any]] = {}

    async def _once(self, key: tuple[Any, ...], read: Callable[[], Awaitable[Any]]) -> Any:
        if key not in self._reads:
            self._reads[key] = asyncio.ensure_future(read())
        return await asyncio.shield(self._reads[key])

    async def head(self, chain_id: int) -> int:
        return int(await self._once(("head", chain_id), lambda: self.reads.head(chain_id)))

    async def block_hash(self, chain_id: int, number: int) -> str | None:
        found = await self._once(("block", chain_id, number), lambda: self.reads.block_hash(chain_id, number))
        return None if found is None else str(found)

    async def block_time(self, chain_id: int, number: int) -> int | None:
        found = await self._once(("time", chain_id, number), lambda: self.reads.block_time(chain_id, number))
        return None if found is None else int(found)

    async def logs(
        self, chain_id: int, address: str, topics: Sequence[str | Sequence[str] | None], to_block: int
    ) -> list[Mapping[str, Any]]:
        key = ("logs", chain_id, address.lower(), repr(topics), to_block)
        return list(await self._once(key, lambda: self.reads.logs(chain_id, address, topics, to_block)))

    async def call(
        self, chain_id: int, contract: str, address: str, function: str, *args: Any, block: int | None = None
    ) -> Any:
        key = ("call", chain_id, block, contract, address.lower(), function, repr(args))
        return await self._once(key, lambda: self.reads.call(chain_id, contract, address, function, *args, block=block))
