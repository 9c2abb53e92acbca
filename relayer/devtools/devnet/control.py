"""`dari devnet up` / `down`: start, deploy, seed, describe, and stop exactly what was started."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import aiohttp
import tomli_w
from eth_utils.crypto import keccak

from attestations.attestation import Attestation
from attestations.signing import AttestorKey
from relayer.core.config import load_config, parse_config
from relayer.devtools.devnet.anvil import DEVNET_CHAINS, ChainSpec, anvil_argv, free_port, set_block_time, wait_ready
from relayer.devtools.devnet.cast import (
    ATTESTOR_IDS,
    ATTESTOR_THRESHOLD,
    OFFICER_ID,
    SECURITIES,
    attestor_key,
    claim_issuer_key,
    devnet_account,
    key_hex,
    officer_key,
)
from relayer.devtools.devnet.deploy import RunningChain, deploy_and_seed
from relayer.devtools.devnet.holders import approve_seeded_holders
from relayer.devtools.devnet.manifest import ChainEntry, Manifest
from relayer.devtools.devnet.processes import ProcessRecord, ProcessTable, is_alive
from relayer.devtools.errors import DevnetError, DevnetRunning

START_ATTEMPTS = 3
DAEMON_START_TIMEOUT = 30.0
DEVNET_BATCH_SIZE = 200  # mints per mintBatch: about 12M gas, within the devnet's 1e9 block gas limit


@dataclass(frozen=True)
class DevnetLayout:
    """Files of one devnet directory."""

    root: Path

    @property
    def manifest(self) -> Path:
        return self.root / "devnet.json"

    @property
    def config(self) -> Path:
        return self.root / "dari.toml"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def keys(self) -> Path:
        return self.root / "keys"

    @property
    def processes(self) -> ProcessTable:
        return ProcessTable(self.root / "run")


async def _start_chain(layout: DevnetLayout, spec: ChainSpec) -> RunningChain:
    name, chain_id = spec.name, spec.chain_id
    log = layout.logs / f"{name}.log"
    for _attempt in range(START_ATTEMPTS):
        port = free_port()
        proc = layout.processes.spawn(name, anvil_argv(spec, port), log)
        url = f"http://127.0.0.1:{port}"
        try:
            await wait_ready(url, chain_id, lambda p=proc: p.poll() is None, log)  # type: ignore[misc]
            return RunningChain(name, chain_id, url)
        except DevnetError:
            if proc.poll() is None:  # answering with the wrong chain id: kill ours, try another port
                proc.kill()
            proc.wait()
            (layout.processes.run_dir / f"{name}.pid").unlink(missing_ok=True)
    raise DevnetError(f"anvil for {name} did not start after {START_ATTEMPTS} attempts; see {log}")


def _write_key(path: Path, key_hex: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(key_hex + "\n")


def _write_attestor(layout: DevnetLayout, attestor_id: str, port: int) -> dict[str, object]:
    key = attestor_key(attestor_id)
    key_file = layout.keys / f"{attestor_id}.json"
    _write_key(key_file, json.dumps(key.to_json()))
    public = key.public()
    return {
        "id": attestor_id,
        "url": f"http://127.0.0.1:{port}",
        "ed25519": public["ed25519"],
        "address": public["address"],
        "key": {"key_file": str(key_file.resolve())},
        "journal": str((layout.root / f"attestor-{attestor_id}.db").resolve()),
    }


def _signer(key: AttestorKey, key_file: Path | None = None) -> dict[str, object]:
    """A [[claim_issuers]] or [[officers]] entry (with its key file where the devnet keeps the key)."""
    public = key.public()
    entry: dict[str, object] = {"id": public["id"], "ed25519": public["ed25519"], "address": public["address"]}
    if key_file is not None:
        _write_key(key_file, json.dumps(key.to_json()))
        entry["key"] = {"key_file": str(key_file.resolve())}
    return entry


def _write_config(layout: DevnetLayout, manifest: Manifest, api_port: int, claims: list[Attestation]) -> None:
    _write_key(layout.keys / "relayer.key", key_hex(devnet_account("relayer")))
    _write_key(layout.keys / "api.token", secrets.token_hex(16))
    _write_key(layout.keys / "log.key", "0x" + keccak(text="dari-devnet/transparency-log").hex())
    claims_file = layout.root / "claims.json"
    claims_file.write_text(json.dumps([c.to_json() for c in claims], indent=2) + "\n")
    specs = {s.name: s for s in DEVNET_CHAINS}

    def chain(entry: ChainEntry) -> dict[str, object]:
        spec = specs[entry.name]
        return {
            "name": entry.name,
            "chain_id": entry.chain_id,
            "rpc_url": entry.rpc_url,
            "confirmations": spec.confirmations,
            "poll_interval": 0.2 if spec.permissioned else 0.5,
            "contracts": entry.contracts,
        }

    document = {
        "database": {"url": f"sqlite+aiosqlite:///{(layout.root / 'dari.db').resolve()}"},
        "registry": chain(manifest.registry),
        "public": [chain(c) for c in manifest.public],
        "relayer": {
            "signer": {"key_file": str((layout.keys / "relayer.key").resolve())},
            "lease_seconds": 3.0,
            "batch_size": DEVNET_BATCH_SIZE,
        },
        "api": {
            "host": "127.0.0.1",
            "port": api_port,
            "token": {"key_file": str((layout.keys / "api.token").resolve())},
        },
        "trust": {"epoch": 1, "threshold": ATTESTOR_THRESHOLD},
        "attestors": [_write_attestor(layout, attestor_id, free_port()) for attestor_id in ATTESTOR_IDS],
        "claim_issuers": [_signer(claim_issuer_key())],
        "officers": [_signer(officer_key(), layout.keys / f"{OFFICER_ID}.json")],
        "kyc": {"claims_file": str(claims_file.resolve())},
        "securities": [
            {
                "id": s.id,
                "isin": s.isin,
                "name": s.name,
                "asset_class": s.asset_class,
                "flags": list(next(d.flags for d in SECURITIES if d.isin == s.isin)),
                "registry_token": s.registry_token,
            }
            for s in manifest.securities
        ],
        "transparency": {"signer": {"key_file": str((layout.keys / "log.key").resolve())}},
        "logging": {"level": "info", "format": "json"},
    }
    parse_config(document, str(layout.config))  # the devnet never writes a config it would reject
    layout.config.write_text(
        "# Written by `dari devnet up`: a complete configuration for this devnet (devnet keys only).\n"
        + tomli_w.dumps(document)
    )


PYTHON = [sys.executable, "-m", "relayer"]


async def start_daemon(
    root: Path, name: str, argv: list[str], health_url: str, env: dict[str, str] | None = None
) -> None:
    """Starts a Dari daemon of ``root``'s devnet as process ``name`` and waits until ``health_url`` answers."""
    layout = DevnetLayout(root)
    log = layout.logs / f"{name}.log"
    proc = layout.processes.spawn(name, argv, log, env)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DAEMON_START_TIMEOUT
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=1)) as session:
        while loop.time() < deadline:
            if proc.poll() is not None:
                raise DevnetError(f"{name} exited at start; see {log}")
            try:
                async with session.get(health_url) as response:
                    if response.status == 200:
                        return
            except (aiohttp.ClientError, TimeoutError):
                pass
            await asyncio.sleep(0.1)
    raise DevnetError(f"{name} did not answer {health_url} within {DAEMON_START_TIMEOUT} s; see {log}")


async def start_daemons(root: Path, *, relayer: bool = True) -> None:
    """Starts the attestors of ``root``'s config and, unless ``relayer`` is False, the relayer."""
    config = load_config(DevnetLayout(root).config)
    await asyncio.gather(*(start_attestor(root, a.id) for a in config.attestors))
    if relayer:
        await start_relayer(root)


async def start_attestor(root: Path, attestor_id: str) -> None:
    """Starts (or restarts) attestor ``attestor_id`` of ``root``'s devnet."""
    layout = DevnetLayout(root)
    attestor = next(a for a in load_config(layout.config).attestors if a.id == attestor_id)
    argv = [*PYTHON, "attestor", "--config", str(layout.config), "--id", attestor_id]
    await start_daemon(root, attestor_id, argv, f"{attestor.url}/healthz")


async def start_relayer(
    root: Path, *, name: str = "relayer", env: dict[str, str] | None = None, api_port: int | None = None
) -> None:
    """Starts (or restarts) a relayer of ``root``'s devnet as process ``name``; a second relayer for
    high availability needs its own ``api_port``."""
    layout = DevnetLayout(root)
    config = load_config(layout.config)
    port = config.api.port if api_port is None else api_port
    argv = [*PYTHON, "relay", "--config", str(layout.config), "--owner", name]
    if api_port is not None:
        argv += ["--api-port", str(api_port)]
    await start_daemon(root, name, argv, f"http://{config.api.host}:{port}/healthz", env)


async def up(root: Path, *, block_time: int = 1, relayer: bool = True) -> Manifest:
    """Starts the chains, deploys and seeds, writes the manifest and config, starts the attestors and
    (unless ``relayer`` is False) the relayer, whose held seeded registrations the devnet's compliance officer
    approves (`relayer.devtools.devnet.holders`); on failure nothing is left running."""
    layout = DevnetLayout(root)
    running = layout.processes.running()
    if running:
        pids = ", ".join(f"{r.name}={r.pid}" for r in running)
        raise DevnetRunning(f"a devnet is already running in {root} ({pids}); stop it with `dari devnet down`")
    layout.processes.stop_all()  # clears stale pid files of a crashed devnet
    root.mkdir(parents=True, exist_ok=True)
    for stale in [*root.glob("dari.db*"), *root.glob("attestor-*.db*")]:
        stale.unlink()  # state of an earlier devnet's chains, meaningless on fresh ones
    try:
        chains = await asyncio.gather(*(_start_chain(layout, spec) for spec in DEVNET_CHAINS))
        registry, public = chains[0], list(chains[1:])
        seeded = await deploy_and_seed(registry, public)
        manifest = seeded.manifest
        await asyncio.gather(*(set_block_time(c.rpc_url, block_time) for c in public))
        api_port = free_port()
        _write_config(layout, manifest, api_port, seeded.claims)
        if relayer:
            manifest = replace(manifest, api_url=f"http://127.0.0.1:{api_port}")
        manifest.write(layout.manifest)
        await start_daemons(root, relayer=relayer)
        if relayer:
            await approve_seeded_holders(root)
        return manifest
    except BaseException:
        layout.processes.stop_all()
        raise


def down(root: Path) -> list[ProcessRecord]:
    """Stops every process recorded in ``root``; returns those that were running."""
    return DevnetLayout(root).processes.stop_all()


def status(root: Path) -> list[tuple[ProcessRecord, bool]]:
    """Every recorded process with whether it still runs."""
    return [(r, is_alive(r)) for r in DevnetLayout(root).processes.records()]
