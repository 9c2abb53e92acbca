"""Reconciliation reports at the attestor: it signs only its own computation at the blocks of the request's
context, which must be final for it; the context's parsing; the relayer's client forwards it."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from eth_utils.address import to_checksum_address
from hypothesis import given, settings
from hypothesis import strategies as st

from attestations.eip712 import Domain
from attestations.kinds import HolderRevocation
from attestor.checks import Checker
from attestor.errors import BadRequest, NotFinal, Refused
from attestor.requests import parse_sign_request
from attestor.topology import PublicChain, Topology
from relayer.core.config import AttestorConfig
from relayer.core.reconcile import (
    compute,
    context_of,
)
from relayer.devtools.devnet.cast import attestor_key
from relayer.edges.attestor_client import gather, sign_request
from relayer.edges.evm.supply import recompute
from tests.core.test_reconcile import (
    CASES,
    DOMAIN,
    ESCROW,
    ETH,
    GATEWAYS,
    HOLDER,
    REG,
    ROLL,
    SID,
    facts_of,
    security_facts,
)
from tests.edges.test_supply import BLOCKS, LAYOUT, scenario

TOPOLOGY = Topology(REG, 0, ESCROW, "0x" + "12" * 20, "0x" + "13" * 20,
                    {c: PublicChain(c, 2, GATEWAYS[c], "0x" + "14" * 20) for c in (ETH, ROLL)})  # fmt: skip


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
