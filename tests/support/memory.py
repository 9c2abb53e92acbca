"""The core's ports over memory, for the unit tests of the core and of each pipeline stage (no chain, no
database). The operations store keeps the SQL store's semantics exactly: it passes the same store tests
(tests/edges/test_store.py, test_store_batch.py). The attestors sign with real keys."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from attestations.attestation import Attestation, AttestorSignature
from attestations.eip712 import Domain
from attestations.kinds import Statement
from attestations.signing import AttestorKey
from relayer.core.constants import ZERO32, ZERO_ADDRESS
from relayer.core.disposition import Receipt
from relayer.core.errors import AttestationRefused, DeliveryRefused, NotYetAttested
from relayer.core.events import LogRef, WatchedEvent
from relayer.core.finality import Poll, Record
from relayer.core.model import UPDATABLE, Move, Operation, StaleState, UnknownOperation
from relayer.core.ports import Block, Delivery, Gathered
from relayer.core.records import HolderEntry, Investor
from relayer.core.transfer_state import ALWAYS_FINAL, Event, Kind, Purpose, State, is_final, next_state
from relayer.edges.evm.client import ContractReverted


class Clock:
    """A clock the test moves (seconds since the epoch)."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def utc(self) -> datetime:
        return datetime.fromtimestamp(self.now, UTC)


def _utc(clock: Clock | None) -> datetime:
    return clock.utc() if clock is not None else datetime.now(UTC)


class MemoryOperationStore:
    """`OperationStore` over dicts; timestamps from ``clock`` (the wall clock when None)."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock
        self._ops: dict[str, Operation] = {}
        self._history: list[dict[str, Any]] = []
        self._attestations: dict[str, dict[str, Any]] = {}  # digest -> {kind, operation_id, document, seq}
        self._seq = itertools.count()

    def _now(self) -> datetime:
        return _utc(self.clock)

    def _record(self, operation_id: str, before: State | None, after: State, event: Event, detail: str | None) -> None:
        self._history.append({
            "operation_id": operation_id, "at": self._now().isoformat(), "from": before.value if before else None,
            "to": after.value, "event": event.value, "detail": detail,
        })  # fmt: skip

    async def observe_many(self, ops: Sequence[Operation]) -> list[bool]:
        at = self._now()
        results = []
        for op in ops:
            known = self._ops.get(op.id)
            if known is None:
                self._ops[op.id] = replace(
                    copy.deepcopy(op), state=State.OBSERVED, attempts=0, next_attempt_at=at, created_at=at,
                    updated_at=at, decision=None, reason=None, reason_code=None, locked_until=None, attestation=None,
                    dest_tx_hash=None, last_error=None,
                )  # fmt: skip
                self._record(op.id, None, State.OBSERVED, Event.REOBSERVED, "observed")
                results.append(True)
                continue
            results.append(known.state == State.DROPPED and known.source.block_hash != op.source.block_hash)
            if known.source.block_hash == op.source.block_hash or known.state not in (State.DROPPED, State.OBSERVED):
                continue
            moved = replace(
                known, source=op.source, source_nonce=op.source_nonce, dest_chain_id=op.dest_chain_id,
                security_id=op.security_id, token=op.token, sender=op.sender, recipient=op.recipient, amount=op.amount,
                payload=copy.deepcopy(op.payload), updated_at=at,
            )  # fmt: skip
            if known.state == State.DROPPED:
                nxt = next_state(known.kind, State.DROPPED, Event.REOBSERVED)
                moved = replace(moved, state=nxt, next_attempt_at=at)
                self._record(op.id, State.DROPPED, nxt, Event.REOBSERVED, f"block {op.source.block_number}")
            self._ops[op.id] = moved
        return results

    async def get(self, operation_id: str) -> Operation:
        if operation_id not in self._ops:
            raise UnknownOperation(operation_id)
        return copy.deepcopy(self._ops[operation_id])

    async def transition(
        self, operation_id: str, event: Event, *, expect: State | None = None, detail: str | None = None, **fields: Any
    ) -> Operation:
        current = await self.get(operation_id)
        if expect is not None and current.state != expect:
            raise StaleState(f"{operation_id} is {current.state}, expected {expect}")
        [applied] = await self.transition_many([Move(current, event, detail, fields)])
        if not applied:
            raise StaleState(f"{operation_id} moved on from {current.state}")
        return await self.get(operation_id)

    async def transition_many(self, moves: Sequence[Move]) -> list[bool]:
        planned = [(move, next_state(move.op.kind, move.op.state, move.event)) for move in moves]
        for move, _ in planned:
            _check(move.fields)
        at = self._now()
        seen: set[str] = set()
        applied = []
        for move, nxt in planned:
            current = self._ops.get(move.op.id)
            ok = current is not None and move.op.id not in seen and current.state == move.op.state
            seen.add(move.op.id)
            applied.append(ok)
            if ok and current is not None:
                self._ops[move.op.id] = replace(current, state=nxt, updated_at=at, **copy.deepcopy(move.fields))
                self._record(move.op.id, move.op.state, nxt, move.event, move.detail)
        return applied

    async def update_many(self, updates: Sequence[tuple[str, dict[str, Any]]]) -> None:
        for _, fields in updates:
            _check(fields)
        at = self._now()
        for operation_id, fields in updates:
            if operation_id in self._ops:
                self._ops[operation_id] = replace(self._ops[operation_id], updated_at=at, **copy.deepcopy(fields))

    async def due(
        self,
        states: Iterable[State],
        *,
        limit: int = 500,
        now: datetime | None = None,
        dest_chain_id: int | None = None,
        source_chain_id: int | None = None,
        tx_hashes: Iterable[str] | None = None,
        exclude: Iterable[str] = (),
        kind: Kind | None = None,
    ) -> list[Operation]:
        wanted, at, skipped = set(states), now or self._now(), set(exclude)
        hashes = None if tx_hashes is None else set(tx_hashes)
        found = [
            op for op in self._ops.values()
            if op.state in wanted and op.next_attempt_at is not None and op.next_attempt_at <= at
            and (dest_chain_id is None or op.dest_chain_id == dest_chain_id)
            and (source_chain_id is None or op.source.chain_id == source_chain_id)
            and (hashes is None or op.dest_tx_hash in hashes) and (kind is None or op.kind == kind)
            and op.id not in skipped
        ]  # fmt: skip
        found.sort(key=lambda op: (op.source.block_number, op.source.log_index))
        return [copy.deepcopy(op) for op in found[:limit]]

    async def tx_hashes(self, states: Iterable[State], *, dest_chain_id: int | None = None) -> set[str]:
        wanted = set(states)
        return {
            op.dest_tx_hash for op in self._ops.values()
            if op.state in wanted and op.dest_tx_hash is not None
            and (dest_chain_id is None or op.dest_chain_id == dest_chain_id)
        }  # fmt: skip

    async def find(
        self, *, state: State | None = None, kind: Kind | None = None, limit: int = 100, offset: int = 0
    ) -> list[Operation]:
        found = [
            op
            for op in self._ops.values()
            if (state is None or op.state == state) and (kind is None or op.kind == kind)
        ]
        found.sort(key=lambda op: (op.created_at or datetime.min.replace(tzinfo=UTC), op.id))
        return [copy.deepcopy(op) for op in found[offset : offset + limit]]

    async def overdue(self, created_before: datetime) -> list[Operation]:
        found = [
            op for op in self._ops.values()
            if op.created_at is not None and op.created_at < created_before and op.state not in ALWAYS_FINAL
            and not is_final(op.kind, op.state)
        ]  # fmt: skip
        return [copy.deepcopy(op) for op in sorted(found, key=lambda op: op.created_at or created_before)]

    async def counts(self) -> dict[tuple[str, str], int]:
        found: dict[tuple[str, str], int] = {}
        for op in self._ops.values():
            key = (op.kind.value, op.state.value)
            found[key] = found.get(key, 0) + 1
        return found

    async def history(self, operation_id: str) -> list[dict[str, Any]]:
        return [
            {k: v for k, v in h.items() if k != "operation_id"}
            for h in self._history
            if h["operation_id"] == operation_id
        ]

    async def save_attestation(self, attestation: Attestation, operation_id: str | None) -> None:
        await self.save_attestations([(attestation, operation_id)])

    async def save_attestations(self, pairs: Sequence[tuple[Attestation, str | None]]) -> None:
        for attestation, operation_id in pairs:
            digest = "0x" + attestation.digest.hex()
            if digest not in self._attestations:
                self._attestations[digest] = {
                    "kind": attestation.kind, "operation_id": operation_id, "document": attestation.to_json(),
                    "seq": next(self._seq),
                }  # fmt: skip

    async def attestation(self, digest: str) -> dict[str, Any] | None:
        return (await self.attestations([digest])).get(digest.lower())

    async def attestations(self, digests: Iterable[str]) -> dict[str, dict[str, Any]]:
        wanted = {d.lower() for d in digests}
        return {d: copy.deepcopy(row["document"]) for d, row in self._attestations.items() if d in wanted}

    async def documents(self, kind: str) -> list[dict[str, Any]]:
        rows = sorted((r for r in self._attestations.values() if r["kind"] == kind), key=lambda r: r["seq"])
        return [copy.deepcopy(r["document"]) for r in rows]

    async def attestations_of(self, operation_id: str) -> list[str]:
        rows = sorted(
            ((d, r) for d, r in self._attestations.items() if r["operation_id"] == operation_id),
            key=lambda p: p[1]["seq"],
        )
        return [d for d, _ in rows]


def _check(fields: Mapping[str, Any]) -> None:
    unknown = set(fields) - UPDATABLE
    if unknown:
        raise ValueError(f"not updatable: {sorted(unknown)}")


@dataclass
class MemoryWatcher:
    """`ChainWatcher` of one chain: ``events`` appear on the chain when appended; a poll hands over the ones
    not handed over yet (the cursor moves only once ``record`` returned). ``canonical`` maps a block number to
    its hash now (a reorg: change or remove it); an event is final ``confirmations`` blocks deep."""

    chain_id: int
    confirmations: int = 0
    head: int = 0
    events: list[WatchedEvent] = field(default_factory=list)
    canonical: dict[int, str] = field(default_factory=dict)
    cursor: int = 0

    def emit(self, event: WatchedEvent) -> None:
        """``event`` lands on the chain (its block becomes the head, canonical with its hash)."""
        self.events.append(event)
        self.canonical[event.ref.block_number] = event.ref.block_hash
        self.head = max(self.head, event.ref.block_number)

    async def poll(self, record: Record | None = None) -> Poll:
        new = self.events[self.cursor :]
        if record is not None:
            await record(list(new))
        self.cursor = len(self.events)
        return Poll(list(new), self.head, self.head - self.confirmations, self.head)

    async def finality(self, refs: Sequence[LogRef], head: int) -> list[bool | None]:
        found: list[bool | None] = []
        for ref in refs:
            if self.canonical.get(ref.block_number) != ref.block_hash:
                found.append(False)
            else:
                found.append(True if head - ref.block_number >= self.confirmations else None)
        return found


def holder_entry(
    holder_id: bytes = ZERO32, *, updated_at: int = 0, revoked: bool = False, attestation: bytes = ZERO32
) -> HolderEntry:
    return HolderEntry(holder_id, 410, 2, revoked, 2**40, updated_at, ZERO32, attestation)


@dataclass
class MemoryContractReads:
    """`ContractReads` over dicts (what the test says the contracts answer); ``reads`` counts every read."""

    wallets: dict[tuple[str, int], str] = field(default_factory=dict)  # (investor, chain) -> wallet
    investors: dict[str, Investor] = field(default_factory=dict)
    frozen_investors: set[str] = field(default_factory=set)
    holders: dict[tuple[int, str], HolderEntry] = field(default_factory=dict)  # (chain, wallet) -> entry
    eligibility: set[tuple[int, str, bytes]] = field(default_factory=set)  # (chain, wallet, security id)
    wrapped: dict[tuple[int, str], bytes] = field(default_factory=dict)  # (chain, token) -> security id
    verified: set[str] = field(default_factory=set)  # registry accounts
    block_times: dict[tuple[int, int], int] = field(default_factory=dict)  # (chain, block) -> its timestamp
    anchors: dict[bytes, bytes] = field(default_factory=dict)  # investor id -> the anchored claim's digest
    linkers: dict[tuple[int, str], str] = field(default_factory=dict)  # (chain, wallet) -> its latest linker
    default_block_time: int = 1_800_000_000  # of every other block (the memory Clock's default time)
    reads: int = 0

    def fresh(self) -> MemoryContractReads:
        return self

    async def block_time(self, chain_id: int, number: int) -> int:
        self.reads += 1
        return self.block_times.get((chain_id, number), self.default_block_time)

    async def linked_wallet(self, investor: str, chain_id: int) -> str:
        self.reads += 1
        return self.wallets.get((investor.lower(), chain_id), ZERO_ADDRESS)

    async def investor(self, investor: str) -> Investor:
        self.reads += 1
        return self.investors.get(investor.lower(), Investor(ZERO32, False, 0, 0, 0))

    async def claim_anchor(self, investor_id: bytes) -> bytes:
        self.reads += 1
        return self.anchors.get(investor_id, ZERO32)

    async def linker(self, chain_id: int, wallet: str) -> str | None:
        self.reads += 1
        return self.linkers.get((chain_id, wallet.lower()))

    async def registry_verified(self, account: str) -> bool:
        self.reads += 1
        return account.lower() in self.verified

    async def frozen(self, investor: str) -> bool:
        self.reads += 1
        return investor.lower() in self.frozen_investors

    async def holder(self, chain_id: int, wallet: str) -> HolderEntry:
        self.reads += 1
        return self.holders.get((chain_id, wallet.lower()), holder_entry())

    async def eligible(self, chain_id: int, wallet: str, security_id: bytes) -> bool:
        self.reads += 1
        return (chain_id, wallet.lower(), security_id) in self.eligibility

    async def wrapped_security_id(self, chain_id: int, token: str) -> bytes:
        self.reads += 1
        if (chain_id, token.lower()) not in self.wrapped:  # no WrappedSecurity there: the view reverts
            raise ContractReverted("Undecodable", ("securityId", "0x"))
        return self.wrapped[(chain_id, token.lower())]


@dataclass
class Sent:
    """One transaction a `MemorySubmitter` broadcast."""

    tx_hash: str
    purpose: Purpose
    operation_ids: list[str]


@dataclass
class MemorySubmitter:
    """`Submitter` of one chain. ``send`` mines at once in a new block unless ``pending`` is set; what it sent
    is ``sent``; ``refuse`` maps an operation id to the custom error its delivery is refused with; ``done``
    holds the ids the chain shows delivered (``done_latest``: only in the latest state)."""

    chain_id: int
    confirmations: int = 0
    head_block: int = 100
    pending: bool = False
    refuse: dict[str, str] = field(default_factory=dict)
    done: set[str] = field(default_factory=set)
    done_latest: set[str] = field(default_factory=set)
    sent: list[Sent] = field(default_factory=list)
    receipts_by_hash: dict[str, Receipt] = field(default_factory=dict)
    reorged_blocks: set[int] = field(default_factory=set)
    flying: set[str] = field(default_factory=set)  # ids inside pending transactions
    settles: int = 0

    async def in_flight(self) -> set[str]:
        return set(self.flying)

    async def delivered_many(self, deliveries: Sequence[Delivery], block: Block = "latest") -> list[bool]:
        return [op.id in self.done or (block == "latest" and op.id in self.done_latest) for op, _ in deliveries]

    async def send(self, deliveries: Sequence[Delivery], purpose: Purpose) -> str:
        for op, _ in deliveries:
            if op.id in self.refuse:
                raise DeliveryRefused(self.refuse[op.id], f"reverted with {self.refuse[op.id]}")
        tx_hash = "0x" + f"{len(self.sent) + 1:064x}"
        ids = [op.id for op, _ in deliveries]
        self.sent.append(Sent(tx_hash, purpose, ids))
        if self.pending:
            self.flying.update(ids)
            self.receipts_by_hash[tx_hash] = Receipt(tx_hash, mined=False, success=False)
        else:
            self.head_block += 1  # mined in a new block
            block = self.head_block
            self.receipts_by_hash[tx_hash] = Receipt(tx_hash, True, True, block, f"0x{block:064x}")
        return tx_hash

    async def head(self) -> int:
        return self.head_block

    async def receipts(self, hashes: Iterable[str]) -> dict[str, Receipt]:
        return {h: self.receipts_by_hash.get(h, Receipt(h, mined=False, success=False)) for h in hashes}

    async def settled(self, receipts: Iterable[Receipt], head: int) -> dict[str, bool | None]:
        found: dict[str, bool | None] = {}
        for r in receipts:
            if r.mined and r.success and self.confirmations == 0:
                found[r.tx_hash] = True  # as the chain's submitter: final at once, whatever the block
            elif r.mined and r.success and r.block_number is not None:
                if r.block_number in self.reorged_blocks:
                    found[r.tx_hash] = False
                else:
                    found[r.tx_hash] = True if head - r.block_number >= self.confirmations else None
        return found

    async def settle_pending(self, stuck_after: float) -> None:
        self.settles += 1


@dataclass
class MemoryAttestors:
    """`Attestors`: ``keys`` (e.g. the devnet's, `relayer.devtools.devnet.cast.attestor_key`) sign every
    statement with real signatures, the threshold of them by increasing address, unless ``refuse`` (by
    statement kind) makes each refuse it or ``later`` (by kind) makes them answer "not yet"; ``asked`` lists
    the statements asked for."""

    keys: Sequence[AttestorKey]
    threshold: int = 2
    refuse: dict[str, str] = field(default_factory=dict)
    later: set[str] = field(default_factory=set)
    asked: list[Statement] = field(default_factory=list)
    contexts: list[Mapping[str, Any] | None] = field(default_factory=list)

    def _answer(self, statement: Statement, domain: Domain) -> Gathered:
        self.asked.append(statement)
        if statement.KIND in self.refuse:
            return AttestationRefused({key.id: self.refuse[statement.KIND] for key in self.keys})
        if statement.KIND in self.later:
            return NotYetAttested(f"{statement.KIND}: not final yet")
        digest = statement.digest(domain)
        keys = sorted(self.keys, key=lambda k: int(k.public()["address"], 16))[: self.threshold]
        return [key.sign(digest) for key in keys]

    async def gather_many(
        self, requests: Sequence[tuple[Statement, Domain]], contexts: Sequence[Mapping[str, Any] | None] = ()
    ) -> list[Gathered]:
        shown = list(contexts) or [None] * len(requests)
        self.contexts.extend(shown)
        return [self._answer(statement, domain) for statement, domain in requests]

    async def gather(
        self, statement: Statement, domain: Domain, *, context: Mapping[str, Any] | None = None
    ) -> list[AttestorSignature]:
        self.contexts.append(context)
        answer = self._answer(statement, domain)
        if isinstance(answer, AttestationRefused | NotYetAttested):
            raise answer
        return answer


class MemoryLease:
    """`Leadership` that a test grants or takes away (``held``)."""

    def __init__(self, owner: str = "test", seconds: float = 3.0, held: bool = True) -> None:
        self.owner, self.seconds, self.held = owner, seconds, held
        self.released = False

    async def acquire(self) -> bool:
        return self.held

    async def release(self) -> None:
        self.released = True
