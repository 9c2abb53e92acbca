"""The relay pipeline: watch → finalize → decide → attest → submit → confirm, one stage at a time over
persisted operations, so a restart (or a standby taking over) resumes exactly where the store says.

Stages are thin: chain reads and attestor calls here, decisions in `relayer.decision`, transitions in
`relayer.transfer_state`, delivery in `relayer.submitter`. Transfer-level retries use the persisted
``attempts`` with `backoff_seconds`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import Any, TypeVar, assert_never

import aiohttp
import structlog
from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlalchemy.ext.asyncio import AsyncEngine
from web3.contract import AsyncContract

from adapters.recognition import recognize
from adapters.registry import Adapters
from adapters.sanctions import SanctionsList
from attestations.attestation import Attestation
from attestations.eip712 import Domain
from attestations.log import TransparencyLog
from relayer import metrics
from relayer.attestor.client import AttestationRefused, NotYetAttested, gather, gather_many
from relayer.compliance import load_adapters, load_sanctions, to_security
from relayer.config import ChainConfig, Config
from relayer.decision import (
    Outcome,
    RegistrationFacts,
    TransferFacts,
    decide_bridge_out,
    decide_registration,
)
from relayer.errors import DariError
from relayer.events import (
    ADDRESS_FROZEN,
    BRIDGE_BACK,
    BRIDGE_OUT,
    INVESTOR_REVOKED,
    WALLET_LINKED,
    WALLET_UNLINKED,
    AddressFrozen,
    BridgeBack,
    BridgeOut,
    ChainEvent,
    InvestorRevoked,
    LogRef,
    WalletLinked,
    WalletUnlinked,
)
from relayer.evm.artifacts import Artifacts, load_artifacts
from relayer.evm.client import ChainClient, RevertDecoder
from relayer.kyc import FileKycSource, KycSource, NoKycSource
from relayer.lease import Lease
from relayer.log_store import SqlLogStorage
from relayer.retry import transient_retries
from relayer.statements import statement_for
from relayer.store import Move, Operation, OperationStore, Source, StaleState, now_utc
from relayer.submitter import ChainSubmitter, DeliveryRefused, purpose
from relayer.transfer_state import Event, IllegalTransition, Kind, State, backoff_seconds, next_state
from relayer.watcher import Watcher

log = structlog.get_logger("relay")
LEASE_NAME = "relayer"
PUBLICATION_INTERVAL = 3600.0  # seconds between checks for recognition records due for publication
ZERO_ADDRESS = "0x" + "00" * 20
REVOKE_REASON_KYC = 1
REVOKE_REASON_UNLINKED = 2
REVOKE_REASON_FROZEN = 3


def _source(ref: LogRef) -> Source:
    return Source(ref.chain_id, ref.tx_hash, ref.block_number, ref.block_hash, ref.log_index)


CONCURRENCY = 32  # chain reads in flight at once within a stage
ATTEST_BATCH = 100  # statements per batch request to the attestors

T = TypeVar("T")
R = TypeVar("R")


async def _concurrently(fn: Callable[[T], Awaitable[R]], items: Sequence[T]) -> list[R | Exception]:
    """``fn`` over ``items`` with at most `CONCURRENCY` in flight; each result, or the transient error
    (RPC, network, timeout, or the package's own) it raised."""
    limit = asyncio.Semaphore(CONCURRENCY)

    async def one(item: T) -> R | Exception:
        async with limit:
            try:
                return await fn(item)
            except (OSError, TimeoutError, DariError, aiohttp.ClientError) as exc:
                return exc

    return list(await asyncio.gather(*(one(item) for item in items)))


class Relay:
    """One relayer process. Acts only while it holds the lease; otherwise it stands by."""

    def __init__(
        self, config: Config, engine: AsyncEngine, *, owner: str, clock: Callable[[], float] = time.time
    ) -> None:
        if config.relayer is None:
            raise DariError("the configuration has no [relayer] section")
        self.config = config
        self.engine = engine
        self.owner = owner
        self.clock = clock
        self.store = OperationStore(engine)
        self.log = TransparencyLog(SqlLogStorage(engine))
        self.lease = Lease(engine, LEASE_NAME, owner, config.relayer.lease_seconds)
        self.signer: LocalAccount = Account.from_key(config.relayer.signer.read())
        self.adapters: Adapters = load_adapters(config)
        self.sanctions: SanctionsList | None = load_sanctions(config)
        self.kyc: KycSource = FileKycSource(config.kyc.evidence_file) if config.kyc.evidence_file else NoKycSource()
        self.artifacts: Artifacts = load_artifacts()
        self.chains: dict[int, ChainConfig] = {c.chain_id: c for c in (config.registry, *config.public)}
        self._stack = AsyncExitStack()
        self.clients: dict[int, ChainClient] = {}
        self.watchers: dict[int, Watcher] = {}
        self.submitters: dict[int, ChainSubmitter] = {}
        self.heads: dict[int, int] = {}
        self.leader = False
        self._next_publication = 0.0
        self._reads: dict[tuple[Any, ...], asyncio.Future[Any]] = {}
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Relay:
        decoder = RevertDecoder.from_artifacts(self.artifacts)
        for chain in self.chains.values():
            client = await self._stack.enter_async_context(ChainClient(chain.rpc_url, decoder))
            self.clients[chain.chain_id] = client
            self.watchers[chain.chain_id] = Watcher(
                chain, client, self.engine, self._watched_addresses(chain), self._watched_topics(chain)
            )
            self.submitters[chain.chain_id] = ChainSubmitter(
                self.config, chain, client, self.artifacts, self.signer, self.engine
            )
        self._session = await self._stack.enter_async_context(aiohttp.ClientSession())
        await self.log.load()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self.leader:
            await self.lease.release()
        await self._stack.aclose()

    def _watched_addresses(self, chain: ChainConfig) -> list[str]:
        if chain is not self.config.registry:
            return [chain.contracts["gateway"]] if "gateway" in chain.contracts else []
        names = ("escrow", "walletLinks", "investorRegistry")
        tokens = [s.registry_token for s in self.config.securities if s.registry_token]
        return [chain.contracts[n] for n in names if n in chain.contracts] + tokens

    def _watched_topics(self, chain: ChainConfig) -> list[str]:
        if chain is self.config.registry:
            return [BRIDGE_OUT, WALLET_LINKED, WALLET_UNLINKED, INVESTOR_REVOKED, ADDRESS_FROZEN]
        return [BRIDGE_BACK]

    def contract(self, name: str, chain_id: int, address: str | None = None) -> AsyncContract:
        chain = self.chains[chain_id]
        key = {"BridgeGateway": "gateway", "HolderRegistry": "holderRegistry", "BridgeEscrow": "escrow",
               "InvestorRegistry": "investorRegistry", "WalletLinks": "walletLinks"}.get(name)  # fmt: skip
        target = address or (chain.contracts[key] if key else None)
        if target is None:
            raise DariError(f"chain {chain_id} has no {name} configured")
        return self.clients[chain_id].contract(self.artifacts.get(name), target)

    # --- the loop ------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        interval = min(c.poll_interval for c in self.chains.values())
        while not stop.is_set():
            try:
                await self.step()
            except DariError as exc:
                log.warning("step failed", error=str(exc))
            except (OSError, TimeoutError) as exc:
                log.warning("rpc or database unavailable", error=repr(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)

    async def step(self) -> None:
        """One pass over every stage, if this process holds the lease."""
        self.leader = await self.lease.acquire()
        metrics.LEADER.set(1 if self.leader else 0)
        if not self.leader:
            return
        spent: dict[str, float] = defaultdict(float)

        async def timed(stage: str, work: Awaitable[None]) -> None:
            started = time.perf_counter()
            await work
            spent[stage] += time.perf_counter() - started

        for chain_id in self.chains:
            await timed("ingest", self._guarded(self.ingest, chain_id))
            await timed("finalize", self._guarded(self.finalize, chain_id))
        await timed("decide", self.decide())
        await timed("attest", self.attest())
        for chain_id in self.chains:
            await timed("deliver", self._guarded(self.deliver, chain_id))
            await timed("confirm", self._guarded(self.confirm, chain_id))
        for stage, seconds in spent.items():
            metrics.STAGE_SECONDS.labels(stage).observe(seconds)
        log.debug("pass", **{stage: round(seconds * 1000, 1) for stage, seconds in spent.items()})
        for (kind, state), count in (await self.store.counts()).items():
            metrics.OPERATIONS.labels(kind, state).set(count)
        await self._check_sla()
        if self.clock() >= self._next_publication:
            self._next_publication = self.clock() + PUBLICATION_INTERVAL
            try:
                await self.publish_recognition()
            except (OSError, TimeoutError, DariError) as exc:
                log.warning("recognition publication failed", error=repr(exc))

    async def _guarded(self, stage: Callable[[int], Any], chain_id: int) -> None:
        """Runs a stage for one chain; transient faults are retried (stages are idempotent), anything
        else is logged and left to the next pass."""
        try:
            async for attempt in transient_retries():
                with attempt:
                    await stage(chain_id)
        except (OSError, TimeoutError, DariError, aiohttp.ClientError) as exc:
            metrics.RPC_ERRORS.labels(str(chain_id)).inc()
            log.warning("stage failed", stage=stage.__name__, chain=chain_id, error=repr(exc))

    # --- ingest and finality ------------------------------------------------------------------

    async def ingest(self, chain_id: int) -> None:
        poll = await self.watchers[chain_id].poll()
        self.heads[chain_id] = poll.head
        ops = [op for event in poll.observed for op in await self._operations_for(event)]
        for op, new in zip(ops, await self.store.observe_many(ops), strict=True):
            if new:
                metrics.EVENTS_SEEN.labels(str(chain_id), op.kind.value).inc()
                log.info("observed", id=op.id, kind=op.kind.value, block=op.source.block_number)

    async def _operations_for(self, event: ChainEvent) -> list[Operation]:
        source = _source(event.ref)
        registry = self.config.registry.chain_id
        if isinstance(event, BridgeOut):
            security = next(
                (s for s in self.config.securities if (s.registry_token or "").lower() == event.token.lower()), None
            )
            return [Operation(
                f"{registry}-{event.nonce}", Kind.BRIDGE_OUT, State.OBSERVED, source, event.dest_chain_id,
                source_nonce=event.nonce, security_id=security.id.lower() if security else None, token=event.token,
                sender=event.sender, recipient=event.recipient, amount=event.amount,
            )]  # fmt: skip
        if isinstance(event, BridgeBack):
            return [Operation(
                f"{event.ref.chain_id}-{event.nonce}", Kind.BRIDGE_BACK, State.OBSERVED, source, registry,
                source_nonce=event.nonce, token=event.token, sender=event.holder, recipient=event.registry_recipient,
                amount=event.amount,
            )]  # fmt: skip
        position = f"{registry}-{event.ref.block_number}-{event.ref.log_index}"
        if isinstance(event, WalletLinked):
            return [Operation(f"link-{position}", Kind.HOLDER_REGISTER, State.OBSERVED, source, event.chain_id,
                              sender=event.investor, recipient=event.wallet)]  # fmt: skip
        if isinstance(event, WalletUnlinked):
            return [Operation(f"unlink-{position}", Kind.HOLDER_REVOKE, State.OBSERVED, source, event.chain_id,
                              sender=event.investor, recipient=event.wallet,
                              payload={"reason": REVOKE_REASON_UNLINKED})]  # fmt: skip
        if isinstance(event, InvestorRevoked):
            return await self._per_linked_wallet(
                event.wallet, "revoke", position, source, Kind.HOLDER_REVOKE, REVOKE_REASON_KYC
            )
        if isinstance(event, AddressFrozen):
            if event.frozen:
                return await self._per_linked_wallet(
                    event.wallet, "freeze", position, source, Kind.HOLDER_REVOKE, REVOKE_REASON_FROZEN
                )
            return await self._per_linked_wallet(event.wallet, "unfreeze", position, source, Kind.HOLDER_REGISTER, None)
        assert_never(event)

    async def _per_linked_wallet(
        self, investor: str, label: str, position: str, source: Source, kind: Kind, reason: int | None
    ) -> list[Operation]:
        """One operation per public chain on which ``investor`` has linked a wallet."""
        links = self.contract("WalletLinks", self.config.registry.chain_id)
        found = []
        for chain in self.config.public:
            wallet = await links.functions.linkedWallet(investor, chain.chain_id).call()
            if wallet != ZERO_ADDRESS:
                payload = {} if reason is None else {"reason": reason}
                found.append(Operation(
                    f"{label}-{chain.chain_id}-{position}", kind, State.OBSERVED, source, chain.chain_id,
                    sender=investor, recipient=wallet, payload=payload,
                ))  # fmt: skip
        return found

    async def finalize(self, chain_id: int) -> None:
        head = self.heads.get(chain_id)
        if head is None:
            return
        ops = await self.store.due([State.OBSERVED], source_chain_id=chain_id)
        refs = [
            LogRef(chain_id, op.source.block_number, op.source.block_hash, op.source.tx_hash, op.source.log_index, "")
            for op in ops
        ]
        verdicts = await self.watchers[chain_id].finality(refs, head) if refs else []
        await self._move_many([
            Move(op, Event.FINALIZED) if final else Move(op, Event.REORGED, "reorged out")
            for op, final in zip(ops, verdicts, strict=True)
            if final is not None
        ])  # fmt: skip

    # --- decisions ------------------------------------------------------------------------------

    async def decide(self) -> None:
        ops = await self.store.due([State.FINALIZED])
        self._reads.clear()
        moves, retries = [], []
        for op, result in zip(ops, await _concurrently(self._decide, ops), strict=True):
            if isinstance(result, BaseException):
                retries.append((op, repr(result)))
                continue
            outcome, fields = result
            moves.append(Move(op, outcome.event, outcome.reason or "approved", {
                "decision": outcome.decision, "reason": outcome.reason, "reason_code": outcome.reason_code,
                "locked_until": outcome.locked_until, **fields,
            }))  # fmt: skip
        await self._move_many(moves)
        await self._retry_many(retries)

    async def _read(self, key: tuple[Any, ...], read: Callable[[], Awaitable[Any]]) -> Any:
        """``read()``, shared by every decision of this pass that asks for the same ``key``."""
        if key not in self._reads:
            self._reads[key] = asyncio.ensure_future(read())
        return await self._reads[key]

    async def _decide(self, op: Operation) -> tuple[Outcome, dict[str, Any]]:
        now = int(self.clock())
        if op.kind == Kind.BRIDGE_OUT:
            return await self._decide_bridge_out(op, now), {}
        if op.kind == Kind.BRIDGE_BACK:
            wrapped = self.contract("WrappedSecurity", op.source.chain_id, op.token)
            security_id = "0x" + bytes(await wrapped.functions.securityId().call()).hex()
            investors = self.contract("InvestorRegistry", self.config.registry.chain_id)
            if not await investors.functions.isVerified(op.recipient).call():
                return Outcome(Event.ESCALATED, "registry-recipient-unverified"), {"security_id": security_id}
            return Outcome(Event.APPROVED), {"security_id": security_id}
        if op.dest_chain_id not in self.chains or op.dest_chain_id == self.config.registry.chain_id:
            return Outcome(Event.REJECTED, "destination-unsupported"), {}
        if op.kind == Kind.HOLDER_REGISTER:
            return await self._decide_registration(op, now), {}
        entry = await self.contract("HolderRegistry", op.dest_chain_id).functions.holder(op.recipient).call()
        if entry[0] == b"\0" * 32 or entry[3]:
            return Outcome(Event.REJECTED, "nothing-to-revoke"), {}
        return Outcome(Event.APPROVED), {"payload": {**op.payload, "issuedAt": max(now, int(entry[5]) + 1)}}

    async def _decide_bridge_out(self, op: Operation, now: int) -> Outcome:
        entry = next((s for s in self.config.securities if s.id.lower() == (op.security_id or "").lower()), None)
        known = op.dest_chain_id in self.chains and op.dest_chain_id != self.config.registry.chain_id
        eligible, holder_id = False, None
        if known and entry is not None:
            holders = self.contract("HolderRegistry", op.dest_chain_id)
            security = bytes.fromhex(entry.id[2:])
            key = (op.dest_chain_id, str(op.recipient).lower())
            eligible = bool(
                await self._read(
                    ("eligible", *key, security), holders.functions.isEligible(op.recipient, security).call
                )
            )
            holder_id = (
                "0x" + bytes((await self._read(("holder", *key), holders.functions.holder(op.recipient).call))[0]).hex()
            )
        facts = TransferFacts(
            now=now, security=to_security(entry) if entry else None, destination_known=known,
            recipient_eligible=eligible, holder_id=holder_id, kyc=self.kyc.get(holder_id) if holder_id else None,
        )  # fmt: skip
        return decide_bridge_out(op, facts, self.adapters, self.sanctions)

    async def _frozen(self, investor: str) -> bool:
        """Whether an agent froze ``investor`` on any bridged security's registry token."""
        registry = self.config.registry.chain_id
        tokens = [s.registry_token for s in self.config.securities if s.registry_token]
        frozen = await asyncio.gather(
            *(self.contract("SecurityToken", registry, t).functions.isFrozen(investor).call() for t in tokens)
        )
        return any(bool(f) for f in frozen)

    async def _decide_registration(self, op: Operation, now: int) -> Outcome:
        registry = self.config.registry.chain_id
        investors = self.contract("InvestorRegistry", registry)
        links = self.contract("WalletLinks", registry)
        holders = self.contract("HolderRegistry", op.dest_chain_id)
        investor = str(op.sender)
        holder_id = "0x" + bytes(await investors.functions.investorIdOf(investor).call()).hex()
        facts = RegistrationFacts(
            now=now,
            investor_verified=bool(await investors.functions.isVerified(investor).call()),
            still_linked=str(await links.functions.linkedWallet(investor, op.dest_chain_id).call()).lower()
            == (op.recipient or "").lower(),
            holder_id=holder_id,
            country=int(await investors.functions.investorCountry(investor).call()),
            investor_class=int(await investors.functions.investorClass(investor).call()),
            kyc_expiry=int(await investors.functions.kycExpiry(investor).call()),
            kyc=self.kyc.get(holder_id),
            frozen=await self._frozen(investor),
            last_statement=int((await holders.functions.holder(op.recipient).call())[5]),
        )  # fmt: skip
        securities = [to_security(s) for s in self.config.securities]
        return decide_registration(facts, self.adapters, self.sanctions, securities)

    # --- attestation ----------------------------------------------------------------------------

    async def attest(self) -> None:
        ops = [
            op for op in await self.store.due([State.APPROVED, State.REJECTED])
            if op.state == State.APPROVED or (op.kind == Kind.BRIDGE_OUT and op.reason_code is not None)
        ]  # a rejected registration or revocation is final: nothing to attest  # fmt: skip
        statements = [statement_for(op, self.config) for op in ops]
        answers = [
            answer
            for start in range(0, len(statements), ATTEST_BATCH)
            for answer in await gather_many(
                statements[start : start + ATTEST_BATCH], self.config.attestors, self.config.trust.threshold,
                session=self._require_session(),
            )
        ]  # fmt: skip
        signed: list[tuple[Operation, Attestation]] = []
        moves, retries = [], []
        for op, (statement, domain), answer in zip(ops, statements, answers, strict=True):
            if isinstance(answer, AttestationRefused) and op.state == State.APPROVED:
                moves.append(Move(op, Event.ESCALATED, f"attestors refused: {answer}", {"reason": "attestors-refused"}))
            elif isinstance(answer, AttestationRefused):
                retries.append((op, f"attestors refused the refund: {answer}"))
            elif isinstance(answer, BaseException):
                retries.append((op, str(answer)))
            else:
                signed.append((op, Attestation(statement, domain, tuple(answer))))
        indices = await self.log.append_many([a.digest for _, a in signed])
        signed = [(op, a.with_log_index(i)) for (op, a), i in zip(signed, indices, strict=True)]
        await self.store.save_attestations([(a, op.id) for op, a in signed])
        for op, attestation in signed:
            digest = "0x" + attestation.digest.hex()
            moves.append(
                Move(op, Event.ATTESTED, digest, {"attestation": digest, "attempts": 0, "next_attempt_at": now_utc()})
            )
        await self._move_many(moves)
        await self._retry_many(retries)

    def _require_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise DariError("the relay is used outside its `async with`")
        return self._session

    # --- delivery --------------------------------------------------------------------------------

    async def _attestation_of(self, op: Operation) -> Attestation:
        document = await self.store.attestation(op.attestation or "")
        if document is None:
            raise DariError(f"{op.id}: attestation {op.attestation} missing from the store")
        return Attestation.parse(document)

    async def deliver(self, chain_id: int) -> None:
        submitter = self.submitters[chain_id]
        in_flight = await submitter.in_flight()
        due = [
            op for op in await self.store.due([State.ATTESTED, State.REFUND_ATTESTED], dest_chain_id=None)
            if op.id not in in_flight
            and (self.config.registry.chain_id if op.state == State.REFUND_ATTESTED else op.dest_chain_id) == chain_id
        ]  # fmt: skip
        documents = await self.store.attestations(op.attestation or "" for op in due)
        pending: list[tuple[Operation, Attestation]] = []
        for op in due:
            document = documents.get((op.attestation or "").lower())
            if document is None:
                log.error("attestation missing from the store", id=op.id, attestation=op.attestation)
                continue
            pending.append((op, Attestation.parse(document)))
        done = await _concurrently(lambda pair: submitter.delivered(*pair), pending)
        groups: dict[str, list[tuple[Operation, Attestation]]] = defaultdict(list)
        already = []
        for (op, attestation), delivered in zip(pending, done, strict=True):
            if isinstance(delivered, BaseException):
                log.warning("delivery check failed", id=op.id, error=repr(delivered))
            elif delivered:
                already.append(Move(op, Event.CONFIRMED, "already delivered on chain"))
            else:
                single = purpose(op) != "mint" or op.attempts > 0
                groups[op.id if single else "mint"].append((op, attestation))
        await self._move_many(already)
        batch_size = self.config.relayer.batch_size if self.config.relayer else 1
        for deliveries in groups.values():
            for start in range(0, len(deliveries), batch_size):
                await self._send(submitter, deliveries[start : start + batch_size], purpose(deliveries[0][0]))

    async def _send(
        self, submitter: ChainSubmitter, deliveries: list[tuple[Operation, Attestation]], kind: str
    ) -> None:
        ids = [op.id for op, _ in deliveries]
        try:
            tx_hash = await submitter.send(submitter.call_for(deliveries), ids, kind)
        except DeliveryRefused as exc:
            for op, _ in deliveries:
                await self._delivery_failed(op, f"refused: {exc.error.error}", stall=len(deliveries) == 1)
            return
        metrics.SUBMISSIONS.labels(str(submitter.chain.chain_id), kind).inc()
        log.info("submitted", chain=submitter.chain.chain_id, purpose=kind, tx=tx_hash, operations=len(ids))
        await self._move_many([Move(op, Event.SUBMITTED, tx_hash, {"dest_tx_hash": tx_hash}) for op, _ in deliveries])

    async def confirm(self, chain_id: int) -> None:
        """Confirms a delivery once final: its transaction's block canonical and the chain's confirmations
        deep. A transaction that failed, was dropped or was reorged out sends its operations back to
        delivery, unless the chain shows them delivered anyway."""
        submitter = self.submitters[chain_id]
        relayer = self.config.relayer
        await submitter.settle_pending(relayer.stuck_after if relayer else 30.0)
        registry = self.config.registry.chain_id
        ops = [
            op for op in await self.store.due([State.SUBMITTED, State.REFUND_SUBMITTED])
            if (registry if op.state == State.REFUND_SUBMITTED else op.dest_chain_id) == chain_id
        ]  # fmt: skip
        if not ops:
            return
        in_flight = await submitter.in_flight()
        head = await submitter.head()
        receipts = {h: await submitter.receipt(h) for h in {op.dest_tx_hash or "0x" + "00" * 32 for op in ops}}
        final = {h: await submitter.settled(r, head) for h, r in receipts.items() if r.mined and r.success}
        for op in ops:
            receipt = receipts[op.dest_tx_hash or "0x" + "00" * 32]
            if receipt.mined and receipt.success:
                if final[receipt.tx_hash]:
                    await self._confirmed(op)
                continue  # not final yet, or its block changed while read: look again next pass
            if not receipt.mined and op.id in in_flight:
                continue  # still pending (or replaced by a pending transaction)
            await self._undelivered(submitter, op, head)

    async def _undelivered(self, submitter: ChainSubmitter, op: Operation, head: int) -> None:
        """``op``'s own transaction did not deliver it: confirmed if the chain's final state shows it
        delivered, awaited if only the latest state does, else sent back to delivery."""
        attestation = await self._attestation_of(op)
        if await submitter.delivered(op, attestation, submitter.final_block(head)):
            await self._confirmed(op)
        elif submitter.chain.confirmations and await submitter.delivered(op, attestation):
            return  # delivered by another transaction (a replacement), not final yet
        else:
            attempts = op.attempts + 1
            await self._move(
                op, Event.SUBMISSION_FAILED, detail="transaction failed, dropped or reorged out",
                attempts=attempts, next_attempt_at=self._later(op, attempts),
            )  # fmt: skip

    async def _confirmed(self, op: Operation) -> None:
        moved = await self._move(op, Event.CONFIRMED, detail=op.dest_tx_hash)
        if moved is not None and op.created_at is not None:
            metrics.DELIVERY_LATENCY.labels(op.kind.value).observe((now_utc() - op.created_at).total_seconds())

    async def _check_sla(self) -> None:
        sla = self.config.relayer.sla_seconds if self.config.relayer else 900.0
        overdue = await self.store.overdue(now_utc() - timedelta(seconds=sla))
        metrics.STALE.set(len(overdue))
        for op in overdue[:10]:
            log.warning("operation over its SLA", id=op.id, kind=op.kind.value, state=op.state.value, reason=op.reason)

    # --- operator controls and publications ------------------------------------------------------

    async def pause(self, direction: str, paused: bool, chain_id: int | None) -> list[str]:
        """Pauses or resumes ``direction`` (inbound: minting, outbound: bridge-back) on one or every
        public gateway with the relayer's key (it holds PAUSER_ROLE); returns the transaction hashes."""
        hashes = []
        for chain in self.config.public:
            if chain_id is not None and chain.chain_id != chain_id:
                continue
            gateway = self.contract("BridgeGateway", chain.chain_id)
            fn = gateway.functions.setInboundPaused if direction == "inbound" else gateway.functions.setOutboundPaused
            receipt = await self.clients[chain.chain_id].transact(fn(paused), self.signer)
            hashes.append(receipt["transactionHash"].to_0x_hex())
            log.warning("gateway pause set", chain=chain.chain_id, direction=direction, paused=paused)
        return hashes

    async def publish_recognition(self) -> int:
        """Signs and publishes the recognition record of every security in every jurisdiction whose
        latest record is missing or past half its validity; returns how many were published."""
        now = int(self.clock())
        validity = self.config.adapters.recognition_validity_days
        latest = {
            (d["typedData"]["message"]["securityId"].lower(), d["typedData"]["message"]["jurisdiction"]): d
            for d in await self.store.documents("RecognitionRecord")
        }
        domain = Domain(self.config.registry.chain_id, self.config.registry.contracts["escrow"])
        published = 0
        for entry in self.config.securities:
            for jurisdiction in sorted(self.adapters.adapters):
                previous = latest.get((entry.id.lower(), jurisdiction))
                if previous is not None:
                    message = previous["typedData"]["message"]
                    if now < (int(message["validFrom"]) + int(message["validUntil"])) // 2:
                        continue
                record = recognize(to_security(entry), jurisdiction, self.adapters, now, validity).record
                try:
                    signatures = await gather(record, domain, self.config.attestors, self.config.trust.threshold)
                except (NotYetAttested, AttestationRefused) as exc:
                    log.warning(
                        "recognition record not attested",
                        security=entry.isin,
                        jurisdiction=jurisdiction,
                        error=str(exc),
                    )
                    continue
                attestation = Attestation(record, domain, tuple(signatures))
                attestation = attestation.with_log_index(await self.log.append(attestation.digest))
                await self.store.save_attestation(attestation, None)
                published += 1
        return published

    # --- bookkeeping --------------------------------------------------------------------------

    def _later(self, op: Operation, attempts: int) -> Any:
        return now_utc() + timedelta(seconds=backoff_seconds(attempts, op.id))

    async def _retry_many(self, retries: list[tuple[Operation, str]]) -> None:
        await self.store.update_many([
            (op.id, {"attempts": op.attempts + 1, "next_attempt_at": self._later(op, op.attempts + 1),
                     "last_error": error[:500]})
            for op, error in retries
        ])  # fmt: skip

    async def _delivery_failed(self, op: Operation, error: str, *, stall: bool) -> None:
        relayer = self.config.relayer
        attempts = op.attempts + 1
        if stall and attempts >= (relayer.max_attempts if relayer else 20):
            await self._move(op, Event.STALLED, detail=error, reason="delivery-refused", last_error=error[:500])
            return
        await self.store.update(
            op.id, attempts=attempts, next_attempt_at=self._later(op, attempts), last_error=error[:500]
        )

    async def _move_many(self, moves: list[Move]) -> list[Move]:
        """Applies ``moves`` in one database transaction; returns those that applied (the others' rows moved
        on, or the state machine has no such edge: both logged)."""
        legal = []
        for move in moves:
            try:
                next_state(move.op.kind, move.op.state, move.event)
                legal.append(move)
            except IllegalTransition as exc:
                log.info("transition skipped", id=move.op.id, on=move.event.value, error=str(exc))
        applied = [m for m, ok in zip(legal, await self.store.transition_many(legal), strict=True) if ok]
        for move in applied:
            metrics.TRANSITIONS.labels(move.op.kind.value, move.event.value).inc()
            log.info("transition", id=move.op.id, kind=move.op.kind.value, frm=move.op.state.value,
                     on=move.event.value, detail=move.detail)  # fmt: skip
        return applied

    async def _move(self, op: Operation, event: Event, *, detail: str | None = None, **fields: Any) -> Operation | None:
        try:
            moved = await self.store.transition(op.id, event, expect=op.state, detail=detail, **fields)
        except (StaleState, IllegalTransition) as exc:
            log.info("transition skipped", id=op.id, on=event.value, error=str(exc))
            return None
        metrics.TRANSITIONS.labels(op.kind.value, event.value).inc()
        log.info("transition", id=op.id, kind=op.kind.value, frm=op.state.value, to=moved.state.value, detail=detail)
        return moved
