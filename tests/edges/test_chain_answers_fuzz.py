"""Hypothesis: what a node answers is outside data, for the attestor's chain view and for the relayer's
delivery checks alike. Junk from a node raises only the readers' own errors (the attestor's
`ChainUnavailable` / `Refused`, the relayer's `RpcUnavailable` / `ContractReverted`); well-formed
answers come through as values."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web
from aiohttp.test_utils import TestServer
from hypothesis import example, given, settings
from hypothesis import strategies as st

from attestor.errors import ChainUnavailable, Refused
from attestor.reads import AttestorReads
from relayer.core.errors import RpcUnavailable
from relayer.edges.chain.submitter import _receipt
from relayer.edges.evm.abi import Abi
from relayer.edges.evm.artifacts import load_artifacts
from relayer.edges.evm.client import ChainClient, ContractReverted, RevertDecoder, View
from relayer.edges.evm.reads import RpcChainReads

T = TypeVar("T")
CHAIN = 31337
ADDRESS = "0x" + "11" * 20
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
hex_data = st.binary(max_size=200).map(lambda b: "0x" + b.hex())
answers = st.one_of(
    st.binary(max_size=60),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries(
        {"jsonrpc": st.just("2.0"), "id": st.integers(0, 2)},
        optional={"result": hex_data | json_values, "error": json_values},
    ).map(lambda v: json.dumps(v).encode()),
    st.lists(
        st.fixed_dictionaries({"id": st.integers(0, 2)}, optional={"result": hex_data | json_values}), max_size=3
    ).map(lambda v: json.dumps(v).encode()),
)


def through_a_node(answer: bytes, read: Callable[[str], Awaitable[T]]) -> T | BaseException:
    """``read(url)`` against a node that answers ``answer`` to everything: its value, or what it raised."""

    async def reply(_request: web.Request) -> web.Response:
        return web.Response(body=answer, content_type="application/json")

    async def run() -> T | BaseException:
        app = web.Application()
        app.router.add_post("/", reply)
        async with TestServer(app) as server:
            try:
                return await read(str(server.make_url("/")))
            except Exception as exc:  # the test decides which errors are allowed
                return exc

    return asyncio.run(run())


ARTIFACTS = load_artifacts()


async def attestor_reads(url: str) -> list[Any]:
    view = AttestorReads(RpcChainReads({CHAIN: url}, ARTIFACTS))
    try:
        return list(
            await asyncio.gather(
                view.head(CHAIN),
                view.block_hash(CHAIN, 5),
                view.call(CHAIN, "BridgeEscrow", ADDRESS, "request", 7),
                view.call(CHAIN, "HolderRegistry", ADDRESS, "isEligible", ADDRESS, b"\0" * 32),
            )
        )
    finally:
        await view.close()


async def relayer_reads(url: str) -> list[Any]:
    gateway = Abi.of(ARTIFACTS.get("BridgeGateway"))["isProcessed"]
    async with ChainClient(url, RevertDecoder.from_artifacts(ARTIFACTS)) as client:
        return await client.views([View(ADDRESS, gateway, (820001, n)) for n in range(3)])


@settings(max_examples=80, deadline=None)
@given(answers)
@example(b'{"jsonrpc": "2.0", "id": 0, "result": "0x1"}')
@example(b'{"jsonrpc": "2.0", "id": 0, "error": {"code": 3, "message": "execution reverted", "data": "0x12"}}')
def test_the_attestor_view_raises_only_its_own_errors(answer: bytes) -> None:
    outcome = through_a_node(answer, attestor_reads)
    assert isinstance(outcome, ChainUnavailable | Refused | list), repr(outcome)


@settings(max_examples=80, deadline=None)
@given(answers)
@example(b'[{"id": 0, "result": "0x01"}, {"id": 1, "result": "0x"}, {"id": 2, "result": "0x00"}]')
def test_the_relayer_views_raise_only_their_own_errors(answer: bytes) -> None:
    outcome = through_a_node(answer, relayer_reads)
    assert isinstance(outcome, RpcUnavailable | ContractReverted | list), repr(outcome)


def test_well_formed_answers_are_values() -> None:
    true = "0x" + (1).to_bytes(32, "big").hex()
    batch = json.dumps([{"jsonrpc": "2.0", "id": i, "result": true} for i in range(3)]).encode()
    assert through_a_node(batch, relayer_reads) == [True, True, True]
    assert through_a_node(json.dumps({"jsonrpc": "2.0", "id": 0, "result": "0x2a"}).encode(), attestor_head) == 42


async def attestor_head(url: str) -> int:
    view = AttestorReads(RpcChainReads({CHAIN: url}, ARTIFACTS))
    try:
        return await view.head(CHAIN)
    finally:
        await view.close()


@given(json_values | st.fixed_dictionaries({}, optional={"status": hex_data | json_values,
                                                          "blockNumber": hex_data | json_values,
                                                          "blockHash": hex_data | json_values}))  # fmt: skip
def test_junk_receipts_raise_only_rpc_unavailable(raw: Any) -> None:
    try:
        receipt = _receipt("0x" + "ab" * 32, raw)
    except RpcUnavailable:
        return
    assert receipt.mined == (raw is not None)
