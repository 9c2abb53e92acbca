"""The relayer's HTTP API (SPEC section 7), served by `dari relay`; the OpenAPI document is
`relayer.edges.http.openapi`. Handlers are thin: parse, call, serialise. Every error is a JSON body with a
4xx status (a 500 only for a bug); state-changing routes need the configured bearer token, and what they
do comes in through ports (operator actions, pauses) that the composition root wires."""

from __future__ import annotations

import hmac
import json
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from attestations.attestation import Attestation
from attestations.errors import AttestationError
from attestations.keys import Ed25519Signer
from attestations.kinds import ReconciliationReport
from attestations.log import TransparencyLog
from relayer import metrics
from relayer.core.config import Config
from relayer.core.model import UnknownOperation
from relayer.core.operator import OperatorRefused
from relayer.core.ports import OperationStore, OperatorActions, Pauser
from relayer.core.reconcile import latest_reports
from relayer.core.transfer_state import Kind, OperatorAction, State
from relayer.edges.http.openapi import document as openapi_document

log = structlog.get_logger("api")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

CONFIG = web.AppKey("config", Config)
STORE = web.AppKey("store", OperationStore)
LOG = web.AppKey("log", TransparencyLog)
LOG_SIGNER = web.AppKey("log_signer", Ed25519Signer)
TOKEN = web.AppKey("token", str)
OPERATOR: web.AppKey[OperatorActions] = web.AppKey("operator")
PAUSER: web.AppKey[Pauser] = web.AppKey("pauser")
MAX_BODY = 16 * 1024
MAX_PAGE = 1000
OPERATION_ID = re.compile("[a-z0-9-]{1,128}")  # 820001-17, link-820001-5-0, freeze-31337-820001-9-1
ALPHA2 = re.compile("[A-Z]{2}")


class BadInput(web.HTTPBadRequest):
    def __init__(self, message: str) -> None:
        super().__init__(text=json.dumps({"error": message}), content_type="application/json")


def error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every HTTP error as JSON; unexpected exceptions logged and answered 500 without details."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.content_type == "application/json":
            raise
        return error(exc.status, exc.reason)
    except Exception:
        log.exception("unhandled error", path=request.path)
        return error(500, "internal error")


def _hex32(raw: str, name: str) -> str:
    value = raw.lower()
    if len(value) != 66 or not value.startswith("0x") or any(c not in "0123456789abcdef" for c in value[2:]):
        raise BadInput(f"{name}: 0x + 64 hex digits")
    return value


def _operation_id(raw: str) -> str:
    if OPERATION_ID.fullmatch(raw) is None:
        raise BadInput("id: 1 to 128 of a-z, 0-9 and -")
    return raw


def _uint(request: web.Request, name: str, default: int | None = None, maximum: int = 2**63 - 1) -> int:
    raw = request.query.get(name)
    if raw is None:
        if default is None:
            raise BadInput(f"{name}: required")
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > len(str(maximum)) or int(raw) > maximum:
        raise BadInput(f"{name}: an integer from 0 to {maximum}")
    return int(raw)


def trust_list(config: Config, log_signer: Ed25519Signer | None) -> dict[str, Any]:
    document: dict[str, Any] = {
        "epoch": config.trust.epoch,
        "threshold": config.trust.threshold,
        "attestors": [{"id": a.id, "ed25519": a.ed25519, "address": a.address} for a in config.attestors],
    }
    if log_signer is not None:
        document["log"] = {"ed25519": log_signer.verifier.hex()}
    return document


def latest_by(documents: list[dict[str, Any]], *fields: str) -> list[dict[str, Any]]:
    """The newest attestation per value of the message ``fields`` (documents are oldest first)."""
    latest: dict[tuple[Any, ...], dict[str, Any]] = {}
    for document in documents:
        message = document["typedData"]["message"]
        latest[tuple(message[f] for f in fields)] = document
    return list(latest.values())


# --- public, read-only --------------------------------------------------------------------------


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def prometheus(_request: web.Request) -> web.Response:
    return web.Response(body=generate_latest(metrics.REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})


async def openapi(_request: web.Request) -> web.Response:
    return web.json_response(openapi_document())


async def attestors(request: web.Request) -> web.Response:
    return web.json_response(trust_list(request.app[CONFIG], request.app.get(LOG_SIGNER)))


async def attestation(request: web.Request) -> web.Response:
    document = await request.app[STORE].attestation(_hex32(request.match_info["digest"], "digest"))
    return error(404, "unknown attestation") if document is None else web.json_response(document)


async def transfer(request: web.Request) -> web.Response:
    store = request.app[STORE]
    try:
        op = await store.get(_operation_id(request.match_info["id"]))
    except UnknownOperation:
        return error(404, "unknown transfer")
    return web.json_response(
        {**op.to_json(), "attestations": await store.attestations_of(op.id), "history": await store.history(op.id)}
    )


async def transfers(request: web.Request) -> web.Response:
    state, kind = request.query.get("state"), request.query.get("kind")
    if state is not None and state not in {s.value for s in State}:
        raise BadInput(f"state: one of {sorted(s.value for s in State)}")
    if kind is not None and kind not in {k.value for k in Kind}:
        raise BadInput(f"kind: one of {sorted(k.value for k in Kind)}")
    limit = _uint(request, "limit", 100, MAX_PAGE)
    offset = _uint(request, "offset", 0)
    if limit == 0:
        raise BadInput(f"limit: an integer from 1 to {MAX_PAGE}")
    found = await request.app[STORE].find(
        state=State(state) if state else None, kind=Kind(kind) if kind else None, limit=limit, offset=offset
    )
    return web.json_response(
        {"transfers": [op.to_json() for op in found], "limit": limit, "offset": offset,
         "next": offset + limit if len(found) == limit else None}
    )  # fmt: skip


async def recognition(request: web.Request) -> web.Response:
    jurisdiction = request.query.get("jurisdiction")
    if jurisdiction is not None and ALPHA2.fullmatch(jurisdiction) is None:
        raise BadInput("jurisdiction: two upper-case letters")
    security = request.query.get("security")
    config = request.app[CONFIG]
    wanted: str | None = None
    if security is not None:
        match = next((s for s in config.securities if security.lower() in (s.id.lower(), s.isin.lower())), None)
        if match is None:
            raise BadInput("security: a configured security id or ISIN")
        wanted = match.id.lower()
    records = latest_by(await request.app[STORE].documents("RecognitionRecord"), "securityId", "jurisdiction")
    selected = [
        r for r in records
        if (jurisdiction is None or r["typedData"]["message"]["jurisdiction"] == jurisdiction)
        and (wanted is None or r["typedData"]["message"]["securityId"].lower() == wanted)
    ]  # fmt: skip
    return web.json_response({"records": selected})


async def reconciliation(request: web.Request) -> web.Response:
    reports = latest_reports(await request.app[STORE].documents(ReconciliationReport.KIND))
    if not reports:
        return error(404, "no reconciliation report yet")
    return web.json_response(
        {"reports": reports, "balanced": all(r["typedData"]["message"]["balanced"] for r in reports)}
    )


async def sth(request: web.Request) -> web.Response:
    signer = request.app.get(LOG_SIGNER)
    if signer is None:
        return error(503, "no transparency log key configured")
    log_ = request.app[LOG]
    await log_.load()
    return web.json_response(log_.tree_head(signer, int(time.time() * 1000)).to_json())


async def inclusion(request: web.Request) -> web.Response:
    log_ = request.app[LOG]
    await log_.load()
    entry = bytes.fromhex(_hex32(request.query.get("digest", ""), "digest")[2:])
    size = _uint(request, "tree_size") if "tree_size" in request.query else None
    try:
        proof = await log_.prove_inclusion(entry, size)
    except AttestationError as exc:
        return error(404, str(exc))
    return web.json_response(proof.to_json())


async def consistency(request: web.Request) -> web.Response:
    log_ = request.app[LOG]
    await log_.load()
    try:
        proof = log_.prove_consistency(_uint(request, "first"), _uint(request, "second"))
    except AttestationError as exc:
        return error(400, str(exc))
    return web.json_response(proof.to_json())


# --- state-changing, bearer token -----------------------------------------------------------------


def authorized(handler: Handler) -> Handler:
    async def check(request: web.Request) -> web.StreamResponse:
        token = request.app.get(TOKEN)
        if token is None:
            return error(403, "state-changing routes are disabled: no api.token configured")
        supplied = request.headers.get("Authorization", "")
        if not supplied.startswith("Bearer ") or not hmac.compare_digest(supplied[7:].encode(), token.encode()):
            return error(401, "a valid bearer token is required")
        return await handler(request)

    return check


async def _act(request: web.Request, action: OperatorAction, decision: Attestation | None) -> web.Response:
    operation_id = _operation_id(request.match_info["id"])
    act = request.app.get(OPERATOR)
    if act is None:
        return error(503, "operator actions are not available in this process")
    try:
        moved = await act(operation_id, action, decision)
    except UnknownOperation:
        return error(404, "unknown transfer")
    except OperatorRefused as exc:
        return error(409, str(exc))
    return web.json_response(moved.to_json())


async def retry(request: web.Request) -> web.Response:
    return await _act(request, OperatorAction.RETRY, None)


async def decide(request: web.Request) -> web.Response:
    """Approve or reject: the body is the compliance officer's signed decision (it authenticates itself: no
    bearer token), ``{"decision": <OperatorDecision attestation>}``."""
    body = _json_body(await request.read())
    if not isinstance(body, dict) or set(body) != {"decision"}:
        raise BadInput('body: {"decision": <a compliance officer\'s signed OperatorDecision attestation>}')
    try:
        decision = Attestation.parse(body["decision"])
    except AttestationError as exc:
        raise BadInput(f"decision: {exc}") from None
    return await _act(request, OperatorAction(request.match_info["decision"]), decision)


def _json_body(raw: bytes) -> Any:
    try:  # JSON is UTF-8 (RFC 8259) whatever charset the request claims; nesting is bounded by MAX_BODY
        return json.loads(raw)
    except (ValueError, RecursionError):
        raise BadInput("a JSON body is required") from None


async def pause(request: web.Request) -> web.Response:
    body = _json_body(await request.read())
    if (
        not isinstance(body, dict)
        or body.get("direction") not in ("inbound", "outbound")
        or not isinstance(body.get("paused"), bool)
    ):
        raise BadInput('body: {"direction": "inbound"|"outbound", "paused": true|false, "chainId"?: int}')
    chain_id = body.get("chainId")
    if chain_id is not None and (isinstance(chain_id, bool) or not isinstance(chain_id, int)):
        raise BadInput("chainId: an integer")
    configured = {c.chain_id for c in request.app[CONFIG].public}
    if chain_id is not None and chain_id not in configured:
        raise BadInput(f"chainId: one of {sorted(configured)}")
    pauser = request.app.get(PAUSER)
    if pauser is None:
        return error(503, "pausing is not available in this process")
    transactions = await pauser.pause(body["direction"], body["paused"], chain_id)
    return web.json_response({"direction": body["direction"], "paused": body["paused"], "transactions": transactions})


def build_app(
    config: Config,
    store: OperationStore,
    log_: TransparencyLog,
    log_signer: Ed25519Signer | None,
    *,
    token: str | None = None,
    operator: OperatorActions | None = None,
    pauser: Pauser | None = None,
) -> web.Application:
    """The API over ``store`` and ``log_``; ``operator`` and ``pauser`` carry out the state-changing routes
    (without them those routes answer 503)."""
    app = web.Application(client_max_size=MAX_BODY, middlewares=[json_errors])
    app[CONFIG], app[STORE], app[LOG] = config, store, log_
    if log_signer is not None:
        app[LOG_SIGNER] = log_signer
    if token is not None:
        app[TOKEN] = token
    if operator is not None:
        app[OPERATOR] = operator
    if pauser is not None:
        app[PAUSER] = pauser
    for path, handler in ROUTES_GET.items():
        app.router.add_get(path, handler, allow_head=False)
    app.router.add_post("/v1/transfers/{id}/retry", authorized(retry))
    app.router.add_post("/v1/transfers/{id}/{decision:approve|reject}", decide)
    app.router.add_post("/v1/pause", authorized(pause))
    return app


ROUTES_GET: dict[str, Handler] = {
    "/healthz": healthz,
    "/metrics": prometheus,
    "/openapi.json": openapi,
    "/v1/attestors": attestors,
    "/v1/attestations/{digest}": attestation,
    "/v1/transfers": transfers,
    "/v1/transfers/{id}": transfer,
    "/v1/recognition": recognition,
    "/v1/reconciliation/latest": reconciliation,
    "/v1/log/sth": sth,
    "/v1/log/proof/inclusion": inclusion,
    "/v1/log/proof/consistency": consistency,
}
