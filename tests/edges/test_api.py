"""The HTTP API in-process over a real database (SQLite and PostgreSQL): every route, bad input → JSON
4xx, bearer auth, size limits, pagination, and an OpenAPI document that matches the routes."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from openapi_spec_validator import validate
from sqlalchemy.ext.asyncio import AsyncEngine

from attestations.attestation import Attestation
from attestations.eip712 import Domain
from attestations.log import TransparencyLog
from relayer.core.config import Config, SignerConfig, parse_config
from relayer.core.model import Source
from relayer.core.signed import signed_decision, trust_of
from relayer.core.transfer_state import Event
from relayer.devtools.devnet.cast import officer_key
from relayer.edges.db import engine as db
from relayer.edges.db.log_store import SqlLogStorage
from relayer.edges.db.store import OperationStore
from relayer.edges.http.api import ROUTES_GET, build_app
from relayer.edges.http.openapi import document
from relayer.pipeline.operator import Operator
from tests.core.test_config import minimal
from tests.edges.test_store import bridge_out
from tests.vectors.attestation_vectors import path as vector_path
from tests.vectors.log_vectors import log_signer

Client = TestClient[web.Request, web.Application]
TOKEN = "s3cret-token"
RECOGNITION = json.loads(vector_path("RecognitionRecord").read_text())["attestation"]
SECURITY_ID = RECOGNITION["typedData"]["message"]["securityId"]
DECISIONS = Domain(820001, "0x" + "e5" * 20)  # where the officer's decisions are bound (the escrow's domain)


def config() -> Config:
    raw = minimal()
    raw["securities"] = [{"id": SECURITY_ID, "isin": "KR7005930003", "name": "Hanbit", "asset_class": "equity"}]
    return parse_config(raw)


async def seeded_app(engine: AsyncEngine) -> web.Application:
    """The API over ``engine`` (migrated here): five bridge-outs, 820001-1 held, 820001-2 with a logged
    recognition record; the log key and the bearer token configured."""
    await db.upgrade(engine)
    store = OperationStore(engine)
    log = TransparencyLog(SqlLogStorage(engine))
    await log.load()
    for nonce in range(1, 6):
        await store.observe_many([bridge_out(nonce)])
    await store.transition("820001-1", Event.FINALIZED)
    await store.transition("820001-1", Event.ESCALATED, reason="unverified-rule")
    for document_ in (RECOGNITION,):
        attestation = Attestation.parse(document_)
        await log.append(attestation.digest)
        await store.save_attestation(attestation, "820001-2")
    cfg = config()
    operator = Operator(store, time.time, log, trust_of([officer()]), DECISIONS)
    return build_app(cfg, store, log, log_signer(), token=TOKEN, operator=operator)


def officer() -> SignerConfig:
    public = officer_key().public()
    return SignerConfig(id=public["id"], ed25519=public["ed25519"], address=public["address"])


async def decision(client: Client, operation_id: str, approve: bool = True, other: bool = False) -> dict[str, Any]:
    """The devnet officer's signed decision about ``operation_id`` (as the API shows it; ``other``: about
    another event of its transaction), as a request body."""
    shown = await (await client.get(f"/v1/transfers/{operation_id}")).json()
    log_index = shown["sourceLogIndex"] + (1 if other else 0)
    source = Source(shown["sourceChainId"], shown["sourceTxHash"], shown["sourceBlock"], "", log_index)
    signed = signed_decision(
        officer_key(),
        DECISIONS,
        source,
        approve=approve,
        locked_until=0,
        reason="ok",
        now=1,
    )
    return {"decision": signed.to_json()}


@pytest.fixture
async def client(database_url: str) -> AsyncIterator[Client]:
    engine = db.create_engine(database_url)
    async with TestClient(TestServer(await seeded_app(engine))) as test_client:
        yield test_client
    await engine.dispose()


def test_openapi_document_is_valid_and_matches_the_routes() -> None:
    spec = document()
    validate(spec)
    app = build_app(config(), None, None, None)  # type: ignore[arg-type]
    routes = {(r.method.lower(), r.resource.canonical) for r in app.router.routes() if r.resource is not None}
    documented = {(method, path) for path, item in spec["paths"].items() for method in item}
    assert routes == documented
    assert set(ROUTES_GET) == {p for p, item in spec["paths"].items() if "get" in item}


async def test_read_routes(client: Client) -> None:
    assert (await (await client.get("/healthz")).json()) == {"status": "ok"}
    assert (await client.get("/metrics")).status == 200
    assert (await (await client.get("/openapi.json")).json())["openapi"] == "3.1.0"
    trust = await (await client.get("/v1/attestors")).json()
    assert set(trust) == {"epoch", "threshold", "attestors", "log"}
    held = await (await client.get("/v1/transfers/820001-1")).json()
    assert (held["state"], held["reason"]) == ("held", "unverified-rule")
    assert [h["to"] for h in held["history"]] == ["observed", "finalized", "held"]
    with_attestation = await (await client.get("/v1/transfers/820001-2")).json()
    assert with_attestation["attestations"] == [RECOGNITION["digest"]]
    assert (await (await client.get(f"/v1/attestations/{RECOGNITION['digest']}")).json())["kind"] == "RecognitionRecord"
    records = await (await client.get("/v1/recognition?jurisdiction=US")).json()
    assert [r["digest"] for r in records["records"]] == [RECOGNITION["digest"]]
    assert (await (await client.get("/v1/recognition?jurisdiction=JP")).json()) == {"records": []}
    assert len((await (await client.get("/v1/recognition?security=KR7005930003")).json())["records"]) == 1
    sth = await (await client.get("/v1/log/sth")).json()
    assert sth["tree_size"] == 1
    proof = await (await client.get(f"/v1/log/proof/inclusion?digest={RECOGNITION['digest']}")).json()
    assert proof["leaf_index"] == 0
    assert (await client.get("/v1/reconciliation/latest")).status == 404


async def test_pagination(client: Client) -> None:
    first = await (await client.get("/v1/transfers?limit=2")).json()
    assert ([t["id"] for t in first["transfers"]], first["next"]) == (["820001-1", "820001-2"], 2)
    last = await (await client.get("/v1/transfers?limit=2&offset=4")).json()
    assert ([t["id"] for t in last["transfers"]], last["next"]) == (["820001-5"], None)
    held = await (await client.get("/v1/transfers?state=held")).json()
    assert [t["id"] for t in held["transfers"]] == ["820001-1"]


@pytest.mark.parametrize(
    "url",
    [
        "/v1/attestations/0x12",
        "/v1/attestations/" + "0x" + "zz" * 32,
        "/v1/transfers?limit=0",
        "/v1/transfers?limit=5000",
        "/v1/transfers?offset=-1",
        "/v1/transfers?state=nope",
        "/v1/transfers?kind=nope",
        "/v1/recognition?jurisdiction=usa",
        "/v1/recognition?security=KR0000000000",
        "/v1/log/proof/inclusion",
        "/v1/log/proof/inclusion?digest=0x1234",
        "/v1/log/proof/inclusion?digest=" + "0x" + "11" * 32 + "&tree_size=x",
        "/v1/log/proof/consistency?first=1",
        "/v1/log/proof/consistency?first=3&second=1",
    ],
)
async def test_bad_input_is_a_json_400(client: Client, url: str) -> None:
    response = await client.get(url)
    assert response.status == 400, url
    assert "error" in await response.json()


@pytest.mark.parametrize(
    ("method", "url", "status"),
    [
        ("GET", "/v1/transfers/820001-999", 404),
        ("GET", "/v1/attestations/0x" + "11" * 32, 404),
        ("GET", "/v1/log/proof/inclusion?digest=0x" + "11" * 32, 404),
        ("GET", "/nowhere", 404),
        ("POST", "/v1/attestors", 405),
    ],
)
async def test_unknown_things_are_json_4xx(client: Client, method: str, url: str, status: int) -> None:
    response = await client.request(method, url)
    assert response.status == status
    assert "error" in await response.json()


async def test_state_changes_need_the_bearer_token(client: Client) -> None:
    assert (await client.post("/v1/transfers/820001-1/retry")).status == 401
    assert (await client.post("/v1/transfers/820001-1/retry", headers={"Authorization": "Bearer nope"})).status == 401
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert (await client.post("/v1/transfers/820001-999/retry", headers=auth)).status == 404
    assert (await client.post("/v1/transfers/820001-1/explode", headers=auth)).status == 404
    bad = await client.post("/v1/pause", headers=auth, data=b"not json")
    assert bad.status == 400
    wrong = await client.post("/v1/pause", headers=auth, json={"direction": "sideways", "paused": True})
    assert wrong.status == 400
    unavailable = await client.post("/v1/pause", headers=auth, json={"direction": "inbound", "paused": True})
    assert unavailable.status == 503  # this test app has no chain access


async def test_approval_and_rejection_take_the_officers_signed_decision_not_the_token(client: Client) -> None:
    """The relayer holds no officer key: the bearer token approves nothing; the officer's own signature on the
    held transfer does (it authenticates itself), once."""
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for body in (None, {}, {"decision": "x"}, {"decision": {"kind": "OperatorDecision"}}):
        answer = await client.post("/v1/transfers/820001-1/approve", headers=auth, json=body)
        assert answer.status == 400, body
    other = await decision(client, "820001-1", other=True)  # signed, but about another event
    refused = await client.post("/v1/transfers/820001-1/approve", json=other)
    assert refused.status == 409
    assert "operator-decision-invalid" in (await refused.json())["error"]
    rejecting = await decision(client, "820001-1", approve=False)
    assert (await client.post("/v1/transfers/820001-1/approve", json=rejecting)).status == 409
    body = await decision(client, "820001-1")
    approved = await client.post("/v1/transfers/820001-1/approve", json=body)
    assert (approved.status, (await approved.json())["state"]) == (200, "approved")
    shown = await (await client.get("/v1/transfers/820001-1")).json()
    assert shown["operatorDecision"] == "0x" + Attestation.parse(body["decision"]).digest.hex()
    assert (await client.get(f"/v1/attestations/{shown['operatorDecision']}")).status == 200
    again = await client.post("/v1/transfers/820001-1/approve", json=body)
    assert again.status == 409
    assert (await client.post("/v1/transfers/820001-999/reject", json=rejecting)).status == 404


async def test_body_size_limit(client: Client) -> None:
    response = await client.post("/v1/pause", headers={"Authorization": f"Bearer {TOKEN}"}, data=b"x" * (64 * 1024))
    assert response.status == 413
    assert "error" in await response.json()


async def test_without_a_configured_token_state_changes_are_disabled(database_url: str) -> None:
    engine = db.create_engine(database_url)
    await db.upgrade(engine)
    app = build_app(config(), OperationStore(engine), TransparencyLog(SqlLogStorage(engine)), None)
    async with TestClient(TestServer(app)) as c:
        assert (await c.post("/v1/transfers/x/retry", headers={"Authorization": "Bearer x"})).status == 403
        assert (await c.get("/v1/log/sth")).status == 503
    await engine.dispose()
