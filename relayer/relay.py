"""The relay pipeline: watch → finalize → decide → attest → submit → confirm over persisted operations,
so a restart (or a standby taking over) resumes exactly where the store says.

The stages run in four lanes, concurrently, while this process holds the lease: intake (every chain's
events and finality, then the decisions), attest (the attestors' signatures), delivery (every chain's
transactions and their confirmations) and upkeep (gauges, SLA alerts, recognition records). A lane takes
operations in its own states only, and every state change is optimistic, so lanes never move one
operation twice; a lane that hands work on wakes the next one. Stages are thin: chain reads and
attestor calls here, decisions in `relayer.decision`, transitions in `relayer.transfer_state`, delivery
in `relayer.submitter`. Transfer-level retries use the persisted ``attempts`` with `backoff_seconds`.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import Any, TypeVar, assert_never

import aiohttp
import structlog
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
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
from relayer.evm.abi import Function, abi_of
from relayer.evm.artifacts import Artifacts, load_artifacts
from relayer.evm.client import ChainClient, RevertDecoder
from relayer.kyc import FileKycSource, KycSource, NoKycSource
from relayer.lanes import TRANSIENT, Lanes
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


CONTRACT_KEYS = {
    "BridgeGateway": "gateway", "HolderRegistry": "holderRegistry", "BridgeEscrow": "escrow",
    "InvestorRegistry": "investorRegistry", "WalletLinks": "walletLinks",
}  # fmt: skip
UPKEEP_INTERVAL = 1.0  # seconds between gauge and SLA updates
LANE_OF = {
    State.APPROVED: "attest", State.REJECTED: "attest", State.ATTESTED: "deliver", State.REFUND_ATTESTED: "deliver",
}  # fmt: skip
RECENT_ATTESTATIONS = 2000  # attested, not yet sent: kept in memory for delivery (the store has them all)
CONCURRENCY = 32  # chain reads in flight at once within a stage
ATTEST_BATCH = 100  # statements per batch request to the attestors
ATTEST_FLIGHTS = 6  # batches being attested at once

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
            except TRANSIENT as exc:
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
        self.lanes = Lanes(self.lease)
        self._recent: dict[str, Attestation] = {}  # by digest: attested, not yet sent, oldest first
        self._flights: set[asyncio.Task[None]] = set()  # attestation batches in the air
        self._attesting: set[str] = set()  # the operations they carry
        self._crashed: BaseException | None = None  # a flight's unexpected failure, raised by the attest lane
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
            try:
                await self.lease.release()
            except TRANSIENT as exc:  # the database is away: the lease lapses by itself
                log.warning("lease not released", error=repr(exc))
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

    def _address(self, name: str, chain_id: int) -> str:
        """The configured address of contract ``name`` on ``chain_id``."""
        key = CONTRACT_KEYS.get(name)
        target = self.chains[chain_id].contracts.get(key) if key else None
        if target is None:
            raise DariError(f"chain {chain_id} has no {name} configured")
        return target

    def contract(self, name: str, chain_id: int, address: str | None = None) -> AsyncContract:
        """A web3 contract (for transactions; reads go through `_view`)."""
        return self.clients[chain_id].contract(self.artifacts.get(name), address or self._address(name, chain_id))

    async def _view(self, chain_id: int, name: str, function: str, *args: Any, address: str | None = None) -> Any:
        """A read-only call of contract ``name`` (at its configured address unless ``address``), shared by
        every read of this pass with the same arguments: the chain as of one pass."""
        target = address or self._address(name, chain_id)
        key = (chain_id, target.lower(), name, function, args)
        if key not in self._reads:
            function_abi = abi_of(self.artifacts, name)[function]
            self._reads[key] = asyncio.ensure_future(self._read(chain_id, target, function_abi, args))
        return await self._reads[key]

    async def _read(self, chain_id: int, address: str, function: Function, args: tuple[Any, ...]) -> Any:
        """One view, retried on transient faults (a decision needs several: one failing read would send the
        whole decision into its backoff)."""
        async for attempt in transient_retries():
            with attempt:
                return await self.clients[chain_id].view(address, function, *args)
        raise DariError(f"{function.name} on chain {chain_id}: no attempt made")  # pragma: no cover

    # --- the lanes ------------------------------------------------------------------------------

    @property
    def leader(self) -> bool:
        return self.lanes.leader

    async def run(self, stop: asyncio.Event) -> None:
        """Keeps the lease and runs the lanes until ``stop`` (`relayer.lanes`); each lane finishes its current
        pass and the attestation batches in the air land."""
        polls = min(c.poll_interval for c in self.chains.values())
        public = min((c.poll_interval for c in self.config.public), default=polls)
        await self.lanes.run(
            {
                "intake": (self.intake, polls),
                "attest": (self.attest, polls),
                "deliver": (self.deliveries, public),
                "confirm": (self.confirmations, polls),  # soon after a block makes a delivery final
                "upkeep": (self.upkeep, UPKEEP_INTERVAL),
            },
            stop,
        )
        await asyncio.gather(*self._flights, return_exceptions=True)

    def _wake(self, state: State) -> None:
        """Wakes the lane that takes operations in ``state``."""
        lane = LANE_OF.get(state)
        if lane is not None:
            self.lanes.wake(lane)

    async def _timed(self, stage: str, work: Awaitable[None]) -> None:
        started = time.perf_counter()
        try:
            await work
        finally:
            metrics.STAGE_SECONDS.labels(stage).observe(time.perf_counter() - started)

    async def intake(self) -> None:
        """Every chain's new events and finality (chains concurrently), then the decisions; the chain
        reads of one pass are shared (`_view`)."""
        self._reads.clear()
        await self._timed("ingest", self._each_chain(self.ingest, self.finalize))
        await self._timed("decide", self.decide())

    async def deliveries(self) -> None:
        """Every chain's deliveries (chains concurrently)."""
        await self._timed("deliver", self._each_chain(self.deliver))

    async def confirmations(self) -> None:
        """Every chain's confirmations (chains concurrently)."""
        await self._timed("confirm", self._each_chain(self.confirm))

    async def _each_chain(self, *stages: Callable[[int], Awaitable[None]]) -> None:
        async def chain(chain_id: int) -> None:
            for stage in stages:
                await self._guarded(stage, chain_id)

        await asyncio.gather(*(chain(c) for c in self.chains))

    async def upkeep(self) -> None:
        """Gauges, SLA alerts and, when due, the publication of recognition records."""
        for (kind, state), count in (await self.store.counts()).items():
            metrics.OPERATIONS.labels(kind, state).set(count)
        await self._check_sla()
        if self.clock() >= self._next_publication:
            self._next_publication = self.clock() + PUBLICATION_INTERVAL
            try:
                await self.publish_recognition()
            except (OSError, TimeoutError, DariError) as exc:
                log.warning("recognition publication failed", error=repr(exc))

    async def _guarded(self, stage: Callable[[int], Awaitable[None]], chain_id: int) -> None:
        """Runs a stage for one chain; transient faults are retried (stages are idempotent), anything
        else is logged and left to the next pass."""
        try:
            async for attempt in transient_retries():
                with attempt:
                    await stage(chain_id)
        except TRANSIENT as exc:
            metrics.RPC_ERRORS.labels(str(chain_id)).inc()
            log.warning("stage failed", stage=getattr(stage, "__name__", "stage"), chain=chain_id, error=repr(exc))

    # --- ingest and finality ------------------------------------------------------------------

    async def ingest(self, chain_id: int) -> None:
        """The chain's new events, recorded as operations before the watcher's cursor moves past them."""

        async def record(events: list[ChainEvent]) -> None:
            ops = [op for event in events for op in await self._operations_for(event)]
            seen: Counter[str] = Counter()
            for op, new in zip(ops, await self.store.observe_many(ops), strict=True):
                if new:
                    metrics.EVENTS_SEEN.labels(str(chain_id), op.kind.value).inc()
                    log.debug("observed", id=op.id, kind=op.kind.value, block=op.source.block_number)
                    seen[op.kind.value] += 1
            for kind, count in sorted(seen.items()):
                log.info("observed", chain=chain_id, kind=kind, count=count)

        poll = await self.watchers[chain_id].poll(record)
        self.heads[chain_id] = poll.head

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
        registry = self.config.registry.chain_id
        found = []
        for chain in self.config.public:
            linked = await self._view(registry, "WalletLinks", "linkedWallet", investor, chain.chain_id)
            wallet = to_checksum_address(linked)
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

    async def _decide(self, op: Operation) -> tuple[Outcome, dict[str, Any]]:
        now = int(self.clock())
        if op.kind == Kind.BRIDGE_OUT:
            return await self._decide_bridge_out(op, now), {}
        if op.kind == Kind.BRIDGE_BACK:
            wrapped = await self._view(op.source.chain_id, "WrappedSecurity", "securityId", address=op.token)
            security_id = "0x" + bytes(wrapped).hex()
            if not await self._view(self.config.registry.chain_id, "InvestorRegistry", "isVerified", op.recipient):
                return Outcome(Event.ESCALATED, "registry-recipient-unverified"), {"security_id": security_id}
            return Outcome(Event.APPROVED), {"security_id": security_id}
        if op.dest_chain_id not in self.chains or op.dest_chain_id == self.config.registry.chain_id:
            return Outcome(Event.REJECTED, "destination-unsupported"), {}
        if op.kind == Kind.HOLDER_REGISTER:
            return await self._decide_registration(op, now), {}
        entry = await self._view(op.dest_chain_id, "HolderRegistry", "holder", op.recipient)
        if entry[0] == b"\0" * 32 or entry[3]:
            return Outcome(Event.REJECTED, "nothing-to-revoke"), {}
        return Outcome(Event.APPROVED), {"payload": {**op.payload, "issuedAt": max(now, int(entry[5]) + 1)}}

    async def _decide_bridge_out(self, op: Operation, now: int) -> Outcome:
        entry = next((s for s in self.config.securities if s.id.lower() == (op.security_id or "").lower()), None)
        known = op.dest_chain_id in self.chains and op.dest_chain_id != self.config.registry.chain_id
        eligible, holder_id = False, None
        if known and entry is not None:
            security = bytes.fromhex(entry.id[2:])
            recipient, chain = str(op.recipient).lower(), op.dest_chain_id
            eligible = bool(await self._view(chain, "HolderRegistry", "isEligible", recipient, security))
            holder_id = "0x" + bytes((await self._view(chain, "HolderRegistry", "holder", recipient))[0]).hex()
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
            *(self._view(registry, "SecurityToken", "isFrozen", investor, address=t) for t in tokens)
        )
        return any(bool(f) for f in frozen)

    async def _decide_registration(self, op: Operation, now: int) -> Outcome:
        registry = self.config.registry.chain_id
        investor = str(op.sender)

        def investors(function: str, *args: Any) -> Awaitable[Any]:
            return self._view(registry, "InvestorRegistry", function, investor, *args)

        holder_id, verified, linked, country, investor_class, kyc_expiry, frozen, entry = await asyncio.gather(
            investors("investorIdOf"), investors("isVerified"),
            self._view(registry, "WalletLinks", "linkedWallet", investor, op.dest_chain_id),
            investors("investorCountry"), investors("investorClass"), investors("kycExpiry"), self._frozen(investor),
            self._view(op.dest_chain_id, "HolderRegistry", "holder", op.recipient),
        )  # fmt: skip
        holder = "0x" + bytes(holder_id).hex()
        facts = RegistrationFacts(
            now=now, investor_verified=bool(verified), still_linked=str(linked).lower() == (op.recipient or "").lower(),
            holder_id=holder, country=int(country), investor_class=int(investor_class), kyc_expiry=int(kyc_expiry),
            kyc=self.kyc.get(holder), frozen=frozen, last_statement=int(entry[5]),
        )  # fmt: skip
        securities = [to_security(s) for s in self.config.securities]
        return decide_registration(facts, self.adapters, self.sanctions, securities)

    # --- attestation ----------------------------------------------------------------------------

    async def attest(self) -> None:
        """Starts a flight for each batch of due operations not already in one, while fewer than
        `ATTEST_FLIGHTS` are in the air: a slow batch never holds up the ones behind it."""
        if self._crashed is not None:
            raise self._crashed
        room = (ATTEST_FLIGHTS - len(self._flights)) * ATTEST_BATCH
        if room <= 0:
            return
        approved = await self.store.due([State.APPROVED], limit=room, exclude=self._attesting)
        rejected = await self.store.due([State.REJECTED], limit=room, exclude=self._attesting, kind=Kind.BRIDGE_OUT)
        refunds = [op for op in rejected if op.reason_code is not None]  # a rejected registration is final
        ops = sorted(approved + refunds, key=lambda op: (op.source.block_number, op.source.log_index))[:room]
        for start in range(0, len(ops), ATTEST_BATCH):
            if len(self._flights) >= ATTEST_FLIGHTS:
                return  # the rest when a flight lands (it wakes this lane)
            batch = ops[start : start + ATTEST_BATCH]
            self._attesting.update(op.id for op in batch)
            flight = asyncio.create_task(self._timed("attest", self._attest_batch(batch)))
            self._flights.add(flight)
            flight.add_done_callback(functools.partial(self._landed, {op.id for op in batch}))

    def _landed(self, ids: set[str], flight: asyncio.Task[None]) -> None:
        """A flight ended: its operations may fly again; a transient failure is logged (the next pass
        retries), any other fails the attest lane."""
        self._flights.discard(flight)
        self._attesting.difference_update(ids)
        error = None if flight.cancelled() else flight.exception()
        if isinstance(error, TRANSIENT):
            log.warning("attestation batch failed", error=repr(error))
        elif error is not None:
            self._crashed = error
        self.lanes.wake("attest")

    async def _attest_batch(self, ops: list[Operation]) -> None:
        """Gathers the attestors' signatures of ``ops``' statements, logs and stores the attestations and
        moves the operations on (refused: escalated, or a refund retried; not yet: retried)."""
        statements = [statement_for(op, self.config) for op in ops]
        answers = await gather_many(
            statements, self.config.attestors, self.config.trust.threshold, session=self._require_session()
        )
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
        for _, attestation in signed:
            self._recent["0x" + attestation.digest.hex()] = attestation
        while len(self._recent) > RECENT_ATTESTATIONS:
            del self._recent[next(iter(self._recent))]
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

    async def _attested(self, ops: list[Operation]) -> list[tuple[Operation, Attestation]]:
        """``ops`` with their attestations: those this process made lately from memory, the others from
        the store (an operation whose attestation is missing is logged and left out: it cannot be
        delivered)."""
        keys = {op.id: (op.attestation or "").lower() for op in ops}
        documents = await self.store.attestations(k for k in keys.values() if k not in self._recent)
        found = []
        for op in ops:
            key = keys[op.id]
            attestation = self._recent.get(key)
            if attestation is None and key in documents:
                attestation = Attestation.parse(documents[key])
            if attestation is None:
                log.error("attestation missing from the store", id=op.id, attestation=op.attestation)
                continue
            found.append((op, attestation))
        return found

    async def deliver(self, chain_id: int) -> None:
        submitter = self.submitters[chain_id]
        in_flight = await submitter.in_flight()
        due = [
            op for state, dest in self._targets(chain_id, State.ATTESTED, State.REFUND_ATTESTED)
            for op in await self.store.due([state], dest_chain_id=dest) if op.id not in in_flight
        ]  # fmt: skip
        pending = await self._attested(due)
        groups: dict[str, list[tuple[Operation, Attestation]]] = defaultdict(list)
        already = []
        for (op, attestation), delivered in zip(pending, await submitter.delivered_many(pending), strict=True):
            if delivered:
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

    def _targets(self, chain_id: int, delivery: State, refund: State) -> list[tuple[State, int | None]]:
        """Which operations ``chain_id`` delivers: those in ``delivery`` bound for it, and on the registry
        also the refunds (in ``refund``, whatever their destination)."""
        targets: list[tuple[State, int | None]] = [(delivery, chain_id)]
        if chain_id == self.config.registry.chain_id:
            targets.append((refund, None))
        return targets

    async def confirm(self, chain_id: int) -> None:
        """Confirms a delivery once final: its transaction's block canonical and the chain's confirmations
        deep. A transaction that failed, was dropped or was reorged out sends its operations back to
        delivery, unless the chain shows them delivered anyway (final: confirmed; only latest: awaited)."""
        submitter = self.submitters[chain_id]
        relayer = self.config.relayer
        await submitter.settle_pending(relayer.stuck_after if relayer else 30.0)
        targets = self._targets(chain_id, State.SUBMITTED, State.REFUND_SUBMITTED)
        hashes = {h for state, dest in targets for h in await self.store.tx_hashes([state], dest_chain_id=dest)}
        if not hashes:
            return
        in_flight = await submitter.in_flight()
        head = await submitter.head()
        receipts = await submitter.receipts(hashes)
        final = await submitter.settled(receipts.values(), head)
        ready = [h for h, r in receipts.items() if not (r.mined and r.success) or final[h]]  # the rest: not deep yet
        ops = [
            op for state, dest in targets for op in await self.store.due([state], dest_chain_id=dest, tx_hashes=ready)
        ]
        moves: list[Move] = []
        undelivered: list[Operation] = []
        for op in ops:
            receipt = receipts[str(op.dest_tx_hash)]  # in `ready`: a submitted operation names its transaction
            if receipt.mined and receipt.success:
                if final[receipt.tx_hash]:
                    moves.append(Move(op, Event.CONFIRMED, op.dest_tx_hash))
                continue  # not final yet, or its block changed while read: look again next pass
            if receipt.mined or op.id not in in_flight:  # failed, or dropped / replaced / reorged out
                undelivered.append(op)
        pairs = await self._attested(undelivered)
        at_final = await submitter.delivered_many(pairs, submitter.final_block(head))
        at_latest = await submitter.delivered_many(pairs) if submitter.chain.confirmations else at_final
        for (op, _), final_done, latest_done in zip(pairs, at_final, at_latest, strict=True):
            if final_done:
                moves.append(Move(op, Event.CONFIRMED, "delivered by another transaction"))
            elif not latest_done:  # (delivered only in the latest state: a replacement, not final yet)
                attempts = op.attempts + 1
                moves.append(Move(op, Event.SUBMISSION_FAILED, "transaction failed, dropped or reorged out", {
                    "attempts": attempts, "next_attempt_at": self._later(op, attempts),
                }))  # fmt: skip
        for move in await self._move_many(moves):
            if move.event == Event.CONFIRMED and move.op.created_at is not None:
                latency = (now_utc() - move.op.created_at).total_seconds()
                metrics.DELIVERY_LATENCY.labels(move.op.kind.value).observe(latency)

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
        on, or the state machine has no such edge: both logged) and wakes the lanes they hand work to.
        Each transition is in ``operation_history`` and logged at debug level; info has one line per kind."""
        planned: list[tuple[Move, State]] = []
        for move in moves:
            try:
                planned.append((move, next_state(move.op.kind, move.op.state, move.event)))
            except IllegalTransition as exc:
                log.info("transition skipped", id=move.op.id, on=move.event.value, error=str(exc))
        done = await self.store.transition_many([move for move, _ in planned])
        applied = [(move, nxt) for (move, nxt), ok in zip(planned, done, strict=True) if ok]
        summary: Counter[tuple[str, str, str]] = Counter()
        for move, nxt in applied:
            metrics.TRANSITIONS.labels(move.op.kind.value, move.event.value).inc()
            log.debug("transition", id=move.op.id, kind=move.op.kind.value, frm=move.op.state.value, to=nxt.value,
                      detail=move.detail)  # fmt: skip
            summary[(move.op.kind.value, move.op.state.value, nxt.value)] += 1
            self._wake(nxt)
            if nxt in (State.SUBMITTED, State.REFUND_SUBMITTED, State.CONFIRMED, State.REFUNDED):
                self._recent.pop((move.op.attestation or "").lower(), None)  # delivered: the store has it
        for (kind, before, after), count in sorted(summary.items()):
            log.info("transitions", kind=kind, frm=before, to=after, count=count)
        return [move for move, _ in applied]

    async def _move(self, op: Operation, event: Event, *, detail: str | None = None, **fields: Any) -> Operation | None:
        try:
            moved = await self.store.transition(op.id, event, expect=op.state, detail=detail, **fields)
        except (StaleState, IllegalTransition) as exc:
            log.info("transition skipped", id=op.id, on=event.value, error=str(exc))
            return None
        metrics.TRANSITIONS.labels(op.kind.value, event.value).inc()
        log.info("transition", id=op.id, kind=op.kind.value, frm=op.state.value, to=moved.state.value, detail=detail)
        self._wake(moved.state)
        return moved
