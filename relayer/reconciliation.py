"""The composition root of one reconciliation run (`dari reconcile`): the chains read through plain
JSON-RPC at finalized blocks (`relayer.edges.evm.supply`), the attestors over HTTP, the transparency log and
the store of the relayer's database, the gateways' pauses with the relayer's key."""

from __future__ import annotations

import functools
import time
from contextlib import AsyncExitStack

import aiohttp
from eth_account import Account
from sqlalchemy.ext.asyncio import AsyncEngine

from attestations.log import TransparencyLog
from relayer.core.config import Config
from relayer.core.errors import ConfigError
from relayer.core.ports import Clock, PauseOutcome
from relayer.core.reconcile import Layout, ReconcileError, configured_securities
from relayer.edges.attestor_client import HttpAttestors
from relayer.edges.db.log_store import SqlLogStorage
from relayer.edges.db.store import OperationStore
from relayer.edges.evm.artifacts import load_artifacts
from relayer.edges.evm.client import ChainClient, RevertDecoder
from relayer.edges.evm.pauser import GatewayPauser
from relayer.edges.evm.reads import RpcChainReads
from relayer.edges.evm.supply import observe
from relayer.pipeline.reconcile import Reconciler, Run, Signing


async def run_once(config: Config, engine: AsyncEngine | None, *, sign: bool = True, clock: Clock = time.time) -> Run:
    """One reconciliation of every configured security (`relayer.pipeline.reconcile.Reconciler`); unless
    ``sign`` is False the reports are signed, logged and stored (``engine`` is then required, migrated)."""
    layout = Layout.from_config(config)
    securities = configured_securities(config)
    artifacts = load_artifacts()
    async with AsyncExitStack() as stack:
        reads = RpcChainReads({c.chain_id: c.rpc_url for c in (config.registry, *config.public)}, artifacts)
        stack.push_async_callback(reads.close)
        signing = None
        if sign:
            if engine is None:
                raise ReconcileError("signing reports needs the database (to log and store them)")
            session = await stack.enter_async_context(aiohttp.ClientSession())
            transparency = TransparencyLog(SqlLogStorage(engine))
            await transparency.load()
            signing = Signing(HttpAttestors(config, session), transparency, OperationStore(engine))
        pause = functools.partial(_pause_inbound, config, stack) if config.reconciliation.pause_on_drift else None
        reconciler = Reconciler(
            layout, functools.partial(observe, layout, reads, securities), clock, signing=signing, pause_inbound=pause
        )
        return await reconciler.run()


async def _pause_inbound(config: Config, stack: AsyncExitStack) -> list[PauseOutcome]:
    """Pauses minting on every public gateway with the relayer's key (it needs PAUSER_ROLE there)."""
    if config.relayer is None:
        raise ConfigError("relayer.signer", ["pause_on_drift needs the relayer's key (a [relayer] section)"])
    artifacts = load_artifacts()
    decoder = RevertDecoder.from_artifacts(artifacts)
    clients = {c.chain_id: await stack.enter_async_context(ChainClient(c.rpc_url, decoder)) for c in config.public}
    signer = Account.from_key(config.relayer.signer.read())
    return await GatewayPauser(config, clients, artifacts, signer).pause_inbound()
