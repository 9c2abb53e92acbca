"""Persistence of operations (`relayer.core.ports.OperationStore` in SQLAlchemy Core, SQLite or PostgreSQL).
Every state change goes through `transition_many`, which applies the state machine and is optimistic: it
updates only if the row is still in the state it was read in, so two processes can never both move one
operation."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from attestations.attestation import Attestation
from relayer.core.model import UPDATABLE, Move, Operation, Source, StaleState, UnknownOperation
from relayer.core.transfer_state import ALWAYS_FINAL, Event, Kind, State, is_final, next_state
from relayer.edges.db.engine import begin_immediate
from relayer.edges.db.schema import attestations, operation_history, operations

_IN_CHUNK = 500  # ids per IN (...) list


def now_utc() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes; every time here is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _iso(value: datetime | None) -> str | None:
    aware = as_utc(value)
    return None if aware is None else aware.isoformat()


def _row(row: RowMapping) -> Operation:
    return Operation(
        id=row["id"],
        kind=Kind(row["kind"]),
        state=State(row["state"]),
        source=Source(
            row["source_chain_id"],
            row["source_tx_hash"],
            row["source_block_number"],
            row["source_block_hash"],
            row["source_log_index"],
        ),
        dest_chain_id=row["dest_chain_id"],
        source_nonce=row["source_nonce"],
        security_id=row["security_id"],
        token=row["token"],
        sender=row["sender"],
        recipient=row["recipient"],
        amount=None if row["amount"] is None else int(row["amount"]),
        payload=json.loads(row["payload"] or "{}"),
        decision=json.loads(row["decision"]) if row["decision"] else None,
        reason=row["reason"],
        reason_code=row["reason_code"],
        locked_until=row["locked_until"],
        attestation=row["attestation"],
        dest_tx_hash=row["dest_tx_hash"],
        attempts=row["attempts"],
        next_attempt_at=as_utc(row["next_attempt_at"]),
        last_error=row["last_error"],
        created_at=as_utc(row["created_at"]),
        updated_at=as_utc(row["updated_at"]),
    )


def _encode(fields: dict[str, Any]) -> dict[str, Any]:
    unknown = set(fields) - UPDATABLE
    if unknown:
        raise ValueError(f"not updatable: {sorted(unknown)}")
    encoded = dict(fields)
    for key in ("decision", "payload"):
        if key in encoded and encoded[key] is not None:
            encoded[key] = json.dumps(encoded[key], sort_keys=True)
    return encoded


class OperationStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def observe_many(self, ops: Sequence[Operation]) -> list[bool]:
        """Records newly seen operations in state OBSERVED, in one database transaction, ending where
        observing them one by one would end; per operation, whether it was new (or re-observed). A DROPPED
        operation seen again (re-included after a reorg) is re-observed at its new position; an OBSERVED one
        seen at another position moves there; any other known one is left as it is."""
        if not ops:
            return []
        at = now_utc()
        async with self._engine.begin() as conn:
            query = select(operations.c.id, operations.c.kind, operations.c.state, operations.c.source_block_hash)
            query = query.where(operations.c.id.in_({op.id for op in ops}))
            known = {row.id: (row.kind, row.state, row.source_block_hash) for row in await conn.execute(query)}
            fresh: dict[str, dict[str, Any]] = {}
            moved: dict[str, dict[str, Any]] = {}
            history: list[dict[str, Any]] = []
            results = []
            for op in ops:
                values = _observed_values(op)
                if op.id not in known:
                    fresh[op.id] = {
                        "id": op.id, "kind": op.kind.value, "state": State.OBSERVED.value,
                        "source_chain_id": op.source.chain_id, "attempts": 0, "next_attempt_at": at,
                        "created_at": at, "updated_at": at, "decision": None, "reason": None, "reason_code": None,
                        "locked_until": None, "attestation": None, "dest_tx_hash": None, "last_error": None,
                        "finalized_at": None, "completed_at": None, **values,
                    }  # fmt: skip
                    known[op.id] = (op.kind.value, State.OBSERVED.value, op.source.block_hash)
                    history.append(_history_row(op.id, None, State.OBSERVED, Event.REOBSERVED, "observed", at))
                    results.append(True)
                    continue
                kind, state, block_hash = known[op.id]
                results.append(state == State.DROPPED.value and block_hash != op.source.block_hash)
                if block_hash == op.source.block_hash or state not in (State.DROPPED.value, State.OBSERVED.value):
                    continue
                known[op.id] = (kind, State.OBSERVED.value, op.source.block_hash)
                if op.id in fresh:  # seen at another position earlier in this batch: it moves there
                    fresh[op.id].update(values)
                    continue
                changes = {"updated_at": at, **values}
                if state == State.DROPPED.value:
                    nxt = next_state(Kind(kind), State.DROPPED, Event.REOBSERVED)
                    changes.update(state=nxt.value, next_attempt_at=at)
                    history.append(
                        _history_row(op.id, State.DROPPED, nxt, Event.REOBSERVED, f"block {op.source.block_number}", at)
                    )
                moved[op.id] = {**moved.get(op.id, {}), **changes}
            await _update_rows(conn, [(operation_id, None, changes) for operation_id, changes in moved.items()])
            if fresh:
                await conn.execute(insert(operations), list(fresh.values()))
            if history:
                await conn.execute(insert(operation_history), history)
        return results

    async def get(self, operation_id: str) -> Operation:
        async with self._engine.connect() as conn:
            row = (
                (await conn.execute(select(operations).where(operations.c.id == operation_id))).mappings().one_or_none()
            )
        if row is None:
            raise UnknownOperation(operation_id)
        return _row(row)

    async def transition(
        self, operation_id: str, event: Event, *, expect: State | None = None, detail: str | None = None, **fields: Any
    ) -> Operation:
        """Applies ``event`` (and updates ``fields``) atomically; `StaleState` when the row moved on."""
        current = await self.get(operation_id)
        if expect is not None and current.state != expect:
            raise StaleState(f"{operation_id} is {current.state}, expected {expect}")
        [applied] = await self.transition_many([Move(current, event, detail, fields)])
        if not applied:
            raise StaleState(f"{operation_id} moved on from {current.state}")
        return await self.get(operation_id)

    async def transition_many(self, moves: Sequence[Move]) -> list[bool]:
        """Applies each move to the operation in the state it was read in, all in one database transaction;
        per move, whether it applied (False: the row had moved on, as `StaleState` in `transition`; a
        second move of the same operation in one call never applies). `IllegalTransition` before anything
        is written if a move is not in the state machine.

        The rows are locked first (PostgreSQL: ``SELECT ... FOR UPDATE``; SQLite: the write lock), so the
        states read are the states updated; the updates then go as one executemany per set of columns."""
        at = now_utc()
        planned = [(move, next_state(move.op.kind, move.op.state, move.event)) for move in moves]
        applied: list[bool] = []
        history: list[dict[str, Any]] = []
        rows: list[tuple[str, str | None, dict[str, Any]]] = []
        async with self._engine.begin() as conn:
            current = await _lock_states(conn, [move.op.id for move in moves])
            for move, nxt in planned:
                ok = current.pop(move.op.id, None) == move.op.state.value
                applied.append(ok)
                if not ok:
                    continue
                values = {"state": nxt.value, "updated_at": at, **_encode(move.fields)}
                if nxt == State.FINALIZED and move.op.state == State.OBSERVED:
                    values["finalized_at"] = at
                if nxt in ALWAYS_FINAL:
                    values["completed_at"] = at
                rows.append((move.op.id, move.op.state.value, values))
                history.append(_history_row(move.op.id, move.op.state, nxt, move.event, move.detail, at))
            await _update_rows(conn, rows)
            if history:
                await conn.execute(insert(operation_history), history)
        return applied

    async def update_many(self, updates: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """Updates bookkeeping fields (attempts, schedule, errors) of many operations without a state change,
        in one database transaction (one executemany per set of columns)."""
        at = now_utc()
        rows = [(operation_id, None, {"updated_at": at, **_encode(fields)}) for operation_id, fields in updates]
        if rows:
            async with self._engine.begin() as conn:
                await _update_rows(conn, rows)

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
        """Operations in ``states`` whose next attempt is due, oldest first (``tx_hashes``: only those
        delivered by one of these transactions; ``exclude``: not these ids)."""
        query = (
            select(operations)
            .where(operations.c.state.in_([s.value for s in states]))
            .where(operations.c.next_attempt_at <= (now or now_utc()))
            .order_by(operations.c.source_block_number, operations.c.source_log_index)
            .limit(limit)
        )
        if dest_chain_id is not None:
            query = query.where(operations.c.dest_chain_id == dest_chain_id)
        if source_chain_id is not None:
            query = query.where(operations.c.source_chain_id == source_chain_id)
        if tx_hashes is not None:
            query = query.where(operations.c.dest_tx_hash.in_(sorted(set(tx_hashes))))
        if kind is not None:
            query = query.where(operations.c.kind == kind.value)
        skipped = sorted(set(exclude))
        if skipped:
            query = query.where(operations.c.id.not_in(skipped))
        async with self._engine.connect() as conn:
            return [_row(r) for r in (await conn.execute(query)).mappings()]

    async def tx_hashes(self, states: Iterable[State], *, dest_chain_id: int | None = None) -> set[str]:
        """The delivering transactions of the operations in ``states`` (``dest_chain_id``: bound there)."""
        query = select(operations.c.dest_tx_hash).distinct().where(operations.c.state.in_([s.value for s in states]))
        if dest_chain_id is not None:
            query = query.where(operations.c.dest_chain_id == dest_chain_id)
        async with self._engine.connect() as conn:
            return {h for h in (await conn.execute(query)).scalars() if h is not None}

    async def find(
        self, *, state: State | None = None, kind: Kind | None = None, limit: int = 100, offset: int = 0
    ) -> list[Operation]:
        query = select(operations).order_by(operations.c.created_at, operations.c.id).limit(limit).offset(offset)
        if state is not None:
            query = query.where(operations.c.state == state.value)
        if kind is not None:
            query = query.where(operations.c.kind == kind.value)
        async with self._engine.connect() as conn:
            return [_row(r) for r in (await conn.execute(query)).mappings()]

    async def overdue(self, created_before: datetime) -> list[Operation]:
        """Operations created before ``created_before`` that are not in a final state."""
        always_final = sorted(s.value for s in ALWAYS_FINAL)
        query = (
            select(operations)
            .where(operations.c.created_at < created_before, operations.c.state.not_in(always_final))
            .order_by(operations.c.created_at)
        )
        async with self._engine.connect() as conn:
            rows = [_row(r) for r in (await conn.execute(query)).mappings()]
        return [op for op in rows if not is_final(op.kind, op.state)]

    async def counts(self) -> dict[tuple[str, str], int]:
        """Operations by (kind, state)."""
        query = select(operations.c.kind, operations.c.state, func.count()).group_by(
            operations.c.kind, operations.c.state
        )
        async with self._engine.connect() as conn:
            return {(k, s): n for k, s, n in (await conn.execute(query)).all()}

    async def history(self, operation_id: str) -> list[dict[str, Any]]:
        query = (
            select(operation_history)
            .where(operation_history.c.operation_id == operation_id)
            .order_by(operation_history.c.seq)
        )
        async with self._engine.connect() as conn:
            rows = list((await conn.execute(query)).mappings())
        return [
            {
                "at": _iso(r["at"]),
                "from": r["from_state"],
                "to": r["to_state"],
                "event": r["event"],
                "detail": r["detail"],
            }
            for r in rows
        ]

    async def save_attestation(self, attestation: Attestation, operation_id: str | None) -> None:
        await self.save_attestations([(attestation, operation_id)])

    async def save_attestations(self, pairs: Sequence[tuple[Attestation, str | None]]) -> None:
        """Stores each attestation (with the operation it delivers) unless already stored; one transaction."""
        rows = {
            "0x" + a.digest.hex(): {"kind": a.kind, "operation_id": op_id, "document": json.dumps(a.to_json())}
            for a, op_id in pairs
        }
        if not rows:
            return
        async with self._engine.begin() as conn:
            known = set(
                (await conn.execute(select(attestations.c.digest).where(attestations.c.digest.in_(rows)))).scalars()
            )
            at = now_utc()
            fresh = [{"digest": d, "created_at": at, **row} for d, row in rows.items() if d not in known]
            if fresh:
                await conn.execute(insert(attestations), fresh)

    async def attestation(self, digest: str) -> dict[str, Any] | None:
        return (await self.attestations([digest])).get(digest.lower())

    async def attestations(self, digests: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The stored attestation documents of ``digests`` (lower-case hex), by digest; absent ones omitted."""
        wanted = sorted({d.lower() for d in digests})
        if not wanted:
            return {}
        query = select(attestations.c.digest, attestations.c.document).where(attestations.c.digest.in_(wanted))
        async with self._engine.connect() as conn:
            return {d: dict(json.loads(doc)) for d, doc in (await conn.execute(query)).all()}

    async def documents(self, kind: str) -> list[dict[str, Any]]:
        """Every stored attestation of ``kind``, oldest first."""
        query = select(attestations.c.document).where(attestations.c.kind == kind).order_by(attestations.c.created_at)
        async with self._engine.connect() as conn:
            return [dict(json.loads(r[0])) for r in (await conn.execute(query)).all()]

    async def attestations_of(self, operation_id: str) -> list[str]:
        query = (
            select(attestations.c.digest)
            .where(attestations.c.operation_id == operation_id)
            .order_by(attestations.c.created_at)
        )
        async with self._engine.connect() as conn:
            return [r[0] for r in (await conn.execute(query)).all()]


async def _update_rows(conn: AsyncConnection, rows: Sequence[tuple[str, str | None, dict[str, Any]]]) -> None:
    """Updates each (id, expected state or None, values) row, one executemany per set of columns; a row
    with an expected state only while it is still in it."""
    groups: dict[tuple[tuple[str, ...], bool], list[dict[str, Any]]] = defaultdict(list)
    for operation_id, expected, values in rows:
        guard = {"b_from": expected} if expected is not None else {}
        params = {"b_id": operation_id, **guard, **{f"v_{k}": v for k, v in values.items()}}
        groups[(tuple(sorted(values)), expected is not None)].append(params)
    for (columns, guarded), group in groups.items():
        where = [operations.c.id == bindparam("b_id")]
        if guarded:
            where.append(operations.c.state == bindparam("b_from"))
        await conn.execute(update(operations).where(*where).values({c: bindparam(f"v_{c}") for c in columns}), group)


async def _lock_states(conn: AsyncConnection, ids: Sequence[str]) -> dict[str, str]:
    """The current state of each of ``ids``, locked for the rest of the transaction (PostgreSQL: the rows,
    in id order; SQLite: the database's write lock, taken before reading)."""
    if conn.dialect.name == "sqlite":
        await begin_immediate(conn)
    states: dict[str, str] = {}
    wanted = sorted(set(ids))
    for start in range(0, len(wanted), _IN_CHUNK):
        query = (
            select(operations.c.id, operations.c.state)
            .where(operations.c.id.in_(wanted[start : start + _IN_CHUNK]))
            .order_by(operations.c.id)
            .with_for_update()
        )
        states.update((row.id, row.state) for row in await conn.execute(query))
    return states


def _observed_values(op: Operation) -> dict[str, Any]:
    """The columns an observation sets: the event's position and the operation's content."""
    return {
        "source_tx_hash": op.source.tx_hash, "source_block_number": op.source.block_number,
        "source_block_hash": op.source.block_hash, "source_log_index": op.source.log_index,
        "source_nonce": op.source_nonce, "dest_chain_id": op.dest_chain_id, "security_id": op.security_id,
        "token": op.token, "sender": op.sender, "recipient": op.recipient,
        "amount": None if op.amount is None else str(op.amount), "payload": json.dumps(op.payload, sort_keys=True),
    }  # fmt: skip


def _history_row(
    operation_id: str, before: State | None, after: State, event: Event, detail: str | None, at: datetime
) -> dict[str, Any]:
    return {
        "operation_id": operation_id, "at": at, "from_state": before.value if before else None,
        "to_state": after.value, "event": event.value, "detail": detail,
    }  # fmt: skip
