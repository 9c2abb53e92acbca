"""The devnet's chains: anvil command lines and readiness checks."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from relayer.devtools.errors import DevnetError
from relayer.edges.evm import paths

REGISTRY_CHAIN_ID = 820001
GAS_LIMIT = 1_000_000_000


@dataclass(frozen=True)
class ChainSpec:
    """One devnet chain. The registry behaves like a BFT permissioned network: zero gas price and
    a block per transaction (instant finality); public chains have a base fee and a block time."""

    name: str
    chain_id: int
    permissioned: bool
    confirmations: int


DEVNET_CHAINS = (
    ChainSpec("registry", REGISTRY_CHAIN_ID, permissioned=True, confirmations=0),
    ChainSpec("ethereum", 31337, permissioned=False, confirmations=2),
    ChainSpec("rollup", 31338, permissioned=False, confirmations=2),
)


def free_port() -> int:
    """A loopback TCP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def anvil_binary() -> Path | None:
    """The anvil binary: ``$DARI_ANVIL``, the npm platform package, or None when neither exists."""
    configured = os.environ.get("DARI_ANVIL")
    if configured:
        return Path(configured)
    bundled = paths.PROJECT_ROOT / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
    return bundled if bundled.exists() else None


def anvil_argv(spec: ChainSpec, port: int) -> list[str]:
    """The command line of ``spec``'s anvil. Public chains start in automine for deployment; the
    devnet switches them to interval mining afterwards (`set_block_time`)."""
    binary = anvil_binary()
    if binary is None or not binary.exists():
        raise DevnetError("anvil not found: run `make install` (npm ci) or set DARI_ANVIL")
    argv = [
        str(binary),
        "--host", "127.0.0.1",
        "--port", str(port),
        "--chain-id", str(spec.chain_id),
        "--gas-limit", str(GAS_LIMIT),
        "--accounts", "10",
        "--balance", "1000000",
    ]  # fmt: skip
    if spec.permissioned:
        argv += ["--gas-price", "0", "--base-fee", "0", "--disable-min-priority-fee"]
    return argv


async def rpc(session: aiohttp.ClientSession, url: str, method: str, params: list[object]) -> object:
    """One JSON-RPC call; `DevnetError` on an error answer."""
    async with session.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}) as resp:
        body = await resp.json()
    if "error" in body:
        raise DevnetError(f"{method} on {url}: {body['error']}")
    return body["result"]


async def wait_ready(url: str, chain_id: int, alive: Callable[[], bool], log: Path, timeout: float = 15.0) -> None:
    """Waits until ``url`` answers ``eth_chainId`` with ``chain_id``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
        while loop.time() < deadline:
            if not alive():
                raise DevnetError(f"anvil for chain {chain_id} exited; see {log}")
            try:
                answer = await rpc(session, url, "eth_chainId", [])
            except (TimeoutError, aiohttp.ClientError):
                await asyncio.sleep(0.03)
                continue
            if int(str(answer), 16) != chain_id:
                raise DevnetError(f"{url} answers chain id {answer}, expected {chain_id}: port taken?")
            return
    raise DevnetError(f"anvil for chain {chain_id} not ready after {timeout} s; see {log}")


async def set_block_time(url: str, seconds: int) -> None:
    """Switches a chain from automine to one block every ``seconds``."""
    async with aiohttp.ClientSession() as session:
        await rpc(session, url, "evm_setIntervalMining", [seconds])
