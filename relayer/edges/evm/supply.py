"""The facts reconciliation needs, read off the chains through any `ChainReads` at given blocks: the
relayer's `dari reconcile` and every attestor (which recomputes a report before it signs it) use this same
code. The arithmetic is `relayer.core.reconcile`."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

import structlog

from relayer.core.constants import BRIDGE_BACK, BRIDGE_OUT, MINTED, REFUNDED, RELEASED, ZERO_ADDRESS
from relayer.core.events import BridgeBack, BridgeOut, Minted, Refunded, Released
from relayer.core.ports import ChainReads
from relayer.core.reconcile import (
    TIMING_FINDINGS,
    BadBlocks,
    BlocksNotFinal,
    BridgeBackFact,
    BridgeOutFact,
    Facts,
    GatewayRef,
    Layout,
    MintFact,
    ReleaseFact,
    SecurityFacts,
    SecurityReconciliation,
    WrappedFact,
    compute,
)
from relayer.edges.evm.abi import checksum_address
from relayer.edges.evm.logs import E, address_topic, events_of, uint_topic

log = structlog.get_logger("dari.reconcile")

OBSERVE_ATTEMPTS = 3  # fresh blocks when a mint or release is seen without its source event (a read race)


async def _events(
    reads: ChainReads, chain_id: int, address: str, topics: list[str | None], kind: type[E], to_block: int
) -> list[E]:
    return events_of(chain_id, await reads.logs(chain_id, address, topics, to_block), kind, address, to_block)


async def _refunded(reads: ChainReads, layout: Layout, block: int) -> frozenset[int]:
    found = await _events(reads, layout.registry_chain_id, layout.escrow, [REFUNDED], Refunded, block)
    return frozenset(e.nonce for e in found)


async def _security(
    reads: ChainReads, layout: Layout, blocks: Mapping[int, int], security_id: bytes, token: str | None,
    refunded: frozenset[int],
) -> SecurityFacts:  # fmt: skip
    registry, escrow = layout.registry_chain_id, layout.escrow
    b_r = blocks[registry]
    if token is None:
        token = str(await reads.call(registry, "BridgeEscrow", escrow, "tokenOf", security_id, block=b_r))
    token = checksum_address(token)
    # unlisted on the escrow (tokenOf = zero): nothing locked, no registry events; its wrapped side still counts
    locked, outs, releases = await asyncio.gather(
        reads.call(registry, "BridgeEscrow", escrow, "lockedBalance", token, block=b_r),
        _events(reads, registry, escrow, [BRIDGE_OUT, None, address_topic(token)], BridgeOut, b_r),
        _events(reads, registry, escrow, [RELEASED, None, None, address_topic(token)], Released, b_r),
    )
    bridge_outs = [BridgeOutFact(e.nonce, e.amount, e.dest_chain_id) for e in outs if e.token.lower() == token.lower()]
    release_facts = [ReleaseFact(e.source_chain_id, e.source_nonce, e.amount) for e in releases]
    nonces = {o.nonce for o in bridge_outs}
    sides = await asyncio.gather(
        *(_public_side(reads, layout, g, blocks[g.chain_id], security_id) for g in layout.gateways)
    )
    return SecurityFacts(
        security_id, token, int(locked), tuple(w for w, _m, _b in sides), tuple(bridge_outs),
        refunded & nonces,
        tuple(m for _w, ms, _b in sides for m in ms), tuple(b for _w, _m, bs in sides for b in bs),
        tuple(release_facts),
    )  # fmt: skip


async def _public_side(
    reads: ChainReads, layout: Layout, gateway: GatewayRef, block: int, security_id: bytes
) -> tuple[WrappedFact, list[MintFact], list[BridgeBackFact]]:
    chain = gateway.chain_id
    wrapped = checksum_address(
        str(await reads.call(chain, "BridgeGateway", gateway.gateway, "wrappedToken", security_id, block=block))
    )
    if wrapped == checksum_address(ZERO_ADDRESS):
        return WrappedFact(chain, wrapped, 0), [], []
    supply, mints, backs = await asyncio.gather(
        reads.call(chain, "WrappedSecurity", wrapped, "totalSupply", block=block),
        _events(reads, chain, gateway.gateway,
                [MINTED, uint_topic(layout.registry_chain_id), None, address_topic(wrapped)], Minted, block),
        _events(reads, chain, gateway.gateway, [BRIDGE_BACK, None, address_topic(wrapped)], BridgeBack, block),
    )  # fmt: skip
    mint_facts = [
        MintFact(chain, e.source_nonce, e.amount) for e in mints if e.source_chain_id == layout.registry_chain_id
    ]
    back_facts = [BridgeBackFact(chain, e.nonce, e.amount) for e in backs if e.token.lower() == wrapped.lower()]
    return WrappedFact(chain, wrapped, int(supply)), mint_facts, back_facts


async def facts_at(
    layout: Layout, reads: ChainReads, securities: Sequence[tuple[bytes, str | None]], blocks: Mapping[int, int]
) -> Facts:
    """The facts of ``securities`` (security id, registry token; None: the escrow's ``tokenOf``) at ``blocks``
    (exactly the layout's chains). `BadBlocks` when the blocks do not fit the layout or do not exist."""
    expected = set(layout.confirmations())
    if set(blocks) != expected:
        raise BadBlocks(f"blocks are for chains {sorted(blocks)}, expected {sorted(expected)}")
    hashes = await asyncio.gather(*(reads.block_hash(c, b) for c, b in blocks.items()))
    missing = [c for c, h in zip(blocks, hashes, strict=True) if h is None]
    if missing:
        raise BadBlocks(f"no block {[blocks[c] for c in missing]} on chains {missing}")
    refunded = await _refunded(reads, layout, blocks[layout.registry_chain_id])
    found = await asyncio.gather(*(_security(reads, layout, blocks, sid, token, refunded) for sid, token in securities))
    return Facts(
        layout.registry_chain_id, checksum_address(layout.escrow), dict(blocks),
        {c: str(h).lower() for c, h in zip(blocks, hashes, strict=True)}, tuple(found),
    )  # fmt: skip


async def finalized_blocks(layout: Layout, reads: ChainReads) -> dict[int, int]:
    """Each chain's finalized block (head - confirmations). The public chains are read first: a mint final
    there was authorized by a bridge-out already final on the registry, so it falls within B_r."""
    public = await asyncio.gather(*(reads.head(g.chain_id) for g in layout.gateways))
    registry = await reads.head(layout.registry_chain_id)
    blocks = {g.chain_id: max(h - g.confirmations, 0) for g, h in zip(layout.gateways, public, strict=True)}
    return {layout.registry_chain_id: max(registry - layout.registry_confirmations, 0)} | blocks


async def require_final(layout: Layout, reads: ChainReads, blocks: Mapping[int, int]) -> None:
    """`BadBlocks` unless ``blocks`` name exactly the layout's chains; `BlocksNotFinal` unless each is final
    for ``reads`` (its head minus the chain's confirmations)."""
    confirmations = layout.confirmations()
    if set(blocks) != set(confirmations):
        raise BadBlocks(f"blocks are for chains {sorted(blocks)}, expected {sorted(confirmations)}")
    chains = sorted(blocks)
    heads = await asyncio.gather(*(reads.head(c) for c in chains))
    for chain, head in zip(chains, heads, strict=True):
        if blocks[chain] < 0 or head - blocks[chain] < confirmations[chain]:
            raise BlocksNotFinal(
                f"block {blocks[chain]} on chain {chain} is not final "
                f"(head {head}, {confirmations[chain]} confirmations)"
            )


async def observe(
    layout: Layout, reads: ChainReads, securities: Sequence[tuple[bytes, str | None]], *,
    attempts: int = OBSERVE_ATTEMPTS,
) -> tuple[Facts, list[SecurityReconciliation]]:  # fmt: skip
    """Facts and reconciliations at the current finalized blocks. A mint or release seen without its source
    event can be a race between the head reads (a release landing between them); the blocks are then read
    afresh, a bounded number of times, before the finding stands."""
    while True:
        attempts -= 1
        facts = await facts_at(layout, reads, securities, await finalized_blocks(layout, reads))
        found = compute(facts)
        racy = any(a.finding in TIMING_FINDINGS for r in found for a in r.anomalies)
        if not racy or attempts <= 0:
            return facts, found
        log.info("unmatched mint or release; reading fresh blocks", blocks=dict(facts.blocks))


async def recompute(
    layout: Layout, reads: ChainReads, security_id: bytes, blocks: Mapping[int, int]
) -> SecurityReconciliation:
    """An attestor's own computation of ``security_id`` at ``blocks`` (each must be final for it); the
    registry token is the escrow's ``tokenOf`` at the registry block."""
    await require_final(layout, reads, blocks)
    [found] = compute(await facts_at(layout, reads, [(security_id, None)], blocks))
    return found
