"""`dari relay --config F`: the relayer daemon with its HTTP API; SIGTERM/SIGINT stop it gracefully."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
from pathlib import Path

import click
from aiohttp import web

from attestations.keys import Ed25519Signer
from relayer.cli import fails_cleanly
from relayer.core.config import Config, load_config
from relayer.edges.db import engine as db
from relayer.logs import configure


async def serve(config: Config, owner: str) -> None:
    from relayer.edges.http.api import build_app
    from relayer.pipeline.operator import Operator
    from relayer.relay import open_relay

    engine = db.create_engine(config.database.url)
    await db.upgrade(engine)
    log_signer = Ed25519Signer.from_hex(config.transparency.signer.read()) if config.transparency else None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with open_relay(config, engine, owner=owner) as relay:
            token = config.api.token.read() if config.api.token else None
            operator = Operator.from_config(config, relay.store, time.time, relay.log)
            app = build_app(
                config, relay.store, relay.log, log_signer, token=token, operator=operator, pauser=relay.pauser
            )
            runner = web.AppRunner(app)
            await runner.setup()
            site = web.TCPSite(runner, config.api.host, config.api.port)
            await site.start()
            try:
                await relay.run(stop)
            finally:
                await runner.cleanup()
    finally:
        await engine.dispose()


@click.command("relay")
@click.option("--config", "config_file", type=click.Path(path_type=Path), required=True)
@click.option("--owner", default=None, help="Name of this relayer in the leadership lease (default: host:pid).")
@click.option("--api-port", type=click.IntRange(0, 65535), default=None, help="Override api.port (a standby relayer).")
@fails_cleanly
def relay_command(config_file: Path, owner: str | None, api_port: int | None) -> None:
    """Run the relayer daemon: watch, decide, attest, deliver; serve the HTTP API."""
    config = load_config(config_file)
    if api_port is not None:
        config = config.model_copy(update={"api": config.api.model_copy(update={"port": api_port})})
    configure(config.logging)
    asyncio.run(serve(config, owner or f"{socket.gethostname()}:{os.getpid()}"))
