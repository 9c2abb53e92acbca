"""A devnet with attestors, plus helpers to drive real transfers and read the relayer's state."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlalchemy.ext.asyncio import AsyncEngine
from web3.contract import AsyncContract
from web3.exceptions import MismatchedABI
from web3.logs import DISCARD

from attestations.log import TransparencyLog
from relayer.core.config import DATABASE_URL_ENV, Config, load_config
from relayer.core.model import Operation, UnknownOperation
from relayer.core.operator import OperatorRefused
from relayer.core.signed import decisions_domain, signed_decision
from relayer.core.transfer_state import Kind, OperatorAction, State
from relayer.devtools.devnet import control
from relayer.devtools.devnet.cast import officer_key
from relayer.devtools.devnet.holders import SEED_REASON
from relayer.devtools.devnet.manifest import InvestorEntry, Manifest
from relayer.devtools.devnet.processes import ProcessTable, is_alive
from relayer.edges.db import engine as db
from relayer.edges.db.log_store import SqlLogStorage
from relayer.edges.db.store import OperationStore
from relayer.edges.evm.artifacts import Artifacts, load_artifacts
from relayer.edges.evm.client import ChainClient, RevertDecoder
from relayer.pipeline.operator import Operator
from tests.support import postgres

FINAL = {State.CONFIRMED, State.REFUNDED, State.DROPPED, State.REJECTED}


@contextmanager
def devnet_on_postgres(root: Path, pg_admin: str, label: str) -> Iterator[tuple[Path, str]]:
    """A devnet in ``root`` (no relayer yet) and a fresh PostgreSQL database for its relayer; both gone
    afterwards."""
    name = f"dari_{label}_{int(time.time() * 1000) % 10**9}"
    asyncio.run(postgres.create_database(pg_admin, name))
    try:
        asyncio.run(control.up(root, relayer=False))
        yield root, postgres.with_database(pg_admin, name)
    finally:
        control.down(root)
        asyncio.run(postgres.drop_database(pg_admin, name))


@asynccontextmanager
async def relaying(root: Path, database_url: str) -> AsyncIterator[Bridge]:
    """A `Bridge` on the devnet in ``root`` whose relayer runs (started unless it already does)."""
    async with Bridge(root, database_url) as bridge:
        if "relayer" not in {r.name for r in bridge.processes.running()}:
            await bridge.start_relayer()
        yield bridge


class Bridge:
    """Drives one devnet: sends bridge-outs and bridge-backs, starts and kills relayers, reads state."""

    def __init__(self, root: Path, database_url: str) -> None:
        self.root = root
        self.database_url = database_url
        self.manifest = Manifest.read(root / "devnet.json")
        self.config: Config = load_config(root / "dari.toml")
        self.artifacts: Artifacts = load_artifacts()
        self._stack = AsyncExitStack()
        self.clients: dict[int, ChainClient] = {}
        self.engine: AsyncEngine = db.create_engine(database_url)
        self.store = OperationStore(self.engine)
        self.processes = ProcessTable(root / "run")

    async def __aenter__(self) -> Bridge:
        decoder = RevertDecoder.from_artifacts(self.artifacts)
        for chain in (self.manifest.registry, *self.manifest.public):
            self.clients[chain.chain_id] = await self._stack.enter_async_context(ChainClient(chain.rpc_url, decoder))
        await db.upgrade(self.engine)
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self._stack.aclose()
        await self.engine.dispose()

    # --- processes ---------------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        return {**os.environ, DATABASE_URL_ENV: self.database_url}

    async def start_relayer(self, name: str = "relayer", api_port: int | None = None) -> None:
        await control.start_relayer(self.root, name=name, env=self.env(), api_port=api_port)

    def kill(self, name: str, sig: signal.Signals = signal.SIGKILL) -> None:
        record = self.processes.signal(name, sig)
        if record is None:
            raise AssertionError(f"{name} is not running")
        deadline = time.monotonic() + 10
        while is_alive(record) and time.monotonic() < deadline:
            time.sleep(0.02)

    async def restart_attestor(self, attestor_id: str) -> None:
        await control.start_attestor(self.root, attestor_id)

    # --- chain actions -------------------------------------------------------------------------

    def investor(self, name: str) -> InvestorEntry:
        return next(i for i in self.manifest.investors if i.name.startswith(name))

    def chain_id(self, name: str) -> int:
        return next(c.chain_id for c in self.manifest.public if c.name == name)

    def contract(self, name: str, chain_id: int, address: str) -> AsyncContract:
        return self.clients[chain_id].contract(self.artifacts.get(name), address)

    @property
    def registry(self) -> int:
        return self.manifest.registry.chain_id

    async def bridge_out(
        self, who: str, amount: int, chain: str = "ethereum", security: int = 0, count: int = 1
    ) -> list[str]:
        """``count`` bridge-outs of ``amount`` from ``who`` to their own wallet on ``chain``; their ids."""
        investor = self.investor(who)
        account: LocalAccount = Account.from_key(investor.registry_key)
        token_address = self.manifest.securities[security].registry_token
        token = self.contract("SecurityToken", self.registry, token_address)
        escrow = self.contract("BridgeEscrow", self.registry, self.manifest.registry.contracts["escrow"])
        client = self.clients[self.registry]
        await client.transact(token.functions.approve(escrow.address, amount * count), account)
        recipient = investor.wallets[str(self.chain_id(chain))].address
        ids = []
        for _ in range(count):
            receipt = await client.transact(
                escrow.functions.bridgeOut(token_address, amount, self.chain_id(chain), recipient), account
            )
            [event] = escrow.events.BridgeOutRequested().process_receipt(receipt, errors=DISCARD)
            ids.append(f"{self.registry}-{event['args']['nonce']}")
        return ids

    async def bridge_back(
        self, who: str, amount: int, chain: str = "ethereum", security: int = 0, to: str | None = None
    ) -> str:
        """``who`` burns ``amount`` on ``chain`` naming ``to``'s registry address (default: their own)."""
        investor = self.investor(who)
        chain_id = self.chain_id(chain)
        account: LocalAccount = Account.from_key(investor.wallets[str(chain_id)].key)
        gateway = self.contract(
            "BridgeGateway",
            chain_id,
            self.manifest.public[[c.chain_id for c in self.manifest.public].index(chain_id)].contracts["gateway"],
        )
        wrapped = self.manifest.securities[security].wrapped[str(chain_id)]
        receipt = await self.clients[chain_id].transact(
            gateway.functions.bridgeBack(wrapped, amount, self.investor(to or who).registry_address), account
        )
        [event] = gateway.events.BridgeBackRequested().process_receipt(receipt, errors=DISCARD)
        return f"{chain_id}-{event['args']['nonce']}"

    async def mine(self, chain_id: int, blocks: int) -> None:
        for _ in range(blocks):
            await self.clients[chain_id].rpc("evm_mine", [])

    # --- the compliance officer ---------------------------------------------------------------

    async def approve_held_registrations(self) -> list[str]:
        """The devnet's officer approves, with a signed decision, every wallet link the rules hold (as `dari
        devnet up` does for the seeded ones); the ids approved."""
        log = TransparencyLog(SqlLogStorage(self.engine))
        await log.load()
        operator = Operator.from_config(self.config, self.store, time.time, log)
        approved = []
        for op in await self.store.find(state=State.HELD, kind=Kind.HOLDER_REGISTER, limit=10_000):
            decision = signed_decision(
                officer_key(), decisions_domain(self.config), op.source, approve=True, locked_until=0,
                reason=SEED_REASON, now=int(time.time()),
            )  # fmt: skip
            with contextlib.suppress(OperatorRefused):  # it moved on meanwhile
                await operator(op.id, OperatorAction.APPROVE, decision)
                approved.append(op.id)
        return approved

    # --- reading state -------------------------------------------------------------------------

    async def wait(self, ids: list[str], states: set[State], timeout: float = 60.0) -> dict[str, Operation]:
        """Waits until every operation in ``ids`` is in one of ``states``."""
        deadline = asyncio.get_running_loop().time() + timeout
        found: dict[str, Operation] = {}
        while True:
            found = {}
            for op_id in ids:
                with contextlib.suppress(UnknownOperation):  # not observed yet
                    found[op_id] = await self.store.get(op_id)
            if len(found) == len(ids) and all(op.state in states for op in found.values()):
                return found
            if asyncio.get_running_loop().time() > deadline:
                summary = {i: (found[i].state.value if i in found else "unseen") for i in ids}
                late = {i: state for i, state in summary.items() if state not in states}
                raise AssertionError(f"{len(late)} of {len(ids)} not in {sorted(states)} after {timeout} s: {late}")
            await asyncio.sleep(0.3)

    async def wrapped_balance(self, who: str, chain: str = "ethereum", security: int = 0) -> int:
        chain_id = self.chain_id(chain)
        wallet = self.investor(who).wallets[str(chain_id)].address
        token = self.contract("WrappedSecurity", chain_id, self.manifest.securities[security].wrapped[str(chain_id)])
        return int(await token.functions.balanceOf(wallet).call())

    async def registry_balance(self, who: str, security: int = 0) -> int:
        token = self.contract("SecurityToken", self.registry, self.manifest.securities[security].registry_token)
        return int(await token.functions.balanceOf(self.investor(who).registry_address).call())

    async def locked(self, security: int = 0) -> int:
        escrow = self.contract("BridgeEscrow", self.registry, self.manifest.registry.contracts["escrow"])
        return int(await escrow.functions.lockedBalance(self.manifest.securities[security].registry_token).call())

    async def wrapped_supply(self, security: int = 0) -> int:
        total = 0
        for chain in self.manifest.public:
            token = self.contract(
                "WrappedSecurity", chain.chain_id, self.manifest.securities[security].wrapped[str(chain.chain_id)]
            )
            total += int(await token.functions.totalSupply().call())
        return total

    async def logs(self, chain_id: int, address: str, event: str) -> list[dict[str, Any]]:
        contract = self.contract(
            {"Minted": "BridgeGateway", "Refunded": "BridgeEscrow", "Released": "BridgeEscrow"}[event],
            chain_id,
            address,
        )
        raw = await self.clients[chain_id].rpc(
            "eth_getLogs", [{"address": address, "fromBlock": "0x0", "toBlock": "latest"}]
        )
        decoded = []
        for log in raw:
            with contextlib.suppress(MismatchedABI):  # another event of the same contract
                decoded.append(dict(contract.events[event]().process_log(log)["args"]))
        return decoded
