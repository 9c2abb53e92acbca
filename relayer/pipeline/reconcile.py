"""The reconciliation run: observe every security at finalized blocks, have the attestors sign each report
(they recompute it at the same blocks before they sign), log and store the attestations, set the
``dari_reconciliation_difference`` gauge, and pause inbound minting on drift when the policy says so."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import structlog

from attestations.attestation import Attestation
from attestations.kinds import ReconciliationReport
from relayer import metrics
from relayer.core.errors import AttestationRefused, NotYetAttested
from relayer.core.ports import AttestationLog, Attestors, Clock, OperationStore, PauseOutcome
from relayer.core.reconcile import Facts, Layout, SecurityReconciliation, context_of

log = structlog.get_logger("dari.reconcile")

ATTEST_ATTEMPTS = 3  # rounds of signature gathering while attestors answer "not final yet"
ATTEST_RETRY_SECONDS = 1.0

Observe = Callable[[], Awaitable[tuple[Facts, list[SecurityReconciliation]]]]
PauseInbound = Callable[[], Awaitable[list[PauseOutcome]]]


@dataclass(frozen=True)
class ReportOutcome:
    """One security's reconciliation, its statement and, when signed, its attestation (or why not)."""

    reconciliation: SecurityReconciliation
    report: ReconciliationReport
    attestation: Attestation | None = None
    error: str | None = None


@dataclass(frozen=True)
class Run:
    blocks: Mapping[int, int]
    observed_at: int
    outcomes: tuple[ReportOutcome, ...]
    paused: tuple[PauseOutcome, ...] = ()

    @property
    def balanced(self) -> bool:
        return all(o.reconciliation.balanced for o in self.outcomes)


@dataclass(frozen=True)
class Signing:
    """Where signed reports go: the attestors who sign them, the log and the store that keep them."""

    attestors: Attestors
    log: AttestationLog
    store: OperationStore


class Reconciler:
    """One reconciliation of every configured security."""

    def __init__(
        self, layout: Layout, observe: Observe, clock: Clock, *, signing: Signing | None = None,
        pause_inbound: PauseInbound | None = None,
    ) -> None:  # fmt: skip
        """``signing``: None leaves the reports unsigned; ``pause_inbound``: pauses minting on drift (None:
        the policy is off)."""
        self.layout, self.observe, self.clock = layout, observe, clock
        self.signing, self.pause_inbound = signing, pause_inbound

    async def run(self) -> Run:
        facts, found = await self.observe()
        observed_at = int(self.clock())
        outcomes = []
        for r in found:
            statement = r.report(observed_at)
            metrics.RECONCILIATION.labels("0x" + r.security_id.hex()).set(r.difference)
            if not r.balanced:
                log.warning("imbalance", security="0x" + r.security_id.hex(), difference=r.difference,
                            blocks=dict(facts.blocks))  # fmt: skip
            if self.signing is None:
                outcomes.append(ReportOutcome(r, statement))
                continue
            try:
                attestation = await self._attest(self.signing.attestors, statement, facts.blocks)
            except (NotYetAttested, AttestationRefused) as exc:
                outcomes.append(ReportOutcome(r, statement, error=str(exc)))
                continue
            attestation = attestation.with_log_index(await self.signing.log.append(attestation.digest))
            await self.signing.store.save_attestation(attestation, None)
            outcomes.append(ReportOutcome(r, statement, attestation))
        paused: list[PauseOutcome] = []
        if self.pause_inbound is not None and not all(r.balanced for r in found):
            paused = await self.pause_inbound()
        return Run(dict(facts.blocks), observed_at, tuple(outcomes), tuple(paused))

    async def _attest(
        self, attestors: Attestors, statement: ReconciliationReport, blocks: Mapping[int, int]
    ) -> Attestation:
        """The report signed; asked again a few times while the attestors are not final at ``blocks`` yet."""
        domain = self.layout.domain
        attempt = 1
        while True:
            try:
                signatures = await attestors.gather(statement, domain, context=context_of(blocks))
            except NotYetAttested:
                if attempt >= ATTEST_ATTEMPTS:
                    raise
                attempt += 1
                await asyncio.sleep(ATTEST_RETRY_SECONDS)
                continue
            return Attestation(statement, domain, tuple(signatures))
