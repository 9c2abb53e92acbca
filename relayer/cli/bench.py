"""`dari bench`: prints one JSON object of measurements and writes it to bench/results.json."""

from __future__ import annotations

import json
from pathlib import Path

import click

from relayer.cli import err, print_json


@click.command("bench")
@click.option("--iterations", type=click.IntRange(1000), default=20_000, show_default=True, help="Calls per timing.")
@click.option("--output", type=click.Path(path_type=Path), default=Path("bench/results.json"), show_default=True)
def bench(iterations: int, output: Path) -> None:
    """Measure attestation signing and verification against raw PyNaCl in the same run."""
    from relayer.bench import attest_rates

    with err.status("ed25519 and attestation micro-benchmarks"):
        results = {"attest": attest_rates(iterations)}
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2) + "\n")
    print_json(results)
