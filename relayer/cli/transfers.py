"""`dari transfers list|show|approve|reject|retry`: operator tooling over the relayer's database."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.table import Table

from attestations.attestation import Attestation
from attestations.log import TransparencyLog
from relayer.cli import err, fails_cleanly, json_option, out, print_json
from relayer.core.config import load_config
from relayer.core.errors import ConfigError
from relayer.core.model import Operation, UnknownOperation
from relayer.core.operator import OperatorRefused
from relayer.core.signed import decisions_domain, signed_decision, signing_key
from relayer.core.transfer_state import Kind, OperatorAction, State
from relayer.edges.db import engine as db
from relayer.edges.db.log_store import SqlLogStorage
from relayer.edges.db.store import OperationStore
from relayer.pipeline.operator import Operator

T = TypeVar("T")
config_option = click.option("--config", "config_file", type=click.Path(path_type=Path), required=True)


def _with_store(config_file: Path, action: Callable[[OperationStore, TransparencyLog], Awaitable[T]]) -> T:
    config = load_config(config_file)

    async def run() -> T:
        engine = db.create_engine(config.database.url)
        try:
            await db.upgrade(engine)
            log_ = TransparencyLog(SqlLogStorage(engine))
            await log_.load()
            return await action(OperationStore(engine), log_)
        finally:
            await engine.dispose()

    return asyncio.run(run())


@click.group("transfers")
def transfers_group() -> None:
    """Transfers and other operations of the relayer."""


@transfers_group.command("list")
@config_option
@click.option("--state", type=click.Choice([s.value for s in State]), help="Only this state.")
@click.option("--kind", type=click.Choice([k.value for k in Kind]), help="Only this kind.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True)
@json_option
@fails_cleanly
def transfers_list(config_file: Path, state: str | None, kind: str | None, limit: int, as_json: bool) -> None:
    """List operations, oldest first."""
    found = _with_store(
        config_file,
        lambda s, _log: s.find(state=State(state) if state else None, kind=Kind(kind) if kind else None, limit=limit),
    )
    if as_json:
        print_json({"transfers": [op.to_json() for op in found]})
        return
    table = Table()
    for column in ("id", "kind", "state", "amount", "recipient", "reason", "attempts"):
        table.add_column(column)
    for op in found:
        table.add_row(op.id, op.kind.value, op.state.value, str(op.amount or ""), op.recipient or "", op.reason or "",
                      str(op.attempts))  # fmt: skip
    out.print(table)


@transfers_group.command("show")
@config_option
@click.argument("operation_id")
@json_option
@fails_cleanly
def transfers_show(config_file: Path, operation_id: str, as_json: bool) -> None:
    """One operation's whole history: events, decision with reasons, attestations, transactions."""

    async def show(store: OperationStore, _log: TransparencyLog) -> dict[str, Any]:
        op = await store.get(operation_id)
        return {
            **op.to_json(),
            "attestations": await store.attestations_of(op.id),
            "history": await store.history(op.id),
        }

    try:
        body = _with_store(config_file, show)
    except UnknownOperation:
        err.print(f"no operation {operation_id}")
        sys.exit(1)
    if as_json:
        print_json(body)
        return
    out.print(f"{body['id']} ({body['kind']}): {body['state']}", highlight=False)
    for key in ("sourceTxHash", "destTxHash", "reason", "lockedUntil", "lastError"):
        if body.get(key) is not None:
            out.print(f"  {key}: {body[key]}", highlight=False)
    for digest in body["attestations"]:
        out.print(f"  attestation: {digest}", highlight=False)
    for entry in body["history"]:
        line = f"  {entry['at']}  {entry['from'] or '-'} -> {entry['to']}  ({entry['event']}) {entry['detail'] or ''}"
        out.print(line, highlight=False)


def _act(config_file: Path, operation_id: str, action: OperatorAction, decide: Decide | None = None) -> None:
    """Applies ``action``; ``decide`` makes the officer's signed decision for the operation (approve, reject)."""
    config = load_config(config_file)

    async def act(store: OperationStore, log_: TransparencyLog) -> Operation:
        decision = None if decide is None else decide(await store.get(operation_id))
        return await Operator.from_config(config, store, time.time, log_)(operation_id, action, decision)

    try:
        moved = _with_store(config_file, act)
    except UnknownOperation:
        err.print(f"no operation {operation_id}")
        sys.exit(1)
    except OperatorRefused as exc:
        err.print(f"refused: {exc}")
        sys.exit(1)
    out.print(f"{operation_id}: {moved.state.value}")


Decide = Callable[[Operation], Attestation]


def _decision(
    config_file: Path, approve: bool, reason: str, officer_id: str | None, locked_until: int | None
) -> Decide:
    """Signs the officer's decision about an operation with the officer's own key (``officers[].key`` of the
    configuration on the officer's machine)."""
    config = load_config(config_file)
    officers = {o.id: o for o in config.officers}
    if officer_id is None and len(officers) == 1:
        officer_id = next(iter(officers))
    if officer_id not in officers:
        known = ", ".join(officers) or "none"
        raise ConfigError("officers", [f"name the deciding officer with --officer (configured: {known})"])
    key = signing_key(officers[officer_id], f"officers[{officer_id}].key")

    def decide(op: Operation) -> Attestation:
        kept = (op.locked_until or 0) if locked_until is None else locked_until
        return signed_decision(
            key, decisions_domain(config), op.source, approve=approve, locked_until=kept, reason=reason,
            now=int(time.time()),
        )  # fmt: skip

    return decide


reason_option = click.option("--reason", required=True, help="Why: kept in the signed decision and the log.")
officer_option = click.option("--officer", "officer_id", help="The deciding officer (default: the only one).")


@transfers_group.command("approve")
@config_option
@click.argument("operation_id")
@reason_option
@officer_option
@click.option(
    "--locked-until", type=click.IntRange(0, 2**64 - 1), default=None,
    help="A bridge-out's lock-up (Unix seconds) if longer than the rules' (default: the rules').",
)  # fmt: skip
@fails_cleanly
def transfers_approve(
    config_file: Path, operation_id: str, reason: str, officer_id: str | None, locked_until: int | None
) -> None:
    """Approve a held (escalated) operation with the officer's signed decision: it is attested and delivered."""
    decide = _decision(config_file, True, reason, officer_id, locked_until)
    _act(config_file, operation_id, OperatorAction.APPROVE, decide)


@transfers_group.command("reject")
@config_option
@click.argument("operation_id")
@reason_option
@officer_option
@fails_cleanly
def transfers_reject(config_file: Path, operation_id: str, reason: str, officer_id: str | None) -> None:
    """Reject a held operation with the officer's signed decision: a bridge-out is refunded (operator-rejected)."""
    _act(config_file, operation_id, OperatorAction.REJECT, _decision(config_file, False, reason, officer_id, None))


@transfers_group.command("retry")
@config_option
@click.argument("operation_id")
@fails_cleanly
def transfers_retry(config_file: Path, operation_id: str) -> None:
    """Retry a stalled or held operation now (held ones are decided again)."""
    _act(config_file, operation_id, OperatorAction.RETRY)
