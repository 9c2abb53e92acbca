"""Sign requests as the attestor's API takes them: ``{"kind", "domain", "message"[, "context"]}`` alone
(``POST /v1/sign``, at most 64 KiB) or ``{"requests": [...]}`` (``POST /v1/sign-batch``, 1 to 256, at most
2 MiB, no ``ReconciliationReport``). Parsing raises `BadRequest` on anything else, never another exception.

The context is a ``ReconciliationReport``'s blocks (``{"blocks": {chain id: block}}``, required), or the signed
statements a decided kind shows (``TransferAuthorization``, ``RefundAuthorization``, ``HolderEligibility``:
``{"claim"?: KycClaim attestation, "decision"?: OperatorDecision attestation}``); no other kind has one."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from eth_utils.address import is_address, to_checksum_address

from attestations.attestation import Attestation
from attestations.eip712 import Domain
from attestations.errors import AttestationError, MalformedError
from attestations.kinds import (
    HolderEligibility,
    KycClaim,
    OperatorDecision,
    ReconciliationReport,
    RefundAuthorization,
    Statement,
    TransferAuthorization,
)
from attestor.checks import SIGNABLE_KINDS
from attestor.decisions import NOTHING_SHOWN, Shown
from attestor.errors import BadRequest

MAX_BODY_BYTES = 64 * 1024
MAX_BATCH = 256  # sign requests in one batch
MAX_BATCH_BYTES = MAX_BATCH * 8 * 1024
MAX_CONTEXT_CHAINS = 64
_CHAIN_ID = re.compile(r"[1-9][0-9]{0,19}")

_KINDS: dict[str, type[Statement]] = {k.KIND: k for k in SIGNABLE_KINDS}
_DECIDED = frozenset(k.KIND for k in (TransferAuthorization, RefundAuthorization, HolderEligibility))
_SHOWN: dict[str, type[Statement]] = {"claim": KycClaim, "decision": OperatorDecision}


@dataclass(frozen=True)
class SignRequest:
    statement: Statement
    domain: Domain
    blocks: Mapping[int, int] | None = None  # context.blocks (ReconciliationReport only)
    shown: Shown = NOTHING_SHOWN  # the signed statements of the context (decided kinds only)


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


def _parse_shown(raw: Any) -> Shown:
    if not isinstance(raw, dict) or not set(raw) <= set(_SHOWN):
        raise BadRequest("context is an object with claim and decision (each optional)")
    found: dict[str, Attestation] = {}
    for key, kind in _SHOWN.items():
        if key not in raw:
            continue
        try:
            found[key] = Attestation.parse(raw[key])
        except (AttestationError, ValueError, TypeError, OverflowError, RecursionError) as exc:
            raise BadRequest(f"context.{key}: {exc}") from None
        if not isinstance(found[key].statement, kind):
            raise BadRequest(f"context.{key} is a {kind.KIND}, not a {found[key].kind}")
    return Shown(found.get("claim"), found.get("decision"))


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
    if kind == ReconciliationReport.KIND:
        if "context" not in raw:
            raise BadRequest("a ReconciliationReport needs its context (the blocks)")
        return SignRequest(statement, domain, _parse_blocks(raw["context"]))
    if kind in _DECIDED:
        return SignRequest(statement, domain, shown=_parse_shown(raw.get("context", {})))
    if "context" in raw:
        raise BadRequest(f"a {kind} has no context")
    return SignRequest(statement, domain)
