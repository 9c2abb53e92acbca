"""The end-to-end run: a devnet whose relayer works on a fresh PostgreSQL database relays N bridge-outs
(1 unit each, a verified Korean professional investor to their own wallet on "ethereum"); then the
public chain is rewound to before the relay and the relayer's own N mints are replayed by the raw loop.

Bridge-outs enter the registry in blocks of `INJECT_BLOCK` transactions (a BFT ledger's blocks hold many),
sent as fast as the node takes them while the relayer runs, so the relayer sees an open stream of work.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlalchemy import select
from sqlalchemy.engine import make_url
from web3 import Web3

from attestations.attestation import Attestation
from relayer.core.config import DATABASE_URL_ENV, load_config
from relayer.core.errors import DariError
from relayer.core.transfer_state import Kind, State, is_final
from relayer.devtools.bench.raw import RawRun, send_mints
from relayer.devtools.bench.rpc import Rpc
from relayer.devtools.bench.stats import RelayTimings, time_in_states
from relayer.devtools.devnet import control
from relayer.devtools.devnet.cast import DEPLOYER_KEY
from relayer.devtools.devnet.holders import approve_seeded_holders
from relayer.devtools.devnet.manifest import Manifest
from relayer.devtools.devnet.processes import ProcessTable, is_alive
from relayer.edges.chain.submitter import ordered_signatures
from relayer.edges.db import engine as db
from relayer.edges.db.schema import attestations, operation_history, operations
from relayer.edges.db.store import OperationStore
from relayer.edges.evm.artifacts import load_artifacts

INJECT_BLOCK = 100  # bridge-outs per registry block
INVESTOR = "Minjun"  # KR professional investor: every bridge-out is allowed
CHAIN = "ethereum"
RECEIPT_BATCH = 500
SETTLE_TIMEOUT = 120.0  # seconds for the devnet's seeded holder registrations to complete

Progress = Callable[[str], None]


class BenchError(DariError):
    """The benchmark could not run, or a run did not end as it must (every transfer minted once)."""


@dataclass(frozen=True)
class RelayRun:
    timings: RelayTimings
    peak_rss_mb: float
    stages_ms: dict[str, float]


def _pg_url(admin_url: str, database: str) -> str:
    return make_url(admin_url).set(database=database).render_as_string(hide_password=False)


async def _pg(admin_url: str, statement: str) -> None:
    url = make_url(admin_url).set(drivername="postgresql")
    try:
        conn = await asyncpg.connect(url.render_as_string(hide_password=False), timeout=5)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        raise BenchError(
            f"PostgreSQL is not reachable at {make_url(admin_url).render_as_string()}: {exc}; start it "
            "(`pg_ctlcluster --skip-systemctl-redirect <version> main start`) or pass --postgres URL"
        ) from exc
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def _stop(processes: ProcessTable, name: str) -> None:
    """SIGTERM ``name`` and wait until it exited."""
    record = processes.signal(name, signal.SIGTERM)
    while record is not None and is_alive(record):
        time.sleep(0.05)


def peak_rss_mb(pid: int) -> float:
    """The peak resident set size (VmHWM) of a live process, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise BenchError(f"no VmHWM for pid {pid}")


async def run(transfers: int, admin_url: str, root: Path, progress: Progress) -> dict[str, Any]:
    """Relay ``transfers`` bridge-outs end to end, then replay their mints raw; the SPEC section 10 fields
    (without the ed25519 rates)."""
    database = f"dari_bench_{os.getpid()}_{int(time.time())}"
    await _pg(admin_url, f'CREATE DATABASE "{database}"')
    url = _pg_url(admin_url, database)
    control.down(root)
    try:
        progress("starting the devnet (3 anvil chains, contracts, 3 attestors)")
        manifest = await control.up(root, relayer=False)
        engine = db.create_engine(url)
        try:
            async with aiohttp.ClientSession() as session:
                bench = _Bench(root, manifest, url, session, engine, progress)
                relay = await bench.relay(transfers)
                raw = await bench.replay_raw()
        finally:
            await engine.dispose()
    finally:
        control.down(root)
        await _pg(admin_url, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    if raw.transfers != transfers:
        raise BenchError(f"replayed {raw.transfers} mints, relayed {transfers}")
    return {
        "transfers": transfers,
        "relay_tps": round(relay.timings.rate, 1),
        "raw_tps": round(raw.rate, 1),
        "ratio": round(relay.timings.rate / raw.rate, 3),
        "latency_ms": relay.timings.latency_ms(),
        "relay_seconds": round(relay.timings.seconds, 2),
        "raw_seconds": round(raw.seconds, 2),
        "stage_p50_ms": relay.stages_ms,
        "relayer_peak_rss_mb": round(relay.peak_rss_mb, 1),
        "database": "postgresql",
    }


class _Bench:
    def __init__(
        self, root: Path, manifest: Manifest, url: str, session: aiohttp.ClientSession, engine: Any, progress: Progress
    ) -> None:
        self.root, self.manifest, self.url, self.engine, self.progress = root, manifest, url, engine, progress
        self.config = load_config(root / "dari.toml")
        self.registry = Rpc(session, manifest.registry.rpc_url)
        self.public = next(c for c in manifest.public if c.name == CHAIN)
        self.chain = Rpc(session, self.public.rpc_url)
        self.artifacts = load_artifacts()
        self.snapshot: str | None = None

    def _encode(self, name: str, function: str, args: list[Any]) -> bytes:
        contract = Web3().eth.contract(abi=self.artifacts.get(name).abi)
        return bytes.fromhex(contract.encode_abi(function, args=args)[2:])

    async def _transact(self, account: LocalAccount, to: str, data: bytes) -> None:
        nonce = await self.registry.nonce(account.address, "pending")
        tx: dict[str, Any] = {"to": to, "data": data, "gas": 500_000, "gasPrice": 0, "nonce": nonce,
              "chainId": self.manifest.registry.chain_id, "value": 0}  # fmt: skip
        await self.registry.send_raw(account.sign_transaction(tx).raw_transaction)
        await self.registry.wait_nonce(account.address, nonce + 1, timeout=30)

    async def _wait(self, done: Callable[[dict[tuple[str, str], int]], tuple[int, int]], timeout: float) -> None:
        store = OperationStore(self.engine)
        deadline = time.monotonic() + timeout
        while True:
            counts = await store.counts()
            finished, total = done(counts)
            self.progress(f"relayed {finished}/{total}")
            if finished >= total:
                return
            if time.monotonic() > deadline:
                raise BenchError(f"not done after {timeout:.0f} s: {dict(sorted(counts.items()))}")
            await asyncio.sleep(0.5)

    async def relay(self, transfers: int) -> RelayRun:
        investor = next(i for i in self.manifest.investors if i.name.startswith(INVESTOR))
        account: LocalAccount = Account.from_key(investor.registry_key)
        token = self.manifest.securities[0].registry_token
        escrow = self.manifest.registry.contracts["escrow"]
        self.progress(f"funding {investor.name} with {transfers} units")
        await self._transact(
            Account.from_key(DEPLOYER_KEY), token, self._encode("SecurityToken", "mint", [account.address, transfers])
        )
        await self._transact(account, token, self._encode("SecurityToken", "approve", [escrow, transfers]))

        await control.start_relayer(self.root, env={**os.environ, DATABASE_URL_ENV: self.url})
        self.progress("relayer started; the officer approves the held seeded registrations")
        await approve_seeded_holders(self.root)
        self.progress("waiting for the devnet's holder registrations")
        await self._wait(
            lambda counts: (
                sum(n for (k, s), n in counts.items() if is_final(Kind(k), State(s))),
                sum(counts.values()) or 1,
            ),
            SETTLE_TIMEOUT,
        )
        self.snapshot = str(await self.chain.call("evm_snapshot"))

        wallet = investor.wallets[str(self.public.chain_id)].address
        call = self._encode("BridgeEscrow", "bridgeOut", [token, 1, self.public.chain_id, wallet])
        await self._inject(account, escrow, call, transfers)
        await self._wait(
            lambda counts: (counts.get((Kind.BRIDGE_OUT.value, State.CONFIRMED.value), 0), transfers),
            timeout=120 + transfers * 0.5,
        )
        [relayer] = [r for r in control.DevnetLayout(self.root).processes.running() if r.name == "relayer"]
        rss = peak_rss_mb(relayer.pid)
        _stop(control.DevnetLayout(self.root).processes, relayer.name)
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(operations.c.state, operations.c.finalized_at, operations.c.completed_at).where(
                        operations.c.kind == Kind.BRIDGE_OUT.value
                    )
                )
            ).all()
            history = (
                await conn.execute(
                    select(operation_history.c.operation_id, operation_history.c.at, operation_history.c.to_state)
                    .join(operations, operations.c.id == operation_history.c.operation_id)
                    .where(operations.c.kind == Kind.BRIDGE_OUT.value)
                    .order_by(operation_history.c.seq)
                )
            ).all()
        if len(rows) != transfers or any(r.state != State.CONFIRMED.value for r in rows):
            raise BenchError(f"{len(rows)} bridge-outs recorded for {transfers} sent, not all confirmed")
        histories: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
        for entry in history:
            histories[entry.operation_id].append((entry.at, entry.to_state))
        timings = RelayTimings([r.finalized_at for r in rows], [r.completed_at for r in rows])
        return RelayRun(timings, rss, time_in_states(histories.values()))

    async def _inject(self, account: LocalAccount, escrow: str, call: bytes, transfers: int) -> None:
        """``transfers`` bridge-outs in blocks of `INJECT_BLOCK`, signed beforehand and sent as fast as the
        node takes them (a block's transactions in one JSON-RPC batch)."""
        chain_id = self.manifest.registry.chain_id
        first = await self.registry.nonce(account.address, "pending")
        transactions: list[dict[str, Any]] = [
            {"to": escrow, "data": call, "gas": 400_000, "gasPrice": 0, "nonce": first + i, "chainId": chain_id,
             "value": 0}
            for i in range(transfers)
        ]  # fmt: skip
        signed = [account.sign_transaction(tx).raw_transaction for tx in transactions]
        await self.registry.call("evm_setAutomine", False)
        try:
            for start in range(0, transfers, INJECT_BLOCK):
                block = signed[start : start + INJECT_BLOCK]
                await self.registry.batch("eth_sendRawTransaction", [["0x" + raw.hex()] for raw in block])
                await self.registry.call("evm_mine")
                self.progress(f"sent {min(start + INJECT_BLOCK, transfers)}/{transfers} bridge-outs")
        finally:
            await self.registry.call("evm_setAutomine", True)
        await self.registry.wait_nonce(account.address, first + transfers, timeout=60)

    async def replay_raw(self) -> RawRun:
        """Rewinds the public chain to before the relay and sends the relayer's mints one per transaction."""
        async with self.engine.connect() as conn:
            documents = (
                await conn.execute(
                    select(attestations.c.document)
                    .join(operations, operations.c.id == attestations.c.operation_id)
                    .where(operations.c.kind == Kind.BRIDGE_OUT.value, attestations.c.kind == "TransferAuthorization")
                    .order_by(operations.c.source_nonce)
                )
            ).scalars()
            minted = [Attestation.parse(d) for d in documents]
        calls = [self._encode("BridgeGateway", "mint", [a.statement.as_tuple(), ordered_signatures(a)]) for a in minted]
        if not await self.chain.call("evm_revert", self.snapshot):
            raise BenchError(f"{CHAIN} could not be rewound to snapshot {self.snapshot}")
        self.progress(f"replaying {len(calls)} mints with the raw loop")
        if self.config.relayer is None:
            raise BenchError("the devnet's configuration has no [relayer] section: no key to replay the mints with")
        sender: LocalAccount = Account.from_key(self.config.relayer.signer.read())
        gateway = self.public.contracts["gateway"]
        confirmations = self.config.chain(self.public.chain_id).confirmations
        result = await send_mints(self.chain, self.public.chain_id, gateway, calls, sender, confirmations)
        receipts: list[Any] = []
        for start in range(0, len(result.tx_hashes), RECEIPT_BATCH):
            chunk = result.tx_hashes[start : start + RECEIPT_BATCH]
            receipts += await self.chain.batch("eth_getTransactionReceipt", [[h] for h in chunk])
        failed = [h for h, r in zip(result.tx_hashes, receipts, strict=True) if r is None or int(r["status"], 16) != 1]
        if failed:
            raise BenchError(f"{len(failed)} of the raw loop's mints failed or were not mined, first {failed[0]}")
        return result
