"""The attestor's HTTP API (aiohttp) and its own chain connections.

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

import asyncio
import json
import re
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web
from eth_utils.address import is_address, to_checksum_address

from adapters.recognition import recognize
from attestations.eip712 import Domain
from attestations.errors import MalformedError
from attestations.kinds import RecognitionRecord, ReconciliationReport, Statement
from attestations.signing import AttestorKey
from relayer.attestor import AttestorError, BadRequest, ChainUnavailable, NotFinal, Refused
from relayer.attestor.checks import SIGNABLE_KINDS, Checker, Claim, Recognizer, Topology
from relayer.attestor.journal import Journal, JournalEntry, JournalWriter
from relayer.attestor.memo import MemoView
from relayer.attestor.rpc import RpcChainView
from relayer.compliance import load_adapters, to_security
from relayer.config import AttestorConfig, Config
from relayer.errors import ConfigError, SecretError
from relayer.evm.artifacts import Artifacts

MAX_BODY_BYTES = 64 * 1024
MAX_BATCH = 256  # sign requests in one batch
MAX_BATCH_BYTES = MAX_BATCH * 4 * 1024
MAX_CONTEXT_CHAINS = 64
_CHAIN_ID = re.compile(r"[1-9][0-9]{0,19}")

log = structlog.get_logger("dari.attestor")

_KINDS: dict[str, type[Statement]] = {k.KIND: k for k in SIGNABLE_KINDS}


# --- the request -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignRequest:
    statement: Statement
    domain: Domain
    blocks: Mapping[int, int] | None = None  # context.blocks (ReconciliationReport only)


def _parse_domain(raw: Any) -> Domain:
    if not isinstance(raw, dict) or set(raw) != {"name", "version", "chainId", "verifyingContract"}:
        raise BadRequest("domain has exactly name, version, chainId and verifyingContract")
    name, version, chain_id, contract = raw["name"], raw["version"], raw["chainId"], raw["verifyingContract"]
    if not isinstance(name, str) or not isinstance(version, str):
        raise BadRequest("domain name and version are strings")
    if isinstance(chain_id, bool) or not isinstance(chain_id, int) or not 0 < chain_id < 2**256:
        raise BadRequest("domain.chainId is a positive integer")
    if not isinstance(contract, str) or not is_address(contract):
        raise BadRequest("domain.verifyingContract is an address")
    return Domain(chain_id, to_checksum_address(contract), name, version)


def _parse_blocks(raw: Any) -> dict[int, int]:
    if not isinstance(raw, dict) or set(raw) != {"blocks"}:
        raise BadRequest("context is an object with exactly blocks")
    blocks = raw["blocks"]
    if not isinstance(blocks, dict) or not 0 < len(blocks) <= MAX_CONTEXT_CHAINS:
        raise BadRequest(f"context.blocks maps 1 to {MAX_CONTEXT_CHAINS} chain ids to block numbers")
    parsed = {}
    for chain, block in blocks.items():
        if not _CHAIN_ID.fullmatch(chain) or int(chain) >= 2**64:
            raise BadRequest(f"context.blocks: {chain!r} is not a chain id")
        if isinstance(block, bool) or not isinstance(block, int) or not 0 <= block < 2**63:
            raise BadRequest(f"context.blocks[{chain}] is a block number")
        parsed[int(chain)] = block
    return parsed


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise BadRequest("body is not JSON") from None


def parse_sign_request(body: bytes) -> SignRequest:
    """The request in ``body``; `BadRequest` on anything else (never another exception)."""
    return _parse_request(_json(body))


def parse_batch(body: bytes) -> list[SignRequest | BadRequest]:
    """The requests of a ``POST /v1/sign-batch`` body (``{"requests": [...]}``, at most `MAX_BATCH`),
    each parsed or the `BadRequest` it is; `BadRequest` when the body itself is not such an object."""
    raw = _json(body)
    if not isinstance(raw, dict) or set(raw) != {"requests"} or not isinstance(raw["requests"], list):
        raise BadRequest("a batch is an object with exactly requests, a list of sign requests")
    if not 0 < len(raw["requests"]) <= MAX_BATCH:
        raise BadRequest(f"a batch holds 1 to {MAX_BATCH} requests")
    parsed: list[SignRequest | BadRequest] = []
    for item in raw["requests"]:
        try:
            request = _parse_request(item)
        except BadRequest as exc:
            parsed.append(exc)
            continue
        if request.blocks is not None:
            parsed.append(BadRequest("a ReconciliationReport is signed alone, through /v1/sign"))
            continue
        parsed.append(request)
    return parsed


def _parse_request(raw: Any) -> SignRequest:
    if not isinstance(raw, dict) or not {"kind", "domain", "message"} <= set(raw) <= {
        "kind", "domain", "message", "context"
    }:  # fmt: skip
        raise BadRequest("a sign request is an object with exactly kind, domain, message (and context)")
    kind = raw["kind"]
    if not isinstance(kind, str) or kind not in _KINDS:
        raise BadRequest(f"kind must be one of {sorted(_KINDS)}")
    domain = _parse_domain(raw["domain"])
    try:
        statement = _KINDS[kind].from_message(raw["message"])
    except (MalformedError, ValueError, TypeError, OverflowError) as exc:
        raise BadRequest(f"message: {exc}") from None
    if ("context" in raw) != (kind == ReconciliationReport.KIND):
        raise BadRequest("context (the blocks) goes with a ReconciliationReport, and only with it")
    return SignRequest(statement, domain, _parse_blocks(raw["context"]) if "context" in raw else None)


# --- the attestor ------------------------------------------------------------------------------------------


class Attestor:
    """One attestor: checks a statement against the chain, journals it, signs it."""

    def __init__(
        self, key: AttestorKey, checker: Checker, journal: Journal, clock: Callable[[], float] = time.time
    ) -> None:
        self.key = key
        self.checker = checker
        self.journal = JournalWriter(journal)  # group commits, off the event loop
        self.clock = clock

    @property
    def id(self) -> str:
        return self.key.id

    async def sign(self, request: SignRequest) -> dict[str, str]:
        """The signature answer, or `Refused` / `NotFinal` / `ChainUnavailable`."""
        statement, domain = request.statement, request.domain
        digest = statement.digest(domain)
        now = int(self.clock())
        context = {"kind": statement.KIND, "digest": "0x" + digest.hex(), "chain_id": domain.chain_id}
        try:
            claim = await self.checker.check(statement, domain, now, blocks=request.blocks)
            entry = JournalEntry(statement.KIND, claim.source_chain_id, claim.nonce, digest, now)
            [conflict] = await self.journal.record_many([(entry, claim.excludes)])  # before the signature leaves
            if conflict is not None:
                raise conflict
        except Refused as exc:
            log.warning("refused", reason=exc.code, detail=exc.detail, **context)
            raise
        except NotFinal as exc:
            log.info("not-final", reason=exc.code, detail=exc.detail, **context)
            raise
        except ChainUnavailable as exc:
            log.warning("chain-unavailable", detail=str(exc), **context)
            raise
        signature = self.key.sign(digest)
        log.info("signed", source_chain_id=claim.source_chain_id, nonce=claim.nonce, **context)
        return {
            "attestor": signature.attestor,
            "digest": "0x" + digest.hex(),
            "ed25519": "0x" + signature.ed25519.hex(),
            "secp256k1": "0x" + signature.secp256k1.hex(),
        }

    async def sign_many(self, requests: Sequence[SignRequest]) -> list[dict[str, str] | AttestorError]:
        """`sign` for a batch: the checks run concurrently against one `MemoView` of the chain, the journal
        records every passing statement in one transaction; per request, the answer or its error."""
        checker = self.checker.for_batch(MemoView(self.checker.view))
        now = int(self.clock())
        await checker.prefetch([r.statement for r in requests])

        async def check(request: SignRequest) -> Claim | AttestorError:
            try:
                return await checker.check(request.statement, request.domain, now)
            except AttestorError as exc:
                return exc

        claims = await asyncio.gather(*(check(r) for r in requests))
        digests = [r.statement.digest(r.domain) for r in requests]
        passing = [i for i, claim in enumerate(claims) if isinstance(claim, Claim)]
        conflicts = await self.journal.record_many([
            (JournalEntry(requests[i].statement.KIND, c.source_chain_id, c.nonce, digests[i], now), c.excludes)
            for i in passing
            for c in [claims[i]]
            if isinstance(c, Claim)
        ])  # fmt: skip
        outcomes: list[Claim | AttestorError] = list(claims)
        for i, conflict in zip(passing, conflicts, strict=True):
            if conflict is not None:
                outcomes[i] = conflict
        answers: list[dict[str, str] | AttestorError] = []
        for request, digest, outcome in zip(requests, digests, outcomes, strict=True):
            context = {
                "kind": request.statement.KIND,
                "digest": "0x" + digest.hex(),
                "chain_id": request.domain.chain_id,
            }
            if isinstance(outcome, AttestorError):
                log.debug("not signed", error=type(outcome).__name__, detail=str(outcome), **context)
                answers.append(outcome)
                continue
            signature = self.key.sign(digest)
            log.debug("signed", source_chain_id=outcome.source_chain_id, nonce=outcome.nonce, **context)
            answers.append({
                "attestor": signature.attestor, "digest": "0x" + digest.hex(),
                "ed25519": "0x" + signature.ed25519.hex(), "secp256k1": "0x" + signature.secp256k1.hex(),
            })  # fmt: skip
        refused = Counter(type(a).__name__ for a in answers if isinstance(a, AttestorError))
        log.info("batch signed", requests=len(requests), signed=len(requests) - refused.total(), **refused)
        return answers

    async def close(self) -> None:
        view = self.checker.view
        if isinstance(view, RpcChainView):
            await view.close()
        self.journal.close()


def load_key(entry: AttestorConfig) -> AttestorKey:
    """The attestor's key pair from its key file or environment variable; `ConfigError` when it is missing,
    unreadable, or not the pair the configuration publishes for this id."""
    where = f"attestors[{entry.id}].key"
    if entry.key is None:
        raise ConfigError(where, ["this attestor's key is not configured (key_file or key_env)"])
    try:
        key = AttestorKey.from_json(json.loads(entry.key.read()))
    except SecretError as exc:
        raise ConfigError(where, [str(exc)]) from None
    except ValueError:
        raise ConfigError(where, ["the key is not attestor key JSON {id, ed25519, secp256k1}"]) from None
    except MalformedError as exc:
        raise ConfigError(where, [str(exc)]) from None
    public = key.public()
    if (public["id"], public["ed25519"].lower(), public["address"].lower()) != (
        entry.id, entry.ed25519.lower(), entry.address.lower()
    ):  # fmt: skip
        raise ConfigError(where, ["the key is not the one published for this attestor (id, ed25519, address)"])
    return key


def rpc_urls(config: Config, entry: AttestorConfig) -> dict[int, str]:
    """Chain id -> the attestor's own RPC URL (its ``rpc`` table, else the chain's ``rpc_url``)."""
    return {c.chain_id: entry.rpc.get(str(c.chain_id), c.rpc_url) for c in (config.registry, *config.public)}


def build_attestor(config: Config, attestor_id: str, base_dir: Path, artifacts: Artifacts) -> Attestor:
    """The attestor ``attestor_id`` of ``config`` (paths relative to ``base_dir``); `ConfigError` on any
    problem with its entry, key or contracts."""
    entry = next((a for a in config.attestors if a.id == attestor_id), None)
    if entry is None:
        known = ", ".join(a.id for a in config.attestors) or "none"
        raise ConfigError("attestors", [f"no attestor {attestor_id!r} (configured: {known})"])
    key = load_key(entry)
    topology = Topology.from_config(config)
    journal = Journal(entry.journal or base_dir / f"attestor-{attestor_id}.db")
    view = RpcChainView(rpc_urls(config, entry), artifacts)
    return Attestor(key, Checker(topology, view, recognizer(config)), journal)


def recognizer(config: Config) -> Recognizer:
    """Recomputes a recognition record with this attestor's own rule packs and security facts."""
    adapters = load_adapters(config)
    securities = {bytes.fromhex(s.id[2:]): s for s in config.securities}
    days = config.adapters.recognition_validity_days

    def recompute(statement: RecognitionRecord) -> RecognitionRecord | None:
        entry = securities.get(statement.security_id)
        if entry is None or statement.jurisdiction not in adapters.adapters:
            return None
        return recognize(to_security(entry), statement.jurisdiction, adapters, statement.valid_from, days).record

    return recompute


# --- HTTP --------------------------------------------------------------------------------------------------

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
