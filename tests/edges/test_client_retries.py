"""Transient RPC faults are retried at the RPC call only (`ChainClient.batch`, `relayer.failures`): a failed
batch is sent again a capped number of times, and of a batch's answers only the requests the node failed
(a transient error answer) are asked again; a revert is never retried; nothing above the client (the
attestor's reads, the relayer's contract views) adds attempts of its own."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from attestor.errors import ChainUnavailable
from attestor.reads import AttestorReads
from relayer.core.config import parse_config
from relayer.core.errors import RpcUnavailable
from relayer.edges.evm.artifacts import load_artifacts
from relayer.edges.evm.client import ChainClient, RevertDecoder, RpcError
from relayer.edges.evm.reads import RpcChainReads
from relayer.edges.evm.views import ContractViews
from relayer.failures import ATTEMPTS

CHAIN = 31337
ADDRESS = "0x" + "11" * 20
Reply = Callable[[Any], Any]  # a request body -> the answer body


@asynccontextmanager
async def node(reply: Reply, *, status: int = 200) -> AsyncIterator[tuple[str, list[Any]]]:
    """A JSON-RPC node answering ``reply(body)`` (with HTTP ``status``); the bodies it received."""
    received: list[Any] = []

    async def handle(request: web.Request) -> web.Response:
        body = await request.json()
        received.append(body)
        return web.Response(status=status, text=json.dumps(reply(body)), content_type="application/json")

    app = web.Application()
    app.router.add_post("/", handle)
    async with TestServer(app) as server:
        yield str(server.make_url("/")), received


def each(body: Any, answer: Callable[[dict[str, Any]], dict[str, Any]]) -> Any:
    requests = body if isinstance(body, list) else [body]
    answers = [{"jsonrpc": "2.0", "id": r["id"], **answer(r)} for r in requests]
    return answers if isinstance(body, list) else answers[0]


def decoder() -> RevertDecoder:
    return RevertDecoder.from_artifacts(load_artifacts())


async def test_a_failing_batch_is_sent_a_capped_number_of_times() -> None:
    async with node(lambda body: {}, status=502) as (url, received), ChainClient(url, decoder()) as client:
        with pytest.raises(RpcUnavailable):
            await client.batch([("eth_blockNumber", [])])
    assert len(received) == ATTEMPTS


async def test_only_the_requests_the_node_failed_are_asked_again() -> None:
    failed = {"count": 0}

    def reply(body: Any) -> Any:
        def answer(request: dict[str, Any]) -> dict[str, Any]:
            if request["method"] == "eth_chainId" and failed["count"] < 1:
                failed["count"] += 1
                return {"error": {"code": -32603, "message": "internal error"}}
            return {"result": "0x1"}

        return each(body, answer)

    async with node(reply) as (url, received), ChainClient(url, decoder()) as client:
        answers = await client.batch([("eth_blockNumber", []), ("eth_chainId", [])])
    assert answers == ["0x1", "0x1"]
    assert [[r["method"] for r in (b if isinstance(b, list) else [b])] for b in received] == [
        ["eth_blockNumber", "eth_chainId"],
        ["eth_chainId"],
    ]


async def test_a_request_the_node_keeps_failing_keeps_its_error_answer() -> None:
    def reply(body: Any) -> Any:
        return each(body, lambda r: {"error": {"code": -32603, "message": "internal error"}})

    async with node(reply) as (url, received), ChainClient(url, decoder()) as client:
        [answer] = await client.batch([("eth_blockNumber", [])])
    assert isinstance(answer, RpcError) and answer.code == -32603
    assert len(received) == ATTEMPTS


async def test_a_revert_is_never_retried() -> None:
    def reply(body: Any) -> Any:
        return each(body, lambda r: {"error": {"code": 3, "message": "execution reverted", "data": "0x08c379a0"}})

    async with node(reply) as (url, received), ChainClient(url, decoder()) as client:
        [answer] = await client.batch([("eth_call", [{"to": ADDRESS, "data": "0x"}, "latest"])])
    assert isinstance(answer, RpcError)
    assert len(received) == 1


async def test_the_attestors_reads_add_no_attempts_of_their_own() -> None:
    async with node(lambda body: {}, status=503) as (url, received):
        reads = AttestorReads(RpcChainReads({CHAIN: url}, load_artifacts()))
        try:
            with pytest.raises(ChainUnavailable):
                await reads.head(CHAIN)
        finally:
            await reads.close()
    assert len(received) == ATTEMPTS


async def test_the_relayers_contract_views_add_no_attempts_of_their_own() -> None:
    async with node(lambda body: {}, status=503) as (url, received), ChainClient(url, decoder()) as client:
        config = parse_config({
            "registry": {"name": "registry", "chain_id": 820001, "rpc_url": url, "confirmations": 0,
                         "contracts": {"investorRegistry": ADDRESS}},
            "public": [{"name": "ethereum", "chain_id": CHAIN, "rpc_url": url, "confirmations": 0}],
        })  # fmt: skip
        views = ContractViews(RpcChainReads({}, load_artifacts(), clients={820001: client}), config).fresh()
        with pytest.raises(RpcUnavailable):
            await views.registry_verified(ADDRESS)
    assert len(received) == ATTEMPTS
