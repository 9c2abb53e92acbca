"""`dari demo --dir D`: the end-to-end story (SPEC section 9) on a running devnet; exit 0 when it held."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from relayer.cli import fails_cleanly, out
from relayer.devtools.cli.devnet import DEFAULT_DEVNET_DIR


@click.command("demo")
@click.option("--dir", "root", type=click.Path(path_type=Path), default=DEFAULT_DEVNET_DIR, show_default=True)
@fails_cleanly
def demo_command(root: Path) -> None:
    """Tell the story on the devnet in D (start it first with `dari devnet up --dir D --detach`)."""
    from relayer.devtools.demo import tell

    summary = asyncio.run(tell(root, out))
    out.print(summary.table())
