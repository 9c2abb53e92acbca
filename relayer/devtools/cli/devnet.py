"""`dari devnet up|down|status`."""

from __future__ import annotations

import asyncio
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from relayer.cli import err, fails_cleanly, json_option, out, print_json

DEFAULT_DEVNET_DIR = Path(".dari/devnet")


@click.group()
def devnet() -> None:
    """A local three-chain devnet (registry 820001, ethereum 31337, rollup 31338)."""


dir_option = click.option(
    "--dir", "root", type=click.Path(path_type=Path), default=DEFAULT_DEVNET_DIR, show_default=True,
    help="Devnet directory (manifest, config, keys, logs, pid files).",
)  # fmt: skip


@devnet.command("up")
@dir_option
@click.option("--detach", is_flag=True, help="Return once the devnet is up; stop it with `dari devnet down`.")
@click.option("--no-relayer", is_flag=True, help="Do not start the relayer daemon (the attestors still start).")
@click.option(
    "--block-time", type=click.IntRange(1, 60), default=1, show_default=True, help="Public chains' block time (s)."
)
@json_option
@fails_cleanly
def devnet_up(root: Path, detach: bool, no_relayer: bool, block_time: int, as_json: bool) -> None:
    """Start the chains, deploy and seed, write D/devnet.json and D/dari.toml."""
    from relayer.devtools.devnet import control

    try:
        with err.status("starting devnet: chains, contracts, seed data"):
            manifest = asyncio.run(control.up(root, block_time=block_time, relayer=not no_relayer))
        if as_json:
            print_json(manifest.to_json())
        else:
            _print_manifest(manifest, root)
        if detach:
            return
        err.print("devnet running; Ctrl-C stops it")
        _wait_for_stop(lambda: any(not alive for _r, alive in control.status(root)))
    except KeyboardInterrupt:
        err.print("interrupted")
    stopped = control.down(root)
    err.print(f"devnet stopped ({len(stopped)} processes)")


def _wait_for_stop(died: Callable[[], bool]) -> None:
    """Blocks until SIGINT/SIGTERM or until a devnet process dies."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(0.5):
        if died():
            err.print("[red]a devnet process exited; stopping the rest[/red]")
            return


def _print_manifest(manifest: Any, root: Path) -> None:
    table = Table(title=f"devnet in {root}")
    for column in ("chain", "chain id", "rpc", "contracts"):
        table.add_column(column)
    for chain in (manifest.registry, *manifest.public):
        contracts = ", ".join(f"{k}={v}" for k, v in chain.contracts.items()) or "-"
        table.add_row(chain.name, str(chain.chain_id), chain.rpc_url, contracts)
    out.print(table)
    out.print(
        f"{len(manifest.securities)} securities, {len(manifest.investors)} investors; "
        f"manifest {root / 'devnet.json'}, config {root / 'dari.toml'}"
    )


@devnet.command("down")
@dir_option
@json_option
@fails_cleanly
def devnet_down(root: Path, as_json: bool) -> None:
    """Stop every process this devnet started (and nothing else)."""
    from relayer.devtools.devnet import control

    stopped = control.down(root)
    if as_json:
        print_json({"stopped": [{"name": r.name, "pid": r.pid} for r in stopped]})
    elif stopped:
        out.print("stopped " + ", ".join(f"{r.name} (pid {r.pid})" for r in stopped))
    else:
        out.print(f"no devnet running in {root}")


@devnet.command("status")
@dir_option
@json_option
@fails_cleanly
def devnet_status(root: Path, as_json: bool) -> None:
    """Show the devnet's processes; exit 1 when none runs."""
    from relayer.devtools.devnet import control

    rows = control.status(root)
    if as_json:
        print_json({"processes": [{"name": r.name, "pid": r.pid, "running": alive} for r, alive in rows]})
    else:
        for record, alive in rows:
            out.print(f"{record.name:10} pid {record.pid:<8} {'running' if alive else 'exited'}")
        if not rows:
            out.print(f"no devnet in {root}")
    if not any(alive for _r, alive in rows):
        sys.exit(1)
