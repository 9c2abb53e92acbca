"""The relayer daemon's composition root: it builds the edges (chain clients and watchers, submitters, the
database's stores and lease, the attestors' client, the contract views), the stages over them
(`relayer.pipeline`), and runs the stages in five lanes while this process holds the lease.

| lane | stages | runs |
|---|---|---|
| intake | ingest and finalize (every chain at once), then decide | every poll interval (the shortest) |
| attest | attest (batches in flight) | when intake approved or rejected something, else every poll interval |
| deliver | deliver (every chain at once) | when attest produced attestations, else every public poll interval |
| confirm | confirm (every chain at once) | every poll interval |
| upkeep | gauges, SLA alerts, recognition records when due | every second |
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import aiohttp
import structlog
from eth_account import Account
from sqlalchemy.ext.asyncio import AsyncEngine

from attestations.log import TransparencyLog
from relayer.core.compliance import load_adapters, load_sanctions
from relayer.core.config import Config
from relayer.core.errors import ConfigError, Failure
from relayer.core.kyc import NoKycSource
from relayer.core.model import Move
from relayer.core.ports import Clock
from relayer.core.signed import claims_domain, trust_of
from relayer.core.statements import statement_for
from relayer.core.transfer_state import State
from relayer.edges.attestor_client import HttpAttestors
from relayer.edges.chain.submitter import ChainSubmitter
from relayer.edges.chain.watcher import Watcher, watched
from relayer.edges.db.lease import Lease
from relayer.edges.db.log_store import SqlLogStorage
from relayer.edges.db.store import OperationStore
from relayer.edges.db.submissions import SubmissionStore
from relayer.edges.evm.artifacts import load_artifacts
from relayer.edges.evm.client import ChainClient, RevertDecoder
from relayer.edges.evm.pauser import GatewayPauser
from relayer.edges.evm.reads import RpcChainReads
from relayer.edges.evm.views import ContractViews
from relayer.edges.kyc_file import FileKycSource
from relayer.failures import classify
from relayer.pipeline.attest import Attest
from relayer.pipeline.attested import Attested
from relayer.pipeline.confirm import Confirm
from relayer.pipeline.decide import Decide, Rules
from relayer.pipeline.deliver import Deliver
from relayer.pipeline.intake import Intake
from relayer.pipeline.lanes import Lanes, each_chain, timed
from relayer.pipeline.moves import Mover
from relayer.pipeline.upkeep import Recognition, Upkeep

log = structlog.get_logger("relay")
LEASE_NAME = "relayer"
UPKEEP_INTERVAL = 1.0  # seconds between gauge and SLA updates
LANE_OF = {
    State.APPROVED: "attest",
    State.REJECTED: "attest",
    State.ATTESTED: "deliver",
    State.REFUND_ATTESTED: "deliver",
}


@dataclass
class Relay:
    """One relayer process: its stages, and the lanes that run them while it holds the lease."""

    config: Config
    store: OperationStore
    log: TransparencyLog
    lanes: Lanes
    views: ContractViews
    watchers: dict[int, Watcher]
    intake: Intake
    decide: Decide
    attest: Attest
    deliver: Deliver
    confirm: Confirm
    upkeep: Upkeep
    pauser: GatewayPauser

    @property
    def leader(self) -> bool:
        return self.lanes.leader

    @property
    def chain_ids(self) -> list[int]:
        """Every configured chain, the registry first."""
        return list(self.watchers)

    async def intake_pass(self) -> None:
        """Every chain's new events and finality (chains concurrently), then the decisions, all over the
        chain as of this pass (one set of shared reads)."""
        views = self.views.fresh()
        await timed("ingest", each_chain(self.chain_ids, functools.partial(self.intake.ingest, views=views),
                                         self.intake.finalize))  # fmt: skip
        await timed("decide", self.decide.run(views))

    async def run(self, stop: asyncio.Event) -> None:
        """Keeps the lease and runs the lanes until ``stop`` (an `asyncio.Event`) is set; each lane finishes
        its current pass and the attestation batches in the air land."""
        chains = [self.config.registry, *self.config.public]
        polls = min(c.poll_interval for c in chains)
        public = min(c.poll_interval for c in self.config.public)
        await self.lanes.run({
            "intake": (self.intake_pass, polls),
            "attest": (self.attest.run, polls),
            "deliver": (lambda: timed("deliver", each_chain(self.chain_ids, self.deliver.run)), public),
            "confirm": (lambda: timed("confirm", each_chain(self.chain_ids, self.confirm.run)), polls),
            "upkeep": (self.upkeep.run, UPKEEP_INTERVAL),
        }, stop)  # fmt: skip
        await self.attest.drain()


@asynccontextmanager
async def open_relay(
    config: Config, engine: AsyncEngine, *, owner: str, clock: Clock = time.time
) -> AsyncIterator[Relay]:
    """The relayer of ``config`` over ``engine`` (migrated), as ``owner`` in the lease; its connections are
    closed and its lease released on the way out."""
    settings = config.relayer
    if settings is None:
        raise ConfigError("relayer", ["the configuration has no [relayer] section"])
    signer = Account.from_key(settings.signer.read())
    artifacts = load_artifacts()
    decoder = RevertDecoder.from_artifacts(artifacts)
    chains = {c.chain_id: c for c in (config.registry, *config.public)}
    registry = config.registry.chain_id
    async with AsyncExitStack() as stack:
        clients = {i: await stack.enter_async_context(ChainClient(c.rpc_url, decoder)) for i, c in chains.items()}
        session = await stack.enter_async_context(aiohttp.ClientSession())
        store, log_ = OperationStore(engine), TransparencyLog(SqlLogStorage(engine))
        await log_.load()
        lanes = Lanes(Lease(engine, LEASE_NAME, owner, settings.lease_seconds))
        attested = Attested(store)

        def wake(_move: Move, state: State) -> None:
            if state in LANE_OF:
                lanes.wake(LANE_OF[state])

        mover = Mover(store, clock, [wake, attested.on_moved])
        attestors = HttpAttestors(config, session)
        watchers = {i: Watcher(c, clients[i], engine, *watched(config, c)) for i, c in chains.items()}
        submitters = {
            i: ChainSubmitter(settings, c, clients[i], artifacts, signer, SubmissionStore(engine, i))
            for i, c in chains.items()
        }
        claims = config.kyc.claims_file
        kyc = FileKycSource(claims, trust_of(config.claim_issuers), claims_domain(config)) if claims else NoKycSource()
        adapters = load_adapters(config)
        public = [c.chain_id for c in config.public]
        relay = Relay(
            config, store, log_, lanes, ContractViews(RpcChainReads({}, artifacts, clients=clients), config), watchers,
            Intake(store, watchers, mover, registry_chain_id=registry, public_chain_ids=public,
                   securities=config.securities),
            Decide(store, mover, Rules(adapters, load_sanctions(config), kyc, config.securities),
                   registry_chain_id=registry, public_chain_ids=public),
            Attest(store, attestors, log_, mover, attested, functools.partial(statement_for, config=config),
                   wake=lambda: lanes.wake("attest")),
            Deliver(store, submitters, mover, attested, settings, registry_chain_id=registry),
            Confirm(store, submitters, mover, attested, settings, registry_chain_id=registry),
            Upkeep(store, mover, Recognition(config, adapters, store, attestors, log_, mover),
                   sla_seconds=settings.sla_seconds),
            GatewayPauser(config, clients, artifacts, signer),
        )  # fmt: skip
        try:
            yield relay
        finally:
            if relay.leader:
                try:
                    await lanes.lease.release()
                except Exception as exc:  # the database is away: the lease lapses by itself
                    if classify(exc) is Failure.FATAL:
                        raise
                    log.warning("lease not released", error=repr(exc))
