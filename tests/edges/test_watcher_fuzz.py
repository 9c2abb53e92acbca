"""Hypothesis: the watcher's readers of JSON-RPC answers (`quantity`, `_header`, and whole batch answers
as a node sends them, through web3's provider) raise nothing but `RpcUnavailable` on junk."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer
from hypothesis import example, given, settings
from hypothesis import strategies as st

from relayer.core.config import ChainConfig
from relayer.core.errors import RpcUnavailable
from relayer.core.finality import Header
from relayer.edges.chain.watcher import Watcher, _header
from relayer.edges.db import engine as db
from relayer.edges.evm.client import ChainClient, RevertDecoder, quantity

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
hexish = st.text(alphabet="0123456789abcdefABCDEFx_- ", max_size=66).map(lambda t: "0x" + t) | json_values
headers = st.fixed_dictionaries({}, optional={"number": hexish, "hash": hexish, "parentHash": hexish})


@given(hexish)
def test_junk_quantities_raise_only_rpc_unavailable(value: Any) -> None:
    try:
        parsed = quantity("eth_blockNumber", value)
    except RpcUnavailable:
        return
    assert isinstance(value, str) and value.startswith("0x") and parsed >= 0


@given(json_values | headers)
def test_junk_headers_raise_only_rpc_unavailable(value: Any) -> None:
    try:
        header = _header(value)
    except RpcUnavailable:
        return
    if value is None:
        assert header is None
    else:
        assert header == Header(int(value["number"], 16), value["hash"].lower(), value["parentHash"].lower())


def read_through_a_node(answer: bytes) -> list[Any]:
    """What the watcher makes of ``answer`` as a node's reply to its head batch and to a batch of two
    headers: each result, or the `RpcUnavailable` raised."""

    async def reply(_request: web.Request) -> web.Response:
        return web.Response(body=answer, content_type="application/json")

    async def read() -> list[Any]:
        app = web.Application()
        app.router.add_post("/", reply)
        engine = db.create_engine("sqlite:///:memory:")  # the reads below never touch it
        try:
            async with TestServer(app) as server:
                url = str(server.make_url("/"))
                async with ChainClient(url, RevertDecoder({})) as client:
                    chain = ChainConfig(name="junk", chain_id=31337, rpc_url=url, confirmations=0)
                    watcher = Watcher(chain, client, engine, ["0x" + "11" * 20], [])
                    outcomes: list[Any] = []
                    for call in (lambda: watcher._head(None), lambda: watcher._headers([1, 2])):
                        try:
                            outcomes.append(await call())
                        except RpcUnavailable as exc:
                            outcomes.append(exc)
                    return outcomes
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_the_harness_reads_well_formed_answers() -> None:
    """A node's good answers come through as values (the harness below does not fail everything)."""
    head = [{"jsonrpc": "2.0", "id": 0, "result": "0x5"}]
    assert read_through_a_node(json.dumps(head).encode())[0] == (5, None)
    blocks = [  # ids as the client numbers the requests of a batch: 0, 1, ...
        {"jsonrpc": "2.0", "id": n - 1, "result": {"number": hex(n), "hash": "0x" + "AB" * 32, "parentHash": "0x00"}}
        for n in (1, 2)
    ]
    assert read_through_a_node(json.dumps(blocks).encode())[1] == [Header(n, "0x" + "ab" * 32, "0x00") for n in (1, 2)]


rpc_answers = st.lists(
    st.fixed_dictionaries({}, optional={"jsonrpc": json_values, "id": json_values, "result": json_values | headers,
                                        "error": json_values}) | json_values,
    max_size=3,
)  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=40) | (json_values | rpc_answers).map(lambda v: json.dumps(v).encode()))
@example(b"[1]")
@example(b'[{"id": 1, "result": "0x1"}, {"id": "a", "result": "0x2"}]')
def test_junk_batch_answers_raise_only_rpc_unavailable(answer: bytes) -> None:
    head, headers = read_through_a_node(answer)
    assert isinstance(head, RpcUnavailable | tuple)
    assert isinstance(headers, RpcUnavailable | list)
