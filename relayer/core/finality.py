"""Finality, pure: which blocks a watcher reads next, where a remembered chain and the canonical one part
(the fork point), whether an event is final, which block's state is final, and what one poll saw. No I/O,
no clock.

Block hashes are compared as given: callers pass lowercase ``0x`` hex (``decode_log`` and the
watcher's header parsing both produce it).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Literal

from relayer.core.errors import DariError, Failure
from relayer.core.events import LogRef, WatchedEvent

REORG_MARGIN = 64
"""Blocks remembered beyond a chain's confirmations: the deepest reorg the watcher can unwind is
``confirmations + REORG_MARGIN`` blocks."""


class ReorgTooDeep(DariError):
    """Every remembered block hash is no longer canonical: the reorg is deeper than the window, so
    events already reported final may be gone. Fatal: an operator must look before anything moves."""

    failure = Failure.FATAL

    def __init__(self, lowest: int, chain_id: int | None = None) -> None:
        self.lowest = lowest
        self.chain_id = chain_id
        where = "" if chain_id is None else f"chain {chain_id}: "
        super().__init__(f"{where}reorg reaches block {lowest}, the oldest remembered block hash")


@dataclass(frozen=True)
class Header:
    """The part of a block header the watcher needs."""

    number: int
    hash: str
    parent_hash: str


@dataclass(frozen=True)
class Span:
    """One ``eth_getLogs`` range ``[start, end]``; the hashes of ``[keep_from, end]`` are fetched
    alongside and remembered (the part within the reorg window, and at least ``end``, the new cursor)."""

    start: int
    end: int
    keep_from: int


def window(confirmations: int) -> int:
    """How many recent block hashes a chain with ``confirmations`` keeps."""
    return confirmations + REORG_MARGIN


def next_span(next_block: int, head: int, max_range: int, keep: int) -> Span | None:
    """The next range to read from ``next_block`` with at most ``max_range`` blocks and never past
    ``head``; None when caught up. ``keep`` is the window: hashes of blocks above ``head - keep`` are kept."""
    if max_range < 1 or keep < 1:
        raise ValueError("max_range and the window must be at least 1")
    if next_block > head:
        return None
    end = min(head, next_block + max_range - 1)
    return Span(next_block, end, min(end, max(next_block, head - keep + 1)))


def linked(headers: Sequence[Header], parent_hash: str | None) -> bool:
    """Whether ``headers`` are consecutive blocks, each the parent of the next, and the first a child
    of ``parent_hash`` (when given). False means the chain changed while it was being read."""
    if headers and parent_hash is not None and headers[0].parent_hash != parent_hash:
        return False
    return all(b.number == a.number + 1 and b.parent_hash == a.hash for a, b in pairwise(headers))


def fork_point(stored: Mapping[int, str], canonical: Mapping[int, str | None]) -> int | None:
    """Where a reorg forked off the remembered chain.

    ``stored``: remembered hashes by height (gaps allowed); ``canonical``: the chain's hashes now at
    those heights (missing or None: no block there any more, the chain got shorter). Returns None when
    every remembered hash is still canonical; otherwise the highest remembered height below the lowest
    changed one, the last block both chains share (a hash commits to its ancestors, so everything at or
    below it is unchanged). Raises `ReorgTooDeep` when even the lowest remembered hash changed.
    """
    changed = [height for height, block_hash in stored.items() if canonical.get(height) != block_hash]
    if not changed:
        return None
    lowest = min(changed)
    shared = [height for height in stored if height < lowest]
    if not shared:
        raise ReorgTooDeep(lowest)
    return max(shared)


def is_final(
    block_number: int, block_hash: str, canonical_hash: str | None, head: int, confirmations: int
) -> bool | None:
    """An event's finality: False when its block is no longer canonical (reorged out: drop it), None
    while it is canonical but fewer than ``confirmations`` blocks deep, True when it is canonical and
    ``head - block_number >= confirmations``. With zero confirmations a canonical event is final at once."""
    if canonical_hash is None or canonical_hash != block_hash:
        return False
    return True if head - block_number >= confirmations else None


def final_block(head: int, confirmations: int) -> int | Literal["latest"]:
    """The newest block whose state is final at ``head``: ``"latest"`` with zero confirmations."""
    return "latest" if confirmations == 0 else max(head - confirmations, 0)


Record = Callable[[list[WatchedEvent]], Awaitable[None]]
"""Takes a poll's newly observed events before the watcher's cursor moves past them."""


@dataclass(frozen=True)
class Poll:
    """What one poll of a chain watcher saw.

    ``observed``: events newly seen at any depth, in chain order. ``head``: the chain head.
    ``safe_block``: ``head - confirmations`` (events at or below it are final while their block hash
    is canonical; may be negative on a young chain). ``scanned_to``: the cursor after this poll; poll
    again at once while it is below ``head``. ``reorged_from``: the fork point when a reorg was found
    this poll; ``reorged``: the events this watcher had reported above it (their blocks are gone:
    drop them; those re-included elsewhere are in ``observed`` again with their new position). After a
    restart the watcher has forgotten earlier reports: check held events with its ``finality``.
    """

    observed: list[WatchedEvent]
    head: int
    safe_block: int
    scanned_to: int
    reorged_from: int | None = None
    reorged: list[LogRef] = field(default_factory=list)
