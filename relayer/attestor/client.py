"""The relayer's side of the attestors: ask every attestor to sign a statement, concurrently, and return
as soon as ``threshold`` of them answered with a signature that verifies locally (ed25519 under the
attestor's configured key, secp256k1 recovering its configured address, over the digest computed here).

Outcomes: the signatures (exactly ``threshold``, ordered by increasing signer address as the contracts
require); `AttestationRefused` when refusals (409, or 400: a request they will never accept) leave too few
attestors to reach the threshold; otherwise `NotYetAttested` (not final yet, unreachable, timed out, or an
answer that does not verify): ask again later.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import structlog
from eth_utils.address import to_checksum_address

from attestations.attestation import AttestorSignature
from attestations.eip712 import Domain
from attestations.errors import AttestationError
from attestations.keys import Ed25519Verifier, recover_address
from attestations.kinds import Statement
from relayer.attestor import AttestationRefused, AttestorError, NotYetAttested
from relayer.config import AttestorConfig

__all__ = ["AttestationRefused", "NotYetAttested", "check_signature", "gather", "sign_request"]

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
    Ed25519Verifier.from_hex(attestor.ed25519).verify(digest, signature.ed25519)
    if recover_address(digest, signature.secp256k1) != to_checksum_address(attestor.address):
        raise AttestationError(f"secp256k1 signature is not by {attestor.address}")
    return signature


def _reason(payload: Any, status: int) -> str:
    reason = payload.get("reason") if isinstance(payload, dict) else None
    if isinstance(reason, str):
        detail = payload.get("detail")
        return reason + (f": {detail}" if isinstance(detail, str) else "")
    return f"HTTP {status}"


async def ask(
    session: aiohttp.ClientSession, attestor: AttestorConfig, body: dict[str, Any], digest: bytes, timeout: float
) -> Answer:
    """One attestor's answer; never raises for anything the attestor or the network does."""
    url = attestor.url.rstrip("/") + "/v1/sign"
    try:
        async with session.post(url, json=body, timeout=aiohttp.ClientTimeout(total=timeout)) as response:
            status = response.status
            try:
                payload = await response.json(content_type=None)
            except ValueError:
                payload = None
    except (aiohttp.ClientError, TimeoutError) as exc:
        return Answer(attestor.id, Outcome.PENDING, f"unreachable: {type(exc).__name__} {exc}".strip())
    if status == 200:
        try:
            return Answer(attestor.id, Outcome.SIGNED, signature=check_signature(attestor, digest, payload))
        except AttestationError as exc:
            log.warning("invalid-signature", attestor=attestor.id, detail=str(exc))
            return Answer(attestor.id, Outcome.PENDING, f"invalid answer: {exc}")
    if status in (400, 409):
        return Answer(attestor.id, Outcome.REFUSED, _reason(payload, status))
    return Answer(attestor.id, Outcome.PENDING, _reason(payload, status))


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
    request body as is (a ReconciliationReport's ``{"blocks": {...}}``)."""
    distinct = list({a.id: a for a in attestors}.values())
    if not 0 < threshold <= len(distinct):
        raise AttestorError(f"threshold {threshold} with {len(distinct)} attestors can never be reached")
    digest = statement.digest(domain)
    body = sign_request(statement, domain)
    if context is not None:
        body["context"] = dict(context)
    own = session is None
    client = aiohttp.ClientSession() if session is None else session
    tasks = [asyncio.create_task(ask(client, a, body, digest, timeout)) for a in distinct]
    signed: dict[str, AttestorSignature] = {}
    refused: dict[str, str] = {}
    pending: dict[str, str] = {}
    addresses = {a.id: int(a.address, 16) for a in distinct}
    try:
        for next_answer in asyncio.as_completed(tasks):
            answer = await next_answer
            if answer.outcome is Outcome.SIGNED and answer.signature is not None:
                signed[answer.attestor] = answer.signature
            elif answer.outcome is Outcome.REFUSED:
                refused[answer.attestor] = answer.reason
            else:
                pending[answer.attestor] = answer.reason
            if len(signed) >= threshold:
                return sorted(signed.values(), key=lambda s: addresses[s.attestor])
            if len(distinct) - len(refused) < threshold:
                raise AttestationRefused(refused)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if own:
            await client.close()
    raise NotYetAttested(
        f"{statement.KIND} 0x{digest.hex()}: {len(signed)} of {threshold} signatures; "
        + "; ".join(f"{k}: {v}" for k, v in sorted({**pending, **refused}.items()))
    )
