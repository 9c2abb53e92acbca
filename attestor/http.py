"""The attestor's HTTP API (aiohttp).

- ``GET /healthz`` -> 200 ``{"status": "ok"}``
- ``GET /v1/identity`` -> 200 ``{"id", "ed25519", "address"}``
- ``POST /v1/sign`` with body ``{"kind", "domain": {name, version, chainId, verifyingContract}, "message"}``
  (at most 64 KiB); a ``ReconciliationReport`` also carries ``"context": {"blocks": {"<chainId>": <block>}}``,
  the blocks it was computed at (every configured chain), which the attestor recomputes it at:

| status | body                                                  | meaning                                            |
|--------|-------------------------------------------------------|----------------------------------------------------|
| 200    | ``{"attestor", "digest", "ed25519", "secp256k1"}``    | checked against the chain, journaled, signed       |
| 400    | ``{"error": "malformed", "reason"}``                  | not a well-formed request of a signable kind       |
| 409    | ``{"error": "refused", "reason": code, "detail"}``    | contradicts the chain or the journal (permanent)   |
| 413    | ``{"error": "too-large", "reason"}``                  | body over 64 KiB                                   |
| 425    | ``{"error": "not-final", "reason": code, "detail"}``  | event not found or not final yet (ask again)       |
| 503    | ``{"error": "unavailable", "reason"}``                | a chain read or the journal failed (ask again)     |
| 500    | ``{"error": "internal", "reason"}``                   | a bug (logged with its traceback); never for input |

- ``POST /v1/sign-batch`` with body ``{"requests": [<sign request>, ...]}`` (1 to 256, at most 1 MiB; no
  ``ReconciliationReport``) -> 200 ``{"answers": [{"status", "body"}, ...]}``, one per request in order,
  each what ``/v1/sign`` would have answered for it alone; the batch's checks share one view of the chain
  and its journal entries one commit. A body that is not such a batch gets 400 (413 when too large).

Every answer is JSON. Handlers are thin: parse, call `Attestor.sign` / `Attestor.sign_many`, serialise.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import structlog
from aiohttp import web

from attestor.errors import AttestorError, BadRequest, ChainUnavailable, NotFinal, Refused
from attestor.requests import MAX_BATCH_BYTES, MAX_BODY_BYTES, SignRequest, parse_batch, parse_sign_request
from attestor.service import Attestor

log = structlog.get_logger("dari.attestor")


ATTESTOR = web.AppKey("attestor", Attestor)


def _error(status: int, error: str, reason: str, detail: str | None = None) -> web.Response:
    body = {"error": error, "reason": reason}
    if detail is not None:
        body["detail"] = detail
    return web.json_response(body, status=status)


def failure(exc: AttestorError) -> tuple[int, dict[str, str]]:
    """The HTTP status and JSON body answering ``exc`` (see the table above)."""
    if isinstance(exc, BadRequest):
        return 400, {"error": "malformed", "reason": str(exc)}
    if isinstance(exc, Refused):
        return 409, {"error": "refused", "reason": exc.code, "detail": exc.detail}
    if isinstance(exc, NotFinal):
        return 425, {"error": "not-final", "reason": exc.code, "detail": exc.detail}
    return 503, {"error": "unavailable", "reason": str(exc)}


@web.middleware
async def _errors(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> Any:
    """Maps each error to its JSON answer (see the table above)."""
    try:
        return await handler(request)
    except (BadRequest, Refused, NotFinal, ChainUnavailable) as exc:
        status, body = failure(exc)
        return web.json_response(body, status=status)
    except web.HTTPRequestEntityTooLarge as exc:
        return _error(413, "too-large", exc.text or "request body too large")
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _error(exc.status, exc.reason.lower().replace(" ", "-"), exc.reason)
    except AttestorError as exc:  # the journal cannot be written: nothing was signed
        log.error("attestor-error", detail=str(exc), path=request.path)
        return _error(503, "unavailable", str(exc))
    except Exception as exc:  # a bug, not bad input: logged with its traceback, answered in JSON
        log.exception("internal-error", path=request.path)
        return _error(500, "internal", type(exc).__name__)


async def _healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _identity(request: web.Request) -> web.Response:
    return web.json_response(request.app[ATTESTOR].key.public())


async def _body(request: web.Request, limit: int) -> bytes:
    """The request body; 413 when it is longer than ``limit`` bytes (declared or, if chunked, read)."""
    if request.content_length is not None and request.content_length > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=request.content_length)
    body = bytearray()
    while chunk := await request.content.read(64 * 1024):
        body += chunk
        if len(body) > limit:
            raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=len(body))
    return bytes(body)


async def _sign(request: web.Request) -> web.Response:
    sign_request = parse_sign_request(await _body(request, MAX_BODY_BYTES))
    return web.json_response(await request.app[ATTESTOR].sign(sign_request))


async def _sign_batch(request: web.Request) -> web.Response:
    """``{"requests": [...]}`` → ``{"answers": [{"status": ..., "body": ...}]}``, one answer per request in
    order, each the status and body `/v1/sign` would have answered for it alone."""
    parsed = parse_batch(await _body(request, MAX_BATCH_BYTES))
    valid = [r for r in parsed if isinstance(r, SignRequest)]
    signed = iter(await request.app[ATTESTOR].sign_many(valid) if valid else [])
    answers = []
    for item in parsed:
        outcome = next(signed) if isinstance(item, SignRequest) else item
        status, body = (200, outcome) if isinstance(outcome, dict) else failure(outcome)
        answers.append({"status": status, "body": body})
    return web.json_response({"answers": answers})


def make_app(attestor: Attestor) -> web.Application:
    """The API of ``attestor``; closing the app closes its chain connections and journal."""
    app = web.Application(client_max_size=MAX_BATCH_BYTES, middlewares=[_errors])
    app[ATTESTOR] = attestor

    async def lifetime(app: web.Application) -> AsyncIterator[None]:
        yield
        await app[ATTESTOR].close()

    app.cleanup_ctx.append(lifetime)
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/v1/identity", _identity)
    app.router.add_post("/v1/sign", _sign)
    app.router.add_post("/v1/sign-batch", _sign_batch)
    return app


async def serve(app: web.Application, host: str, port: int, stop: Awaitable[Any]) -> None:
    """Serves ``app`` on ``host:port`` until ``stop`` completes, then shuts down gracefully (in-flight
    requests get a few seconds to finish)."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=5.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            raise AttestorError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
        log.info("listening", attestor=app[ATTESTOR].id, host=host, port=port)
        await stop
    finally:
        await runner.cleanup()
        log.info("stopped", attestor=app[ATTESTOR].id)
