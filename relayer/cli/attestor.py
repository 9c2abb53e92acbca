"""`dari attestor --config FILE --id ID`: one attestor node. It serves its API on the host and port of its
configured ``url`` until SIGTERM or SIGINT, then shuts down gracefully; log lines (JSON or console, as
``[logging]`` says) go to standard error."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from urllib.parse import urlsplit

import click

from attestor.http import make_app, serve
from attestor.service import build_attestor
from relayer.cli import fails_cleanly
from relayer.core.config import load_config
from relayer.core.errors import ConfigError
from relayer.edges.evm.artifacts import load_artifacts
from relayer.logs import configure as configure_logging


def listen_address(url: str) -> tuple[str, int]:
    """Host and port to bind, from the attestor's configured URL."""
    parts = urlsplit(url)
    if parts.hostname is None:
        raise ConfigError("attestors.url", [f"{url} names no host"])
    try:
        port = parts.port
    except ValueError:
        raise ConfigError("attestors.url", [f"{url} has an invalid port"]) from None
    return parts.hostname, port if port is not None else (443 if parts.scheme == "https" else 80)


async def _run(config_path: Path, attestor_id: str) -> None:
    config = load_config(config_path)
    configure_logging(config.logging)
    attestor = build_attestor(config, attestor_id, config_path.resolve().parent, load_artifacts())
    entry = next(a for a in config.attestors if a.id == attestor_id)
    host, port = listen_address(entry.url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await serve(make_app(attestor), host, port, stop.wait())


@click.command("attestor")
@click.option(
    "--config", "config_path", required=True, type=click.Path(path_type=Path, dir_okay=False), help="The TOML config."
)
@click.option("--id", "attestor_id", required=True, help="Which of the configured attestors this node is.")
@fails_cleanly
def attestor(config_path: Path, attestor_id: str) -> None:
    """Run one attestor node: it checks chain events itself before it signs."""
    asyncio.run(_run(config_path, attestor_id))
