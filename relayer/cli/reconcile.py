"""`dari reconcile`: locked units against wrapped supply and in-flight transfers, per security, at finalized
blocks; attested, logged and stored. Exit 0 when every security balances, 3 when one does not, 1 when a
balanced report could not be attested, 2 on a configuration error."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from relayer.cli import err, fails_cleanly, json_option, out, print_json
from relayer.core.config import Config, load_config
from relayer.edges.db import engine as db
from relayer.logs import configure as configure_logging
from relayer.pipeline.reconcile import Run
from relayer.reconciliation import run_once

EXIT_IMBALANCE = 3


async def _run(config: Config, sign: bool) -> Run:
    if not sign:
        return await run_once(config, None, sign=False)
    engine = db.create_engine(config.database.url)
    try:
        await db.upgrade(engine)
        return await run_once(config, engine)
    finally:
        await engine.dispose()


def to_json(config: Config, run: Run) -> dict[str, Any]:
    isins = {s.id.lower(): s.isin for s in config.securities}
    securities = []
    for outcome in run.outcomes:
        message = outcome.report.to_message()
        securities.append({
            **message,
            "isin": isins.get(message["securityId"].lower()),
            "details": outcome.reconciliation.details,
            "attestation": outcome.attestation.to_json() if outcome.attestation else None,
            "error": outcome.error,
        })  # fmt: skip
    return {
        "balanced": run.balanced,
        "observedAt": run.observed_at,
        "blocks": {str(c): b for c, b in sorted(run.blocks.items())},
        "securities": securities,
        "paused": [{"chainId": p.chain_id, "tx": p.tx_hash, "error": p.error} for p in run.paused],
    }


def _table(document: dict[str, Any]) -> None:
    blocks = ", ".join(f"{c}@{b}" for c, b in document["blocks"].items())
    out.print(f"blocks: {blocks}", highlight=False)
    table = Table(caption="out / back: units in flight to / from the public chains; diff = locked - the rest")
    for column in ("security", "locked", "wrapped", "out", "back", "diff", "ok", "attestation"):
        table.add_column(column, no_wrap=True)
    for s in document["securities"]:
        attestation = s["attestation"]
        signed = attestation["digest"][:12] + "…" if attestation else ("not attested" if s["error"] else "unsigned")
        table.add_row(
            s["isin"] or s["securityId"][:18], s["locked"], s["wrappedSupply"], s["inFlightOut"], s["inFlightBack"],
            s["difference"], "yes" if s["balanced"] else "[red]NO[/red]", signed,
        )  # fmt: skip
    out.print(table)
    for s in document["securities"]:
        for item in s["details"]["inFlight"]:
            out.print(
                f"  {s['isin']}: in flight {item['direction']} {item['chain']}-{item['nonce']} "
                f"{item['amount']} -> {item['destination']}",
                highlight=False,
            )
        for anomaly in s["details"]["anomalies"]:
            out.print(f"  {s['isin']}: [red]{anomaly['finding']}[/red] {anomaly['chain']}-{anomaly['nonce']} "
                      f"{anomaly['amount']}")  # fmt: skip


@click.command("reconcile")
@click.option("--config", "config_file", type=click.Path(path_type=Path), required=True)
@json_option
@click.option("--no-sign", is_flag=True, help="Compute only: no attestor signatures, nothing logged or stored.")
@fails_cleanly
def reconcile_command(config_file: Path, as_json: bool, no_sign: bool) -> None:
    """Reconcile every configured security at finalized blocks: exit 0 balanced, 3 imbalanced."""
    config = load_config(config_file)
    configure_logging(config.logging)  # stderr: stdout is the table or the JSON
    run = asyncio.run(_run(config, not no_sign))
    document = to_json(config, run)
    if as_json:
        print_json(document)
    else:
        _table(document)
    for outcome in run.outcomes:
        if outcome.error:
            err.print(f"not attested: {outcome.report.to_message()['securityId']}: {outcome.error}", highlight=False)
    for pause in run.paused:
        if pause.error:
            err.print(f"error: could not pause inbound minting on chain {pause.chain_id}: {pause.error}",
                      highlight=False)  # fmt: skip
    if not run.balanced:
        sys.exit(EXIT_IMBALANCE)
    if any(o.error for o in run.outcomes):
        sys.exit(1)
