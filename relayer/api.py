"""The relayer's HTTP API (SPEC section 7), served by `dari relay`. Handlers are thin: parse, call, serialise."""

from __future__ import annotations

import json
import time
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from attestations.errors import AttestationError
from attestations.keys import Ed25519Signer
from attestations.log import TransparencyLog
from relayer import metrics
from relayer.config import Config
from relayer.store import OperationStore, UnknownOperation

CONFIG = web.AppKey("config", Config)
STORE = web.AppKey("store", OperationStore)
LOG = web.AppKey("log", TransparencyLog)
LOG_SIGNER = web.AppKey("log_signer", Ed25519Signer)
MAX_BODY = 64 * 1024


def error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def trust_list(config: Config, log_signer: Ed25519Signer | None) -> dict[str, Any]:
    document: dict[str, Any] = {
        "epoch": config.trust.epoch,
        "threshold": config.trust.threshold,
        "attestors": [{"id": a.id, "ed25519": a.ed25519, "address": a.address} for a in config.attestors],
    }
    if log_signer is not None:
        document["log"] = {"ed25519": log_signer.verifier.hex()}
    return document


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def prometheus(_request: web.Request) -> web.Response:
    return web.Response(body=generate_latest(metrics.REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})


async def attestors(request: web.Request) -> web.Response:
    return web.json_response(trust_list(request.app[CONFIG], request.app.get(LOG_SIGNER)))


async def attestation(request: web.Request) -> web.Response:
    digest = request.match_info["digest"].lower()
    if len(digest) != 66 or not digest.startswith("0x"):
        return error(400, "digest is 0x + 64 hex digits")
    document = await request.app[STORE].attestation(digest)
    return error(404, "unknown attestation") if document is None else web.json_response(document)


async def transfer(request: web.Request) -> web.Response:
    store = request.app[STORE]
    try:
        op = await store.get(request.match_info["id"])
    except UnknownOperation:
        return error(404, "unknown transfer")
    body = op.to_json()
    body["attestations"] = await store.attestations_of(op.id)
    body["history"] = await store.history(op.id)
    return web.json_response(body)


def _int(request: web.Request, name: str) -> int:
    raw = request.query.get(name)
    if raw is None or not raw.isdigit():
        raise web.HTTPBadRequest(
            text=json.dumps({"error": f"{name}: a non-negative integer"}), content_type="application/json"
        )
    return int(raw)


async def sth(request: web.Request) -> web.Response:
    signer = request.app.get(LOG_SIGNER)
    if signer is None:
        return error(503, "no transparency log key configured")
    log = request.app[LOG]
    await log.load()
    return web.json_response(log.tree_head(signer, int(time.time() * 1000)).to_json())


async def inclusion(request: web.Request) -> web.Response:
    log = request.app[LOG]
    await log.load()
    digest = request.query.get("digest", "")
    try:
        entry = bytes.fromhex(digest[2:]) if digest.startswith("0x") else b""
    except ValueError:
        entry = b""
    if len(entry) != 32:
        return error(400, "digest is 0x + 64 hex digits")
    size = _int(request, "tree_size") if "tree_size" in request.query else None
    try:
        proof = await log.prove_inclusion(entry, size)
    except AttestationError as exc:
        return error(404, str(exc))
    return web.json_response(proof.to_json())


async def consistency(request: web.Request) -> web.Response:
    log = request.app[LOG]
    await log.load()
    try:
        proof = log.prove_consistency(_int(request, "first"), _int(request, "second"))
    except AttestationError as exc:
        return error(400, str(exc))
    return web.json_response(proof.to_json())


def build_app(
    config: Config, store: OperationStore, log: TransparencyLog, log_signer: Ed25519Signer | None
) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY)
    app[CONFIG] = config
    app[STORE] = store
    app[LOG] = log
    if log_signer is not None:
        app[LOG_SIGNER] = log_signer
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", prometheus)
    app.router.add_get("/v1/attestors", attestors)
    app.router.add_get("/v1/attestations/{digest}", attestation)
    app.router.add_get("/v1/transfers/{id}", transfer)
    app.router.add_get("/v1/log/sth", sth)
    app.router.add_get("/v1/log/proof/inclusion", inclusion)
    app.router.add_get("/v1/log/proof/consistency", consistency)
    return app
