"""Reconciliation (INV-001 supply conservation, docs/reconciliation.md): the pure equation over every
combination of minted / refunded / pending / burned / released transfers on several chains and drifts; the
chain reads and the attestor's recomputation over a fake chain; and on a live devnet the real
`dari reconcile` balancing, attested, then catching an agent's direct mint (exit 3, difference -5) and
pausing inbound minting when configured."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from eth_abi.abi import encode
from eth_account import Account
from eth_utils.address import to_checksum_address
from hypothesis import given, settings
from hypothesis import strategies as st

from attestations.attestation import Attestation
from attestations.eip712 import Domain
from attestations.kinds import HolderRevocation, ReconciliationReport
from attestations.trust import TrustList
from attestations.verify import verify
from relayer import db, metrics
from relayer.attestor import BadRequest, NotFinal, Refused
from relayer.attestor.checks import Checker, PublicChain, Topology
from relayer.attestor.client import gather, sign_request
from relayer.attestor.service import parse_sign_request
from relayer.config import AttestorConfig, Config, load_config
from relayer.devnet import control
from relayer.devnet.cast import DEPLOYER_KEY, attestor_key
from relayer.events import BRIDGE_BACK, BRIDGE_OUT, REFUNDED
from relayer.reconcile import (
    MINTED,
    RELEASED,
    BadBlocks,
    BlocksNotFinal,
    BridgeBackFact,
    BridgeOutFact,
    Facts,
    Finding,
    GatewayRef,
    Layout,
    MintFact,
    ReleaseFact,
    SecurityFacts,
    WrappedFact,
    canonical_json,
    compute,
    context_of,
    facts_at,
    finalized_blocks,
    latest_reports,
    observe,
    recompute,
    run_once,
)
from relayer.store import OperationStore
from relayer.transfer_state import State
from tests.support.bridge import Bridge

REG, ETH, ROLL = 820001, 31337, 31338
SID = b"\x5c" * 32
ESCROW = "0x" + "e5" * 20
TOKEN = "0x" + "70" * 20
OTHER_TOKEN = "0x" + "71" * 20
GATEWAYS = {ETH: "0x" + "a1" * 20, ROLL: "0x" + "a2" * 20}
WRAPPED = {ETH: "0x" + "b1" * 20, ROLL: "0x" + "b2" * 20}
HOLDER = "0x" + "44" * 20


# --- the pure equation --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    locked: int
    supply: Mapping[int, int]
    outs: Sequence[tuple[int, int, int]] = ()  # nonce, amount, destination
    refunded: frozenset[int] = frozenset()
    mints: Sequence[tuple[int, int, int]] = ()  # chain, source nonce, amount
    backs: Sequence[tuple[int, int, int]] = ()  # chain, nonce, amount
    releases: Sequence[tuple[int, int, int]] = ()  # source chain, source nonce, amount
    # expected
    out: int = 0
    back: int = 0
    difference: int = 0
    findings: Sequence[str] = ()
    in_flight: Sequence[tuple[str, int, int]] = field(default_factory=tuple)  # direction, chain, nonce


def security_facts(case: Case, security_id: bytes = SID) -> SecurityFacts:
    return SecurityFacts(
        security_id, TOKEN, case.locked,
        tuple(WrappedFact(c, WRAPPED.get(c, "0x" + "bb" * 20), s) for c, s in case.supply.items()),
        tuple(BridgeOutFact(*o) for o in case.outs), case.refunded, tuple(MintFact(*m) for m in case.mints),
        tuple(BridgeBackFact(*b) for b in case.backs), tuple(ReleaseFact(*r) for r in case.releases),
    )  # fmt: skip


def facts_of(*securities: SecurityFacts) -> Facts:
    blocks = {REG: 100, ETH: 48, ROLL: 58}
    return Facts(REG, ESCROW, blocks, {c: f"0x{c:064x}" for c in blocks}, securities)


CASES = {
    "nothing-bridged": Case(0, {ETH: 0, ROLL: 0}),
    "out-pending": Case(10, {ETH: 0}, outs=[(1, 10, ETH)], out=10, in_flight=[("out", REG, 1)]),
    "out-minted": Case(10, {ETH: 10}, outs=[(1, 10, ETH)], mints=[(ETH, 1, 10)]),
    "out-refunded": Case(0, {ETH: 0}, outs=[(1, 10, ETH)], refunded=frozenset({1})),
    "out-pending-to-unconfigured-chain": Case(4, {ETH: 0}, outs=[(1, 4, 999)], out=4, in_flight=[("out", REG, 1)]),
    "unrelated-refund-is-ignored": Case(10, {ETH: 10}, outs=[(1, 10, ETH)], refunded=frozenset({77}),
                                        mints=[(ETH, 1, 10)]),
    "burned-pending": Case(10, {ETH: 6}, outs=[(1, 10, ETH)], mints=[(ETH, 1, 10)], backs=[(ETH, 1, 4)], back=4,
                           in_flight=[("back", ETH, 1)]),
    "burned-released": Case(6, {ETH: 6}, outs=[(1, 10, ETH)], mints=[(ETH, 1, 10)], backs=[(ETH, 1, 4)],
                            releases=[(ETH, 1, 4)]),
    "same-burn-nonce-on-two-chains": Case(
        12, {ETH: 3, ROLL: 4}, outs=[(1, 5, ETH), (2, 9, ROLL)], mints=[(ETH, 1, 5), (ROLL, 2, 9)],
        backs=[(ETH, 1, 2), (ROLL, 1, 5)], releases=[(ETH, 1, 2)], back=5, in_flight=[("back", ROLL, 1)],
    ),
    "every-state-on-two-chains": Case(
        14, {ETH: 7, ROLL: 4},
        outs=[(1, 10, ETH), (2, 5, ROLL), (3, 7, ETH), (4, 2, ETH)], refunded=frozenset({3}),
        mints=[(ETH, 1, 10), (ROLL, 2, 5)], backs=[(ETH, 1, 3), (ROLL, 1, 1)], releases=[(ETH, 1, 3)],
        out=2, back=1, in_flight=[("back", ROLL, 1), ("out", REG, 4)],
    ),
    "drift-agent-mint": Case(10, {ETH: 15}, outs=[(1, 10, ETH)], mints=[(ETH, 1, 10)], difference=-5),
    "drift-excess-locked": Case(12, {ETH: 10}, outs=[(1, 10, ETH)], mints=[(ETH, 1, 10)], difference=2),
    "drift-minted-and-refunded": Case(0, {ETH: 10}, outs=[(1, 10, ETH)], refunded=frozenset({1}),
                                      mints=[(ETH, 1, 10)], difference=-10, findings=["minted-and-refunded"]),
    "minted-on-the-wrong-chain": Case(10, {ROLL: 10}, outs=[(1, 10, ETH)], mints=[(ROLL, 1, 10)], out=10,
                                      difference=-10, findings=["minted-without-request"],
                                      in_flight=[("out", REG, 1)]),
    "minted-without-request": Case(0, {ETH: 4}, mints=[(ETH, 5, 4)], difference=-4,
                                   findings=["minted-without-request"]),
    "released-without-burn": Case(7, {ETH: 10}, outs=[(1, 10, ETH)], mints=[(ETH, 1, 10)],
                                  releases=[(ETH, 9, 3)], difference=-3, findings=["released-without-burn"]),
}  # fmt: skip


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_the_equation(case: Case) -> None:
    """INV-001: locked == wrappedSupply + inFlightOut + inFlightBack, itemized, for every transfer state."""
    [r] = compute(facts_of(security_facts(case)))
    assert (r.locked, r.wrapped_supply) == (case.locked, sum(case.supply.values()))
    assert (r.in_flight_out, r.in_flight_back, r.difference) == (case.out, case.back, case.difference)
    assert r.balanced is (case.difference == 0)
    assert [(i.direction.value, i.chain_id, i.nonce) for i in r.in_flight] == list(case.in_flight)
    assert [a.finding.value for a in r.anomalies] == list(case.findings)
    assert sum(i.amount for i in r.in_flight) == case.out + case.back
    details = r.details
    assert details["difference"] == str(case.difference) and details["balanced"] is r.balanced
    assert details["blocks"] == {"820001": 100, "31337": 48, "31338": 58}
    assert [(i["direction"], i["chain"], i["nonce"]) for i in details["inFlight"]] == list(case.in_flight)


def test_details_are_canonical_and_hashed_into_the_report() -> None:
    case = CASES["every-state-on-two-chains"]
    [r] = compute(facts_of(security_facts(case)))
    text = canonical_json(r.details)
    assert b" " not in text and b"\n" not in text
    assert json.loads(text) == r.details
    assert text == json.dumps(json.loads(text), sort_keys=True, separators=(",", ":")).encode()
    assert r.details_hash == hashlib.sha256(text).digest()
    assert r.details["inFlight"] == [
        {"direction": "back", "chain": ROLL, "nonce": 1, "amount": "1", "destination": REG},
        {"direction": "out", "chain": REG, "nonce": 4, "amount": "2", "destination": ETH},
    ]
    assert r.details["blockHashes"]["31337"] == f"0x{ETH:064x}"
    report = r.report(1_700_000_000)
    assert report.to_message() == {
        "securityId": "0x" + SID.hex(), "registryBlock": "100", "locked": "14", "wrappedSupply": "11",
        "inFlightOut": "2", "inFlightBack": "1", "difference": "0", "balanced": True, "observedAt": 1_700_000_000,
        "detailsHash": "0x" + r.details_hash.hex(),
    }  # fmt: skip
    drift = compute(facts_of(security_facts(CASES["drift-agent-mint"])))[0].report(1)
    assert drift.difference == -5 and not drift.balanced
    assert ReconciliationReport.from_message(drift.to_message()) == drift  # int256 round trip
    # one more block, another hash: every block used is part of what is signed
    moved = replace(facts_of(security_facts(case)), blocks={REG: 101, ETH: 48, ROLL: 58})
    assert compute(moved)[0].details_hash != r.details_hash


def test_several_securities_are_reconciled_independently() -> None:
    other = b"\x77" * 32
    found = compute(facts_of(security_facts(CASES["out-minted"]), security_facts(CASES["drift-agent-mint"], other)))
    assert [(r.security_id, r.balanced, r.difference) for r in found] == [(SID, True, 0), (other, False, -5)]
    with pytest.raises(BadBlocks):
        compute(replace(facts_of(), blocks={ETH: 1}))


# --- reading the chain, and the attestor's recomputation, over a fake chain ------------------------------------


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
    """A `ChainReader`: heads, logs filtered like eth_getLogs, and views whose value changes at blocks."""

    def __init__(self, heads: dict[int, int], logs: dict[int, list[dict[str, Any]]],
                 views: dict[tuple[int, str, str, tuple[Any, ...]], list[tuple[int, Any]]]) -> None:  # fmt: skip
        self.heads, self._logs, self.views = heads, logs, views

    async def head(self, chain_id: int) -> int:
        return self.heads[chain_id]

    async def block_hash(self, chain_id: int, number: int) -> str | None:
        return f"0x{number:064x}" if number <= self.heads[chain_id] else None

    async def logs(
        self, chain_id: int, address: str, topics: Sequence[str | Sequence[str] | None], to_block: int
    ) -> list[Mapping[str, Any]]:
        def matches(log: dict[str, Any]) -> bool:
            wanted = zip(topics, log["topics"], strict=False)
            return log["address"] == address.lower() and all(
                t is None or (got == t if isinstance(t, str) else got in t) for t, got in wanted
            )

        return [g for g in self._logs.get(chain_id, []) if matches(g) and int(g["blockNumber"], 16) <= to_block]

    async def call(self, chain_id: int, contract: str, address: str, function: str, *args: Any) -> Any:
        return await self.call_at(chain_id, self.heads[chain_id], contract, address, function, *args)

    async def call_at(self, chain_id: int, block: int, contract: str, address: str, function: str, *args: Any) -> Any:
        history = self.views[(chain_id, address.lower(), function, args)]
        return [value for since, value in history if since <= block][-1]


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


TOPOLOGY = Topology(REG, 0, ESCROW, "0x" + "12" * 20, "0x" + "13" * 20,
                    {c: PublicChain(c, 2, GATEWAYS[c], "0x" + "14" * 20) for c in (ETH, ROLL)})  # fmt: skip
DOMAIN = Domain(REG, ESCROW)


async def test_the_attestor_signs_only_its_own_computation() -> None:
    """The attestor recomputes at the context's blocks (final for it) and refuses any other figure."""
    chains = scenario()
    checker = Checker(TOPOLOGY, chains)
    report = (await recompute(LAYOUT, chains, SID, BLOCKS)).report(1_000)
    claim = await checker.check(report, DOMAIN, 1_000, blocks=BLOCKS)
    assert (claim.source_chain_id, claim.nonce, claim.excludes) == (REG, None, None)
    forged = {
        "locked": replace(report, locked=report.locked + 1),
        "wrapped": replace(report, wrapped_supply=report.wrapped_supply - 1, difference=1, balanced=False),
        "in-flight": replace(report, in_flight_out=0, in_flight_back=3),
        "balanced": replace(report, balanced=False),
        "details": replace(report, details_hash=b"\x01" * 32),
        "registry-block": replace(report, registry_block=99),
        "security": replace(report, security_id=b"\x77" * 32),
    }
    zero = "0x" + "00" * 20
    chains.views[(REG, ESCROW, "tokenOf", (b"\x77" * 32,))] = [(0, zero)]
    chains.views[(REG, ESCROW, "lockedBalance", (to_checksum_address(zero),))] = [(0, 0)]
    for chain in (ETH, ROLL):
        chains.views[(chain, GATEWAYS[chain], "wrappedToken", (b"\x77" * 32,))] = [(0, zero)]
    for name, statement in forged.items():
        with pytest.raises(Refused) as refused:
            await checker.check(statement, DOMAIN, 1_000, blocks=BLOCKS)
        assert refused.value.code == "report-mismatch", name
    for blocks in ({REG: 100, ETH: 48}, {**BLOCKS, 5: 1}, {**BLOCKS, ETH: 47}):
        with pytest.raises(Refused) as refused:
            await checker.check(report, DOMAIN, 1_000, blocks=blocks)
        assert refused.value.code == "report-mismatch", blocks
    with pytest.raises(NotFinal) as not_final:
        await checker.check(report, DOMAIN, 1_000, blocks={**BLOCKS, ETH: 49})
    assert not_final.value.code == "not-final"
    refusals: list[tuple[Domain, int, Mapping[int, int] | None, str]] = [
        (Domain(ETH, GATEWAYS[ETH]), 1_000, BLOCKS, "wrong-domain"),
        (DOMAIN, 1_000, None, "missing-context"),
        (DOMAIN, 1_000 - 301, BLOCKS, "from-future"),
    ]
    for domain, now, context, code in refusals:
        with pytest.raises(Refused) as refused:
            await checker.check(report, domain, now, blocks=context)
        assert refused.value.code == code


def test_a_report_sign_request_carries_its_blocks() -> None:
    report = compute(facts_of(security_facts(CASES["out-minted"])))[0].report(1)
    body = {**sign_request(report, DOMAIN), "context": context_of(BLOCKS)}
    assert body["context"] == {"blocks": {"820001": 100, "31337": 48, "31338": 58}}
    parsed = parse_sign_request(json.dumps(body).encode())
    assert (parsed.statement, parsed.blocks) == (report, BLOCKS)
    other = sign_request(HolderRevocation(HOLDER, ETH, 1, 0), Domain(ETH, "0x" + "14" * 20))
    assert parse_sign_request(json.dumps(other).encode()).blocks is None
    bad = [
        {k: v for k, v in body.items() if k != "context"},  # a report needs its blocks
        {**other, "context": context_of(BLOCKS)},  # and only a report has them
        {**body, "context": {"blocks": {}}},
        {**body, "context": {"blocks": {"0": 1}}},
        {**body, "context": {"blocks": {"abc": 1}}},
        {**body, "context": {"blocks": {"820001": -1}}},
        {**body, "context": {"blocks": {"820001": True}}},
        {**body, "context": {"blocks": {"820001": 1.5}}},
        {**body, "context": {"blocks": {"820001": "1"}}},
        {**body, "context": {"blocks": {str(c): 1 for c in range(1, 70)}}},
        {**body, "context": {"blocks": {"820001": 1}, "extra": 1}},
        {**body, "context": []},
    ]
    for candidate in bad:
        with pytest.raises(BadRequest):
            parse_sign_request(json.dumps(candidate).encode())


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=150, deadline=None)
@given(context=json_values | st.fixed_dictionaries({"blocks": st.dictionaries(st.text(max_size=22), json_values)}))
def test_parsing_any_context_raises_only_bad_request(context: Any) -> None:
    report = compute(facts_of(security_facts(CASES["out-minted"])))[0].report(1)
    body = {**sign_request(report, DOMAIN), "context": context}
    with contextlib.suppress(BadRequest):
        parse_sign_request(json.dumps(body).encode())


async def test_gather_forwards_the_context() -> None:
    key = attestor_key("att-1")
    seen: list[Any] = []

    async def sign(request: web.Request) -> web.Response:
        body = await request.json()
        seen.append(body.get("context"))
        parsed = parse_sign_request(json.dumps(body).encode())
        digest = parsed.statement.digest(parsed.domain)
        return web.json_response({**key.sign(digest).to_json(), "digest": "0x" + digest.hex()})

    app = web.Application()
    app.router.add_post("/v1/sign", sign)
    public = key.public()
    report = compute(facts_of(security_facts(CASES["out-minted"])))[0].report(1)
    async with TestServer(app) as server:
        entry = AttestorConfig(id="att-1", url=str(server.make_url("/")).rstrip("/"), ed25519=public["ed25519"],
                               address=public["address"])  # fmt: skip
        [signature] = await gather(report, DOMAIN, [entry], 1, context=context_of(BLOCKS))
    assert signature.attestor == "att-1"
    assert seen == [{"blocks": {"820001": 100, "31337": 48, "31338": 58}}]


async def test_latest_reports_picks_the_newest_per_security(tmp_path: Path) -> None:
    engine = db.create_engine(f"sqlite:///{tmp_path / 'dari.db'}")
    try:
        await db.upgrade(engine)
        store = OperationStore(engine)
        other = b"\x77" * 32
        [a] = compute(facts_of(security_facts(CASES["out-minted"])))
        [b] = compute(facts_of(security_facts(CASES["drift-agent-mint"], other)))
        for r, at in ((a, 5), (a, 9), (a, 7), (b, 3)):
            await store.save_attestation(Attestation(r.report(at), DOMAIN), None)
        latest = await latest_reports(store)
        assert [(d["typedData"]["message"]["securityId"], d["typedData"]["message"]["observedAt"]) for d in latest] == [
            ("0x" + SID.hex(), 9), ("0x" + other.hex(), 3)
        ]  # fmt: skip
    finally:
        await engine.dispose()


# --- on a live devnet ---------------------------------------------------------------------------------------


async def _start_relayer(root: Path, url: str) -> None:
    async with Bridge(root, url) as bridge:
        await bridge.start_relayer()


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    root = tmp_path_factory.mktemp("reconcile")
    asyncio.run(control.up(root, relayer=False))
    url = f"sqlite:///{root / 'relay.db'}"
    try:
        asyncio.run(_start_relayer(root, url))
        yield root, url
    finally:
        control.down(root)


@pytest.fixture
async def bridge(devnet: tuple[Path, str]) -> AsyncIterator[Bridge]:
    async with Bridge(*devnet) as b:
        yield b


async def dari(bridge: Bridge, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "relayer", *args]
    return await asyncio.to_thread(subprocess.run, argv, capture_output=True, text=True, timeout=60, env=bridge.env())


async def settle(bridge: Bridge) -> None:
    """Waits until what happened on the public chains so far is final (their confirmations)."""
    targets = {c.chain_id: int(await bridge.clients[c.chain_id].rpc("eth_blockNumber", []), 16) + c.confirmations
               for c in bridge.config.public}  # fmt: skip
    while True:
        heads = {c: int(await bridge.clients[c].rpc("eth_blockNumber", []), 16) for c in targets}
        if all(heads[c] >= t for c, t in targets.items()):
            return
        await asyncio.sleep(0.2)


def trust_of(config: Config) -> TrustList:
    return TrustList.parse({
        "epoch": config.trust.epoch, "threshold": config.trust.threshold,
        "attestors": [{"id": a.id, "ed25519": a.ed25519, "address": a.address} for a in config.attestors],
    })  # fmt: skip


def verified_report(bridge: Bridge, entry: dict[str, Any]) -> ReconciliationReport:
    """The attested report of one security in `dari reconcile --json`, checked against the trust list,
    the escrow's domain and its own details."""
    domain = Domain(bridge.registry, bridge.manifest.registry.contracts["escrow"])
    report = verify(entry["attestation"], trust_of(bridge.config), domain=domain, kind=ReconciliationReport)
    assert report.to_message() == {k: entry[k] for k in report.to_message()}
    assert report.details_hash == hashlib.sha256(canonical_json(entry["details"])).digest()
    assert entry["attestation"]["log"]["index"] >= 0
    return report


@pytest.mark.integration
async def test_a_live_bridge_reconciles_and_the_report_is_attested(bridge: Bridge) -> None:
    """INV-001 on a real devnet: mints, a refund, a release, and one transfer in flight each way."""
    config_file = str(bridge.root / "dari.toml")
    outs = await bridge.bridge_out("Minjun", 7, "ethereum") + await bridge.bridge_out("Minjun", 5, "rollup")
    [refund] = await bridge.bridge_out("Bob", 10, "ethereum")
    await bridge.wait(outs, {State.CONFIRMED})
    back = await bridge.bridge_back("Minjun", 3, "ethereum")
    await bridge.wait([back], {State.CONFIRMED})
    await bridge.wait([refund], {State.REFUNDED})
    bridge.kill("relayer")  # what follows stays in flight
    [pending_out] = await bridge.bridge_out("Minjun", 2, "ethereum")
    pending_back = await bridge.bridge_back("Minjun", 1, "rollup")
    await settle(bridge)

    result = await dari(bridge, "reconcile", "--config", config_file, "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["balanced"] is True
    assert set(document["blocks"]) == {"820001", "31337", "31338"}
    assert len(document["securities"]) == len(bridge.manifest.securities)
    first = next(s for s in document["securities"] if s["securityId"] == bridge.manifest.securities[0].id)
    report = verified_report(bridge, first)
    assert (report.locked, report.wrapped_supply, report.in_flight_out, report.in_flight_back) == (11, 8, 2, 1)
    assert report.locked == await bridge.locked() and report.wrapped_supply == await bridge.wrapped_supply()
    assert (report.difference, report.balanced, report.registry_block) == (0, True, document["blocks"]["820001"])
    assert [(i["direction"], f"{i['chain']}-{i['nonce']}", i["amount"]) for i in first["details"]["inFlight"]] == [
        ("back", pending_back, "1"), ("out", pending_out, "2")
    ]  # fmt: skip
    assert first["details"]["blocks"] == document["blocks"]
    for other in document["securities"]:
        if other is not first:  # nothing bridged: zero everywhere, and attested all the same
            assert verified_report(bridge, other).locked == 0
    stored = await latest_reports(bridge.store)
    assert first["attestation"]["digest"] in {d["digest"] for d in stored}

    table = await dari(bridge, "reconcile", "--config", config_file, "--no-sign")
    assert table.returncode == 0, table.stderr
    assert "KR" in table.stdout and pending_out in table.stdout


@pytest.mark.integration
async def test_an_agent_mint_is_drift_and_pauses_minting_when_configured(bridge: Bridge) -> None:
    """A mint outside the bridge breaks INV-001: exit 3, the attestors sign difference -5, and with
    pause_on_drift the relayer's key pauses inbound minting on every gateway."""
    chain = bridge.chain_id("ethereum")
    admin = Account.from_key(DEPLOYER_KEY)
    wrapped = bridge.contract("WrappedSecurity", chain, bridge.manifest.securities[0].wrapped[str(chain)])
    client = bridge.clients[chain]
    await client.transact(wrapped.functions.grantRole(await wrapped.functions.MINTER_ROLE().call(), admin.address),
                          admin)  # fmt: skip
    await client.transact(wrapped.functions.mint(bridge.investor("Minjun").wallets[str(chain)].address, 5, 0), admin)
    await settle(bridge)
    config_file = bridge.root / "dari.toml"

    result = await dari(bridge, "reconcile", "--config", str(config_file), "--json")
    assert result.returncode == 3, result.stderr
    document = json.loads(result.stdout)
    first = next(s for s in document["securities"] if s["securityId"] == bridge.manifest.securities[0].id)
    report = verified_report(bridge, first)
    assert (report.difference, report.balanced) == (-5, False)
    assert document["paused"] == []
    gateways = {
        c.chain_id: bridge.contract("BridgeGateway", c.chain_id, c.contracts["gateway"]) for c in bridge.manifest.public
    }
    assert not any([await g.functions.inboundPaused().call() for g in gateways.values()])

    config = load_config(config_file)  # in process: the gauge
    run = await run_once(config, None, sign=False)
    assert not run.balanced
    labels = {"security": bridge.manifest.securities[0].id}
    assert metrics.REGISTRY.get_sample_value("dari_reconciliation_difference", labels) == -5

    pausing = bridge.root / "dari-pause.toml"
    pausing.write_text(config_file.read_text() + "\n[reconciliation]\npause_on_drift = true\n")
    paused = await dari(bridge, "reconcile", "--config", str(pausing), "--json", "--no-sign")
    assert paused.returncode == 3, paused.stderr
    assert {p["chainId"] for p in json.loads(paused.stdout)["paused"] if p["tx"]} == set(gateways)
    assert all([await g.functions.inboundPaused().call() for g in gateways.values()])
