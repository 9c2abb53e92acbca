"""Decide: each finalized operation's facts read off the chains (through `ContractReads`, the chain as of
one pass) and the KYC source, then the core's decision for its kind (`relayer.core.decisions`): approved,
rejected (a bridge-out is refunded) or held for an operator."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from adapters.registry import Adapters
from adapters.sanctions import SanctionsList
from adapters.types import Security
from attestations.attestation import Attestation
from relayer.core.compliance import to_security
from relayer.core.config import SecurityConfig
from relayer.core.decisions import (
    BridgeBackFacts,
    Outcome,
    RevocationFacts,
    TransferFacts,
    decide_bridge_back,
    decide_bridge_out,
    decide_destination,
    decide_registration,
    decide_revocation,
)
from relayer.core.errors import Failure
from relayer.core.facts import SourceBlock, bridge_out_facts, registration_facts
from relayer.core.kyc import KycRecord, KycSource
from relayer.core.model import Move, Operation
from relayer.core.ports import ContractReads, OperationStore
from relayer.core.transfer_state import Kind, State
from relayer.failures import classify
from relayer.pipeline.moves import Mover

CONCURRENCY = 32  # decisions (each a few chain reads) in flight at once

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Rules:
    """What decisions are made by: the jurisdiction adapters, the sanctions list, the KYC evidence and the
    bridged securities."""

    adapters: Adapters
    sanctions: SanctionsList | None
    kyc: KycSource
    securities: Sequence[SecurityConfig]


async def concurrently(fn: Callable[[T], Awaitable[R]], items: Sequence[T]) -> list[R | Exception]:
    """``fn`` over ``items`` with at most `CONCURRENCY` in flight; each result, or the transient or refused
    error it raised (a fatal one is raised)."""
    limit = asyncio.Semaphore(CONCURRENCY)

    async def one(item: T) -> R | Exception:
        async with limit:
            try:
                return await fn(item)
            except Exception as exc:
                if classify(exc) is Failure.FATAL:
                    raise
                return exc

    return list(await asyncio.gather(*(one(item) for item in items)))


class Decide:
    """The decide stage."""

    def __init__(
        self, store: OperationStore, mover: Mover, rules: Rules, *, registry_chain_id: int,
        public_chain_ids: Sequence[int],
    ) -> None:  # fmt: skip
        self.store, self.mover, self.rules = store, mover, rules
        self.registry_chain_id = registry_chain_id
        self.public_chain_ids = frozenset(public_chain_ids)
        self._securities: list[Security] = [to_security(s) for s in rules.securities]

    async def run(self, views: ContractReads) -> None:
        """Decides every finalized operation that is due; one whose facts cannot be read now is retried
        later (its persisted backoff). The KYC claims decisions rest on are stored, and named in the
        operation's payload (``claim``), for the attestors to be shown."""
        ops = await self.store.due([State.FINALIZED])
        moves, retries, claims = [], [], []
        for op, result in zip(ops, await concurrently(lambda op: self.decide(op, views), ops), strict=True):
            if isinstance(result, Exception):
                retries.append((op, repr(result)))
                continue
            outcome, claim = result
            fields = outcome.columns()
            if claim is not None:
                claims.append((claim, None))
                fields["payload"] = {**op.payload, **fields.get("payload", {}), "claim": "0x" + claim.digest.hex()}
            moves.append(Move(op, outcome.event, outcome.reason or "approved", fields))
        await self.store.save_attestations(claims)
        await self.mover.apply(moves)
        await self.mover.retry(retries)

    async def decide(self, op: Operation, views: ContractReads) -> tuple[Outcome, Attestation | None]:
        """The outcome for ``op``, from the facts ``views`` give, at the time of its source event's block (so the
        attestors, deciding again, reach the same outcome whatever their clocks); and the KYC claim it rests on."""
        if op.kind == Kind.BRIDGE_OUT:
            facts = await self._transfer_facts(op, views)
            return decide_bridge_out(facts, self.rules.adapters, self.rules.sanctions), _claim(facts.kyc)
        if op.kind == Kind.BRIDGE_BACK:
            security_id, burner = await asyncio.gather(
                views.wrapped_security_id(op.source.chain_id, str(op.token)),
                views.linker(op.source.chain_id, str(op.sender)),
            )
            verified = burner is not None and await views.registry_verified(burner)
            return decide_bridge_back(BridgeBackFacts(security_id, burner, verified)), None
        unsupported = decide_destination(op, self.public_chain_ids)
        if unsupported is not None:
            return unsupported, None
        now = await views.block_time(op.source.chain_id, op.source.block_number)
        if op.kind == Kind.HOLDER_REGISTER:
            registration = await registration_facts(
                views, self._kyc, now, investor=str(op.sender), wallet=str(op.recipient), chain_id=op.dest_chain_id
            )
            outcome = decide_registration(registration, self.rules.adapters, self.rules.sanctions, self._securities)
            return outcome, _claim(registration.kyc)
        holder = await views.holder(op.dest_chain_id, str(op.recipient))
        return decide_revocation(op, RevocationFacts(now, holder)), None

    async def _transfer_facts(self, op: Operation, views: ContractReads) -> TransferFacts:
        entry = next((s for s in self.rules.securities if s.id.lower() == (op.security_id or "").lower()), None)
        return await bridge_out_facts(
            views, self._kyc, SourceBlock(op.source.chain_id, op.source.block_number),
            security=None if entry is None else (bytes.fromhex(entry.id[2:]), to_security(entry)),
            dest_chain_id=op.dest_chain_id, destination_known=op.dest_chain_id in self.public_chain_ids,
            recipient=str(op.recipient).lower(), amount=int(op.amount or 0),
        )  # fmt: skip

    def _kyc(self, holder_id: bytes) -> KycRecord | None:
        return self.rules.kyc.get("0x" + holder_id.hex())


def _claim(kyc: KycRecord | None) -> Attestation | None:
    return None if kyc is None else kyc.claim
