"""The attestor: checks a statement against the chain and its own decision (`attestor.checks`,
`attestor.decisions`), journals it (`attestor.journal`), signs it; and how one is built from the
configuration (its key, its own RPC connections, its journal, its rule packs, the claim issuers and officers it
trusts). Its HTTP API is `attestor.http`."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import structlog

from adapters.recognition import recognize
from attestations.kinds import RecognitionRecord
from attestations.signing import AttestorKey
from attestor.checks import Checker, Claim, Recognizer
from attestor.decisions import Rules
from attestor.errors import AttestorError, ChainUnavailable, NotFinal, Refused
from attestor.journal import Journal, JournalEntry, JournalWriter
from attestor.reads import AttestorReads
from attestor.requests import SignRequest
from attestor.topology import Topology
from relayer.core.compliance import load_adapters, to_security
from relayer.core.config import AttestorConfig, Config
from relayer.core.errors import ConfigError
from relayer.core.memo import MemoReads
from relayer.core.signed import signing_key
from relayer.edges.evm.artifacts import Artifacts
from relayer.edges.evm.reads import RpcChainReads

log = structlog.get_logger("dari.attestor")


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
            checker = self.checker.for_batch(MemoReads(self.checker.view))  # the chain as of this request
            claim = await checker.check(statement, domain, now, blocks=request.blocks, shown=request.shown)
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
        """`sign` for a batch: the checks run concurrently against one `MemoReads` of the chain, the journal
        records every passing statement in one transaction; per request, the answer or its error."""
        checker = self.checker.for_batch(MemoReads(self.checker.view))
        now = int(self.clock())
        await checker.prefetch([r.statement for r in requests])

        async def check(request: SignRequest) -> Claim | AttestorError:
            try:
                return await checker.check(request.statement, request.domain, now, shown=request.shown)
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
        if isinstance(view, AttestorReads):
            await view.close()
        self.journal.close()


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
    key = signing_key(entry, f"attestors[{entry.id}].key")
    topology = Topology.from_config(config)
    journal = Journal(entry.journal or base_dir / f"attestor-{attestor_id}.db")
    view = AttestorReads(RpcChainReads(rpc_urls(config, entry), artifacts))
    return Attestor(key, Checker(topology, view, recognizer(config), Rules.from_config(config)), journal)


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
