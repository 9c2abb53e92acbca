"""The reconciliation facts read off the chains (`relayer.edges.evm.supply`) over a fake chain: at finalized
blocks, only final blocks of every chain, a release read before its burn read again."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from eth_abi.abi import encode

from relayer.core.constants import BRIDGE_BACK, BRIDGE_OUT, MINTED, REFUNDED, RELEASED
from relayer.core.reconcile import (
    BadBlocks,
    BlocksNotFinal,
    Finding,
    GatewayRef,
    Layout,
)
from relayer.edges.evm.supply import facts_at, finalized_blocks, observe, recompute
from tests.core.test_reconcile import ESCROW, ETH, GATEWAYS, HOLDER, OTHER_TOKEN, REG, ROLL, SID, TOKEN, WRAPPED

# --- a fake chain ------------------------------------


def _word(value: int | str) -> str:
    number = int(value, 16) if isinstance(value, str) else value
    return "0x" + number.to_bytes(32, "big").hex()


def _log(address: str, block: int, topics: list[str], data: bytes = b"", removed: bool = False) -> dict[str, Any]:
    position = {"blockNumber": hex(block), "blockHash": f"0x{block:064x}", "logIndex": "0x0"}
    return {"address": address, **position, "transactionHash": "0x" + "ab" * 32, "topics": topics,
            "data": "0x" + data.hex(), "removed": removed}  # fmt: skip


def bridge_out(nonce: int, block: int, amount: int, dest: int, token: str = TOKEN) -> dict[str, Any]:
    data = encode(["uint256", "uint256", "address"], [amount, dest, HOLDER])
    return _log(ESCROW, block, [BRIDGE_OUT, _word(nonce), _word(token), _word(HOLDER)], data)


def minted(chain: int, nonce: int, block: int, amount: int, source: int = REG) -> dict[str, Any]:
    data = encode(["address", "uint256"], [HOLDER, amount])
    return _log(GATEWAYS[chain], block, [MINTED, _word(source), _word(nonce), _word(WRAPPED[chain])], data)


def burned(chain: int, nonce: int, block: int, amount: int, removed: bool = False) -> dict[str, Any]:
    data = encode(["uint256", "address"], [amount, HOLDER])
    topics = [BRIDGE_BACK, _word(nonce), _word(WRAPPED[chain]), _word(HOLDER)]
    return _log(GATEWAYS[chain], block, topics, data, removed)


def released(chain: int, nonce: int, block: int, amount: int) -> dict[str, Any]:
    data = encode(["address", "uint256"], [HOLDER, amount])
    return _log(ESCROW, block, [RELEASED, _word(chain), _word(nonce), _word(TOKEN)], data)


def refunded(nonce: int, block: int) -> dict[str, Any]:
    return _log(ESCROW, block, [REFUNDED, _word(nonce)], encode(["uint16"], [1]))


class FakeChains:
    """A `ChainReads`: heads, logs filtered like eth_getLogs, and views whose value changes at blocks."""

    def __init__(self, heads: dict[int, int], logs: dict[int, list[dict[str, Any]]],
                 views: dict[tuple[int, str, str, tuple[Any, ...]], list[tuple[int, Any]]]) -> None:  # fmt: skip
        self.heads, self._logs, self.views = heads, logs, views

    async def head(self, chain_id: int) -> int:
        return self.heads[chain_id]

    async def block_hash(self, chain_id: int, number: int) -> str | None:
        return f"0x{number:064x}" if number <= self.heads[chain_id] else None

    async def block_time(self, chain_id: int, number: int) -> int | None:
        return 1_700_000_000 + number if number <= self.heads[chain_id] else None

    async def logs(
        self, chain_id: int, address: str, topics: Sequence[str | Sequence[str] | None], to_block: int
    ) -> list[Mapping[str, Any]]:
        def matches(log: dict[str, Any]) -> bool:
            wanted = zip(topics, log["topics"], strict=False)
            return log["address"] == address.lower() and all(
                t is None or (got == t if isinstance(t, str) else got in t) for t, got in wanted
            )

        return [g for g in self._logs.get(chain_id, []) if matches(g) and int(g["blockNumber"], 16) <= to_block]

    async def call(
        self, chain_id: int, contract: str, address: str, function: str, *args: Any, block: int | None = None
    ) -> Any:
        history = self.views[(chain_id, address.lower(), function, args)]
        at = self.heads[chain_id] if block is None else block
        return [value for since, value in history if since <= at][-1]


def scenario() -> FakeChains:
    """Every transfer state on two chains, plus events the reads must leave out (another token, another
    source chain, a removed log, a burn after the finalized block)."""
    logs = {
        REG: [bridge_out(1, 10, 10, ETH), bridge_out(2, 11, 5, ROLL), bridge_out(3, 12, 7, ETH), refunded(3, 13),
              bridge_out(4, 14, 2, ETH), bridge_out(9, 15, 50, ETH, OTHER_TOKEN), refunded(9, 16),
              released(ETH, 1, 40, 3)],
        ETH: [minted(ETH, 1, 20, 10), burned(ETH, 1, 25, 3), minted(ETH, 4, 26, 2, source=999),
              burned(ETH, 2, 27, 1, removed=True)],
        ROLL: [minted(ROLL, 2, 30, 5), burned(ROLL, 1, 58, 1), burned(ROLL, 2, 59, 1)],
    }  # fmt: skip
    views: dict[tuple[int, str, str, tuple[Any, ...]], list[tuple[int, Any]]] = {
        (REG, ESCROW, "tokenOf", (SID,)): [(0, TOKEN)],
        (REG, ESCROW, "lockedBalance", (TOKEN,)): [(0, 0), (14, 17), (40, 14)],
        (ETH, GATEWAYS[ETH], "wrappedToken", (SID,)): [(0, WRAPPED[ETH])],
        (ROLL, GATEWAYS[ROLL], "wrappedToken", (SID,)): [(0, WRAPPED[ROLL])],
        (ETH, WRAPPED[ETH], "totalSupply", ()): [(0, 0), (20, 10), (25, 7)],
        (ROLL, WRAPPED[ROLL], "totalSupply", ()): [(0, 0), (30, 5), (58, 4), (59, 3)],
    }
    return FakeChains({REG: 100, ETH: 50, ROLL: 60}, logs, views)


LAYOUT = Layout(REG, 0, ESCROW, (GatewayRef(ETH, 2, GATEWAYS[ETH]), GatewayRef(ROLL, 2, GATEWAYS[ROLL])))
BLOCKS = {REG: 100, ETH: 48, ROLL: 58}


async def test_chain_reads_at_finalized_blocks() -> None:
    chains = scenario()
    assert await finalized_blocks(LAYOUT, chains) == BLOCKS
    facts, [r] = await observe(LAYOUT, chains, [(SID, TOKEN)])
    assert facts.blocks == BLOCKS
    [s] = facts.securities
    assert [o.nonce for o in s.bridge_outs] == [1, 2, 3, 4]  # nonce 9 is another token's
    assert s.refunded == {3}
    assert [(m.chain_id, m.source_nonce) for m in s.mints] == [(ETH, 1), (ROLL, 2)]  # not source 999
    assert [(b.chain_id, b.nonce) for b in s.bridge_backs] == [(ETH, 1), (ROLL, 1)]  # not removed, not > B_c
    assert (r.locked, r.wrapped_supply, r.in_flight_out, r.in_flight_back, r.difference) == (14, 11, 2, 1, 0)
    assert [(i.direction.value, i.chain_id, i.nonce, i.amount) for i in r.in_flight] == [
        ("back", ROLL, 1, 1), ("out", REG, 4, 2)
    ]  # fmt: skip
    # the escrow's tokenOf (the attestor's way) finds the same figures
    assert (await recompute(LAYOUT, chains, SID, BLOCKS)).details_hash == r.details_hash


async def test_blocks_must_be_final_and_cover_every_chain() -> None:
    chains = scenario()
    with pytest.raises(BlocksNotFinal):
        await recompute(LAYOUT, chains, SID, {**BLOCKS, ROLL: 59})
    with pytest.raises(BadBlocks):
        await recompute(LAYOUT, chains, SID, {REG: 100, ETH: 48})
    with pytest.raises(BadBlocks):
        await facts_at(LAYOUT, chains, [(SID, TOKEN)], {**BLOCKS, REG: 101})  # no such block


async def test_a_release_read_before_its_burn_is_read_again() -> None:
    """The read race: a release lands between the public and the registry head reads, so its burn is past
    B_c. The blocks are read afresh and the figures balance; a persistent mismatch stays a finding."""
    chains = scenario()
    chains._logs[ROLL].append(burned(ROLL, 3, 49, 2))
    chains._logs[REG].append(released(ROLL, 3, 60, 2))
    chains.views[(REG, ESCROW, "lockedBalance", (TOKEN,))].append((60, 12))
    chains.views[(ROLL, WRAPPED[ROLL], "totalSupply", ())] = [(0, 0), (30, 5), (49, 3), (58, 2), (59, 1)]
    chains.heads[ROLL] = 48  # B_c = 46: the burn at 49 is not final yet, its release is
    heads = iter([48, 60, 60])

    async def moving_head(chain_id: int) -> int:
        if chain_id == ROLL:
            chains.heads[ROLL] = next(heads, chains.heads[ROLL])
        return chains.heads[chain_id]

    chains.head = moving_head  # type: ignore[method-assign]
    _facts, [r] = await observe(LAYOUT, chains, [(SID, TOKEN)])
    assert r.balanced and not r.anomalies, r.details
    chains.heads[ROLL] = 48
    heads = iter([])
    stuck = await observe(LAYOUT, chains, [(SID, TOKEN)], attempts=2)
    assert [a.finding for a in stuck[1][0].anomalies] == [Finding.RELEASED_WITHOUT_BURN]
