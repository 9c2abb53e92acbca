"""The relayer's side of the attestors (`relayer.core.ports.Attestors`, over HTTP): ask every attestor to
sign a statement, concurrently, and return as soon as ``threshold`` of them answered with a signature that
verifies locally (ed25519 under the attestor's configured key, secp256k1 recovering its configured address,
over the digest computed here).

Outcomes: the signatures (exactly ``threshold``, ordered by increasing signer address as the contracts
require); `AttestationRefused` when refusals (409, or 400: a request they will never accept) leave too few
attestors to reach the threshold; otherwise `NotYetAttested` (not final yet, unreachable, timed out, or an
answer that does not verify): ask again later.
"""

from __future__ import annotations

import asyncio
import enum
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import structlog

from attestations.attestation import AttestorSignature
from attestations.eip712 import Domain
from attestations.errors import AttestationError
from attestations.keys import Ed25519Verifier, recover_address
from attestations.kinds import Statement
from relayer.core.config import AttestorConfig, Config
from relayer.core.errors import AttestationRefused, ConfigError, NotYetAttested
from relayer.core.ports import Gathered
from relayer.edges.evm.abi import checksum_address

DEFAULT_TIMEOUT = 10.0  # seconds one attestor may take to answer

log = structlog.get_logger("dari.attestor.client")


class Outcome(enum.Enum):
    SIGNED = "signed"
    REFUSED = "refused"
    PENDING = "pending"


@dataclass(frozen=True)
class Answer:
    """One attestor's answer to one sign request."""

    attestor: str
    outcome: Outcome
    reason: str = ""
    signature: AttestorSignature | None = None


def sign_request(statement: Statement, domain: Domain) -> dict[str, Any]:
    """The ``POST /v1/sign`` body for ``statement`` under ``domain``."""
    return {"kind": statement.KIND, "domain": domain.to_json(), "message": statement.to_message()}


def check_signature(attestor: AttestorConfig, digest: bytes, payload: Any) -> AttestorSignature:
    """The signature in a 200 answer, if it is ``attestor``'s over ``digest``; `AttestationError` if not."""
    if not isinstance(payload, dict) or set(payload) != {"attestor", "digest", "ed25519", "secp256k1"}:
        raise AttestationError("answer is not {attestor, digest, ed25519, secp256k1}")
    if payload["digest"] != "0x" + digest.hex():
        raise AttestationError(f"signed digest {payload['digest']!r}, asked for 0x{digest.hex()}")
    signature = AttestorSignature.from_json({k: payload[k] for k in ("attestor", "ed25519", "secp256k1")})
    if signature.attestor != attestor.id:
        raise AttestationError(f"answer names attestor {signature.attestor!r}")
    _verifier(attestor.ed25519).verify(digest, signature.ed25519)
    if recover_address(digest, signature.secp256k1) != checksum_address(attestor.address):
        raise AttestationError(f"secp256k1 signature is not by {attestor.address}")
    return signature


@functools.cache
def _verifier(public_key: str) -> Ed25519Verifier:
    return Ed25519Verifier.from_hex(public_key)


def _reason(payload: Any, status: int) -> str:
    reason = payload.get("reason") if isinstance(payload, dict) else None
    if isinstance(reason, str):
        detail = payload.get("detail")
        return reason + (f": {detail}" if isinstance(detail, str) else "")
    return f"HTTP {status}"


def _answer(attestor: AttestorConfig, status: int, payload: Any, digest: bytes) -> Answer:
    """Classifies one attestor's answer (HTTP status and JSON body) to a sign request for ``digest``."""
    if status == 200:
        try:
            return Answer(attestor.id, Outcome.SIGNED, signature=check_signature(attestor, digest, payload))
        except AttestationError as exc:
            log.warning("invalid-signature", attestor=attestor.id, detail=str(exc))
            return Answer(attestor.id, Outcome.PENDING, f"invalid answer: {exc}")
    if status in (400, 409):
        return Answer(attestor.id, Outcome.REFUSED, _reason(payload, status))
    return Answer(attestor.id, Outcome.PENDING, _reason(payload, status))


async def _post(
    session: aiohttp.ClientSession, url: str, body: dict[str, Any], timeout: float
) -> tuple[int, Any] | str:
    """The status and JSON answer of a POST, or why there is none."""
    try:
        async with session.post(url, json=body, timeout=aiohttp.ClientTimeout(total=timeout)) as response:
            try:
                return response.status, await response.json(content_type=None)
            except ValueError:
                return response.status, None
    except (aiohttp.ClientError, TimeoutError) as exc:
        return f"unreachable: {type(exc).__name__} {exc}".strip()


async def ask(
    session: aiohttp.ClientSession, attestor: AttestorConfig, body: dict[str, Any], digest: bytes, timeout: float
) -> Answer:
    """One attestor's answer; never raises for anything the attestor or the network does."""
    answered = await _post(session, attestor.url.rstrip("/") + "/v1/sign", body, timeout)
    if isinstance(answered, str):
        return Answer(attestor.id, Outcome.PENDING, answered)
    return _answer(attestor, *answered, digest)


async def ask_batch(
    session: aiohttp.ClientSession, attestor: AttestorConfig, bodies: list[dict[str, Any]], timeout: float
) -> list[tuple[int, Any]] | str:
    """One attestor's answers to a batch (``POST /v1/sign-batch``): per body the status and JSON body
    `/v1/sign` would have answered, or why there are none. Never raises; signatures are not checked yet."""
    answered = await _post(session, attestor.url.rstrip("/") + "/v1/sign-batch", {"requests": bodies}, timeout)
    if isinstance(answered, str):
        return answered
    status, payload = answered
    items = payload.get("answers") if status == 200 and isinstance(payload, dict) else None
    if not isinstance(items, list) or len(items) != len(bodies) or not all(isinstance(i, dict) for i in items):
        return _reason(payload, status) if status != 200 else "batch answer is not one answer per request"
    return [(i["status"] if isinstance(i.get("status"), int) else 0, i.get("body")) for i in items]


class _Tally:
    """The answers to one statement so far, and whether they decide it."""

    def __init__(self, distinct: list[AttestorConfig], threshold: int) -> None:
        self.total, self.threshold = len(distinct), threshold
        self.addresses = {a.id: int(a.address, 16) for a in distinct}
        self.signed: dict[str, AttestorSignature] = {}
        self.refused: dict[str, str] = {}
        self.pending: dict[str, str] = {}

    def add(self, answer: Answer) -> list[AttestorSignature] | AttestationRefused | None:
        """Records ``answer``; the outcome once decided (threshold signatures, or too many refusals)."""
        if answer.outcome is Outcome.SIGNED and answer.signature is not None:
            self.signed[answer.attestor] = answer.signature
        elif answer.outcome is Outcome.REFUSED:
            self.refused[answer.attestor] = answer.reason
        else:
            self.pending[answer.attestor] = answer.reason
        if len(self.signed) >= self.threshold:
            return sorted(self.signed.values(), key=lambda s: self.addresses[s.attestor])[: self.threshold]
        if self.total - len(self.refused) < self.threshold:
            return AttestationRefused(self.refused)
        return None

    def undecided(self, statement: Statement, digest: bytes) -> NotYetAttested:
        return NotYetAttested(
            f"{statement.KIND} 0x{digest.hex()}: {len(self.signed)} of {self.threshold} signatures; "
            + "; ".join(f"{k}: {v}" for k, v in sorted({**self.pending, **self.refused}.items()))
        )


def _distinct(attestors: list[AttestorConfig], threshold: int) -> list[AttestorConfig]:
    distinct = list({a.id: a for a in attestors}.values())
    if not 0 < threshold <= len(distinct):
        raise ConfigError("trust.threshold", [f"{threshold} with {len(distinct)} attestors can never be reached"])
    return distinct


async def gather(
    statement: Statement,
    domain: Domain,
    attestors: list[AttestorConfig],
    threshold: int,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    session: aiohttp.ClientSession | None = None,
    context: Mapping[str, Any] | None = None,
) -> list[AttestorSignature]:
    """``threshold`` verified signatures of ``statement`` under ``domain``, by increasing signer address;
    `AttestationRefused` or `NotYetAttested` otherwise (see the module docstring). ``context`` goes into the
    request body as is (a ReconciliationReport's ``{"blocks": {...}}``, a decided kind's ``{"claim", "decision"}``)."""
    distinct = _distinct(attestors, threshold)
    digest = statement.digest(domain)
    body = sign_request(statement, domain)
    if context is not None:
        body["context"] = dict(context)
    own = session is None
    client = aiohttp.ClientSession() if session is None else session
    tasks = [asyncio.create_task(ask(client, a, body, digest, timeout)) for a in distinct]
    tally = _Tally(distinct, threshold)
    try:
        for next_answer in asyncio.as_completed(tasks):
            outcome = tally.add(await next_answer)
            if isinstance(outcome, AttestationRefused):
                raise outcome
            if outcome is not None:
                return outcome
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if own:
            await client.close()
    raise tally.undecided(statement, digest)


async def gather_many(
    requests: Sequence[tuple[Statement, Domain]],
    attestors: list[AttestorConfig],
    threshold: int,
    *,
    session: aiohttp.ClientSession,
    timeout: float = DEFAULT_TIMEOUT,
    contexts: Sequence[Mapping[str, Any] | None] = (),
) -> list[Gathered]:
    """`gather` for many statements, one batch request per attestor; per statement, its signatures or why
    there are none. Returns once every statement is decided or every attestor answered; a signature is
    verified only while its statement is undecided. ``contexts``: per request, its context (or none)."""
    distinct = _distinct(attestors, threshold)
    if not requests:
        return []
    digests = [statement.digest(domain) for statement, domain in requests]
    bodies = [sign_request(statement, domain) for statement, domain in requests]
    for body, context in zip(bodies, contexts, strict=False):
        if context:
            body["context"] = dict(context)
    tallies = [_Tally(distinct, threshold) for _ in requests]
    outcomes: list[list[AttestorSignature] | AttestationRefused | None] = [None] * len(requests)

    async def ask(attestor: AttestorConfig) -> tuple[AttestorConfig, list[tuple[int, Any]] | str]:
        return attestor, await ask_batch(session, attestor, bodies, timeout)

    tasks = [asyncio.create_task(ask(a)) for a in distinct]
    try:
        for next_batch in asyncio.as_completed(tasks):
            attestor, answers = await next_batch
            for i, outcome in enumerate(outcomes):
                if outcome is None:
                    answer = (
                        Answer(attestor.id, Outcome.PENDING, answers)
                        if isinstance(answers, str)
                        else _answer(attestor, *answers[i], digests[i])
                    )
                    outcomes[i] = tallies[i].add(answer)
            if all(o is not None for o in outcomes):
                break
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return [
        tally.undecided(statement, digest) if outcome is None else outcome
        for (statement, _), digest, tally, outcome in zip(requests, digests, tallies, outcomes, strict=True)
    ]


class HttpAttestors:
    """`Attestors`: the configured committee over one HTTP session."""

    def __init__(self, config: Config, session: aiohttp.ClientSession, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self._attestors, self._threshold = config.attestors, config.trust.threshold
        self._session, self._timeout = session, timeout

    async def gather_many(
        self, requests: Sequence[tuple[Statement, Domain]], contexts: Sequence[Mapping[str, Any] | None] = ()
    ) -> list[Gathered]:
        return await gather_many(
            requests, self._attestors, self._threshold, session=self._session, timeout=self._timeout,
            contexts=contexts,
        )  # fmt: skip

    async def gather(
        self, statement: Statement, domain: Domain, *, context: Mapping[str, Any] | None = None
    ) -> list[AttestorSignature]:
        return await gather(
            statement, domain, self._attestors, self._threshold, timeout=self._timeout, session=self._session,
            context=context,
        )  # fmt: skip
