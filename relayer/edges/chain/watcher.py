"""The per-chain watcher (`relayer.core.ports.ChainWatcher`): reads the relayer's events with raw
``eth_getLogs`` from a persisted cursor, up to the chain head, and tells which of them are final and which
a reorg took away.

One watcher per chain (the cursor is keyed by chain id); the relayer daemon calls `Watcher.poll` in a
loop. Each poll:

1. asks for the head and the header at the cursor in one batch. If the cursor's block hash is no longer
   canonical, a reorg happened below the cursor: the remembered hashes (table ``block_hashes``) are
   compared with the chain's (one batch) to find the fork point (`relayer.core.finality.fork_point`); the
   cursor is rewound there and the events this watcher reported above it are returned as ``reorged``;
2. reads the next range (at most ``max_range`` blocks, never past the head) with ``eth_getLogs`` and,
   in the same batch, the headers of the range's part within the reorg window. The headers must chain
   by ``parentHash`` from the cursor and every event's block hash must match its header, otherwise the
   chain moved while it was read and the poll reports nothing (the next poll sees the reorg);
3. remembers those hashes (pruned to the window), hands the events to the caller's ``record`` and only
   then advances the cursor.

Finality is separate from observation: an event is final when its block hash is still canonical and
``head - block_number >= confirmations`` (`Watcher.is_final`; ``Poll.safe_block``). Delivery is
at-least-once: a crash (or a failed ``record``) before the cursor advances reports that range again, so
consumers key events by (chain, tx hash, log index, block hash).

Errors: `RpcUnavailable` (transient), `ReorgTooDeep` (fatal), `relayer.edges.evm.logs.EventDecodeError`
(a watched contract emitted a malformed known event: fatal, the cursor does not move past it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from relayer.core.config import ChainConfig, Config
from relayer.core.constants import (
    ADDRESS_FROZEN,
    BRIDGE_BACK,
    BRIDGE_OUT,
    INVESTOR_REVOKED,
    WALLET_LINKED,
    WALLET_UNLINKED,
)
from relayer.core.errors import RpcUnavailable
from relayer.core.events import WATCHED, LogRef, WatchedEvent
from relayer.core.finality import Header, Poll, Record, ReorgTooDeep, Span, fork_point, linked, next_span
from relayer.core.finality import is_final as verdict
from relayer.core.finality import window as default_window
from relayer.edges.db.cursors import Cursor, CursorStore
from relayer.edges.db.schema import block_hashes
from relayer.edges.evm.client import ChainClient, quantity
from relayer.edges.evm.logs import decode_log

DEFAULT_MAX_RANGE = 2000
HEADERS_PER_BATCH = 100


def watched(config: Config, chain: ChainConfig) -> tuple[list[str], list[str]]:
    """The contracts and event topics the relayer watches on ``chain``: on the registry the escrow, the
    wallet links, the investor registry and every security's token (bridge-outs, links and unlinks, KYC
    revocations, freezes); on a public chain its gateway (bridge-backs)."""
    if chain is not config.registry:
        return ([chain.contracts["gateway"]] if "gateway" in chain.contracts else []), [BRIDGE_BACK]
    names = ("escrow", "walletLinks", "investorRegistry")
    tokens = [s.registry_token for s in config.securities if s.registry_token]
    addresses = [chain.contracts[n] for n in names if n in chain.contracts] + tokens
    return addresses, [BRIDGE_OUT, WALLET_LINKED, WALLET_UNLINKED, INVESTOR_REVOKED, ADDRESS_FROZEN]


class Watcher:
    """Reads ``topics`` (topic0 values; empty: every topic) emitted by ``addresses`` on one chain."""

    def __init__(
        self,
        chain: ChainConfig,
        client: ChainClient,
        engine: AsyncEngine,
        addresses: Sequence[str],
        topics: Sequence[str],
        *,
        max_range: int = DEFAULT_MAX_RANGE,
        window: int | None = None,
        start_block: int = 0,
    ) -> None:
        """``max_range``: blocks per ``eth_getLogs``; ``window``: recent block hashes kept (default
        ``confirmations + 64``; must exceed ``confirmations``); ``start_block``: where the first run
        starts (the contracts' deployment block) when no cursor is stored yet."""
        if not addresses:
            raise ValueError("a watcher needs at least one contract address")
        if max_range < 1:
            raise ValueError("max_range must be at least 1")
        keep = default_window(chain.confirmations) if window is None else window
        if keep <= chain.confirmations:
            raise ValueError(f"window {keep} must exceed the chain's {chain.confirmations} confirmations")
        self._chain_id = chain.chain_id
        self._confirmations = chain.confirmations
        self._client = client
        self._engine = engine
        self._cursors = CursorStore(engine)
        self._filter: dict[str, Any] = {"address": [a.lower() for a in addresses]}
        if topics:
            self._filter["topics"] = [[t.lower() for t in topics]]
        self._max_range = max_range
        self._window = keep
        self._start_block = start_block
        self._reported: list[LogRef] = []  # observed events still within the window, for `Poll.reorged`
        self._lock = asyncio.Lock()

    # --- public API ------------------------------------------------------------------------------

    async def poll(self, record: Record | None = None) -> Poll:
        """Detects a reorg below the cursor, then reads the next range of blocks (see the module docstring).
        ``record``, when given, receives the newly observed events before the cursor moves past them: if it
        raises (or the process dies in it), the cursor stays and the next poll reads them again."""
        async with self._lock:
            cursor = await self._cursors.get(self._chain_id)
            head, at_cursor = await self._head(cursor)
            reorged_from: int | None = None
            reorged: list[LogRef] = []
            if cursor is not None and (at_cursor is None or at_cursor.hash != cursor.block_hash):
                rewound = await self._unwind(cursor)
                if rewound is not None:
                    cursor = rewound
                    reorged_from = rewound.block_number
                    reorged = [r for r in self._reported if r.block_number > reorged_from]
                    self._reported = [r for r in self._reported if r.block_number <= reorged_from]
            observed, cursor = await self._scan(cursor, head, record)
            self._reported = [r for r in self._reported if r.block_number > head - self._window]
            self._reported += [e.ref for e in observed]
            scanned_to = self._start_block - 1 if cursor is None else cursor.block_number
            return Poll(observed, head, head - self._confirmations, scanned_to, reorged_from, reorged)

    async def is_final(self, ref: LogRef, head: int) -> bool | None:
        """True: final (canonical and ``confirmations`` deep at ``head``); False: its block is no longer
        canonical (reorged out); None: canonical but not deep enough yet."""
        [verdict] = await self.finality([ref], head)
        return verdict

    async def finality(self, refs: Sequence[LogRef], head: int) -> list[bool | None]:
        """`is_final` for many events, with one batch of header requests."""
        if any(r.chain_id != self._chain_id for r in refs):
            raise ValueError(f"this watcher reads chain {self._chain_id} only")
        canonical = await self._canonical({r.block_number for r in refs})
        return [
            verdict(r.block_number, r.block_hash.lower(), canonical[r.block_number], head, self._confirmations)
            for r in refs
        ]

    # --- steps -----------------------------------------------------------------------------------

    async def _head(self, cursor: Cursor | None) -> tuple[int, Header | None]:
        calls: list[tuple[str, list[Any]]] = [("eth_blockNumber", [])]
        if cursor is not None:
            calls.append(_get_header(cursor.block_number))
        answers = await self._batch(calls)
        head = quantity("eth_blockNumber", answers[0])
        return head, (None if cursor is None else _header(answers[1]))

    async def _unwind(self, cursor: Cursor) -> Cursor | None:
        """Finds the fork point below ``cursor`` and rewinds there; None when the chain turned out
        unchanged after all (it switched back while being read)."""
        stored = await self._remembered(cursor)
        canonical = await self._canonical(stored)
        try:
            fork = fork_point(stored, canonical)
        except ReorgTooDeep as exc:
            raise ReorgTooDeep(exc.lowest, self._chain_id) from None
        if fork is None:
            return None
        rewound = Cursor(self._chain_id, fork, stored[fork])
        await self._cursors.advance(rewound, rewind=True)
        async with self._engine.begin() as conn:
            await conn.execute(delete(block_hashes).where(*self._rows(), block_hashes.c.block_number > fork))
        return rewound

    async def _scan(
        self, cursor: Cursor | None, head: int, record: Record | None
    ) -> tuple[list[WatchedEvent], Cursor | None]:
        """Reads the next span; returns its events and the new cursor (unchanged when nothing was read)."""
        next_block = self._start_block if cursor is None else cursor.block_number + 1
        span = next_span(next_block, head, self._max_range, self._window)
        if span is None:
            return [], cursor
        heights = list(range(span.keep_from, span.end + 1))
        logs, found = await self._logs_and_headers(span, heights)
        headers = [h for h in found if h is not None]
        parent = cursor.block_hash if cursor is not None and span.keep_from == span.start else None
        if len(headers) != len(heights) or not linked(headers, parent):
            return [], cursor  # the chain changed while we read it: the next poll sorts it out
        known = {h.number: h.hash for h in headers}
        events: list[WatchedEvent] = []
        for log in logs:
            if log.get("removed") is True:
                continue
            event = decode_log(self._chain_id, log)
            if not isinstance(event, WATCHED):
                continue
            ref = event.ref
            if (
                not span.start <= ref.block_number <= span.end
                or known.get(ref.block_number, ref.block_hash) != ref.block_hash
            ):
                return [], cursor  # logs from another fork than the headers
            events.append(event)
        events.sort(key=lambda e: (e.ref.block_number, e.ref.log_index))
        advanced = Cursor(self._chain_id, span.end, known[span.end])
        await self._remember(span, headers, head)
        if record is not None:
            await record(events)
        await self._cursors.advance(advanced)
        return events, advanced

    # --- block hashes ----------------------------------------------------------------------------

    def _rows(self) -> tuple[Any, ...]:
        return (block_hashes.c.chain_id == self._chain_id,)

    async def _remembered(self, cursor: Cursor) -> dict[int, str]:
        """Remembered hashes at or below the cursor, the cursor's own included."""
        query = select(block_hashes.c.block_number, block_hashes.c.block_hash).where(
            *self._rows(), block_hashes.c.block_number <= cursor.block_number
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        stored = {int(r.block_number): str(r.block_hash) for r in rows}
        stored[cursor.block_number] = cursor.block_hash
        return stored

    async def _remember(self, span: Span, headers: Sequence[Header], head: int) -> None:
        """Stores the span's kept hashes (replacing rows left above the cursor by a crash or a rewind)
        and forgets those older than the window, keeping the new cursor's."""
        oldest = min(span.end, head - self._window + 1)
        async with self._engine.begin() as conn:
            await conn.execute(
                delete(block_hashes).where(
                    *self._rows(), (block_hashes.c.block_number >= span.start) | (block_hashes.c.block_number < oldest)
                )
            )
            await conn.execute(
                block_hashes.insert(),
                [{"chain_id": self._chain_id, "block_number": h.number, "block_hash": h.hash} for h in headers],
            )

    # --- JSON-RPC --------------------------------------------------------------------------------

    async def _logs_and_headers(
        self, span: Span, heights: Sequence[int]
    ) -> tuple[list[dict[str, Any]], list[Header | None]]:
        """``eth_getLogs`` over the span and the headers at ``heights``, the logs in the first batch."""
        query = {**self._filter, "fromBlock": hex(span.start), "toBlock": hex(span.end)}
        first = [_get_header(h) for h in heights[: HEADERS_PER_BATCH - 1]]
        answers = await self._batch([("eth_getLogs", [query]), *first])
        logs = answers[0]
        if not isinstance(logs, list) or not all(isinstance(log, dict) for log in logs):
            raise RpcUnavailable("eth_getLogs", "answer is not a list of logs")
        headers = [_header(a) for a in answers[1:]]
        headers += await self._headers(heights[HEADERS_PER_BATCH - 1 :])
        return logs, headers

    async def _canonical(self, heights: Iterable[int]) -> dict[int, str | None]:
        """The chain's block hash at each of ``heights`` (None: no block there)."""
        ordered = sorted(set(heights))
        found = await self._headers(ordered)
        return {h: None if b is None else b.hash for h, b in zip(ordered, found, strict=True)}

    async def _headers(self, heights: Sequence[int]) -> list[Header | None]:
        """Headers at ``heights`` (None where there is no block), in batches."""
        found: list[Header | None] = []
        for i in range(0, len(heights), HEADERS_PER_BATCH):
            answers = await self._batch([_get_header(h) for h in heights[i : i + HEADERS_PER_BATCH]])
            found += [_header(a) for a in answers]
        return found

    async def _batch(self, calls: Sequence[tuple[str, list[Any]]]) -> list[Any]:
        """One JSON-RPC batch request; the results in call order. Any failure is `RpcUnavailable`."""
        return await self._client.batch_results(calls)


def _get_header(number: int) -> tuple[str, list[Any]]:
    return ("eth_getBlockByNumber", [hex(number), False])


def _header(value: object) -> Header | None:
    """A header from an ``eth_getBlockByNumber`` answer; None when the block does not exist."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise RpcUnavailable("eth_getBlockByNumber", "answer is not a block")
    block_hash, parent = value.get("hash"), value.get("parentHash")
    if not isinstance(block_hash, str) or not isinstance(parent, str):
        raise RpcUnavailable("eth_getBlockByNumber", "block without hash or parentHash")
    return Header(quantity("eth_getBlockByNumber", value.get("number")), block_hash.lower(), parent.lower())
