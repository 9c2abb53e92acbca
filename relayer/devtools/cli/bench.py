"""`dari bench`: prints one JSON object of measurements (SPEC section 10) and writes it to bench/results.json."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import click

from relayer.cli import err, fails_cleanly, print_json

POSTGRES_ENV = "DARI_BENCH_POSTGRES_URL"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"


@click.command("bench")
@click.option("--transfers", type=click.IntRange(0), default=1000, show_default=True,
              help="Bridge-outs relayed end to end (0: only the ed25519 micro-benchmarks).")  # fmt: skip
@click.option("--postgres", "postgres_url", default=lambda: os.environ.get(POSTGRES_ENV, DEFAULT_POSTGRES),
              show_default=f"${POSTGRES_ENV} or {DEFAULT_POSTGRES}",
              help="Admin URL of the PostgreSQL server the run creates (and drops) its database on.")  # fmt: skip
@click.option("--dir", "root", type=click.Path(path_type=Path), default=Path(".dari/bench"), show_default=True,
              help="Devnet directory of the run (logs stay there).")  # fmt: skip
@click.option("--iterations", type=click.IntRange(1000), default=100_000, show_default=True,
              help="ed25519 calls per measurement (in 20 alternating rounds).")  # fmt: skip
@click.option("--output", type=click.Path(path_type=Path), default=Path("bench/results.json"), show_default=True)
@fails_cleanly
def bench(transfers: int, postgres_url: str, root: Path, iterations: int, output: Path) -> None:
    """Relay N transfers on a devnet with PostgreSQL, replay the same mints with a minimal loop, and
    measure ed25519 signing and verification against raw PyNaCl, all in one run."""
    from relayer.devtools.bench.attest import attest_rates
    from relayer.devtools.bench.end_to_end import run

    results: dict[str, object] = {}
    with err.status("ed25519 and attestation micro-benchmarks (before the devnet starts: a quiet machine)") as status:
        rates = attest_rates(iterations)
        if transfers:
            results = asyncio.run(run(transfers, postgres_url, root, lambda message: status.update(message)))
        results["attest"] = rates
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2) + "\n")
    print_json(results)
