"""Upkeep: the operation gauges, SLA alerts and, when due, the publication of recognition records (each
security in each jurisdiction, signed by the attestors, who recompute it with their own rule packs)."""

from __future__ import annotations

from datetime import timedelta

import structlog

from adapters.recognition import recognize
from adapters.registry import Adapters
from attestations.attestation import Attestation
from attestations.eip712 import Domain
from attestations.kinds import RecognitionRecord
from relayer import metrics
from relayer.core.compliance import to_security
from relayer.core.config import Config
from relayer.core.errors import AttestationRefused, Failure, NotYetAttested
from relayer.core.ports import AttestationLog, Attestors, OperationStore
from relayer.core.transfer_state import Kind, State
from relayer.failures import classify
from relayer.pipeline.moves import Mover

log = structlog.get_logger("relay")

PUBLICATION_INTERVAL = 3600.0  # seconds between checks for recognition records due for publication
SLA_LOGGED = 10  # overdue operations named in the log per pass


class Recognition:
    """Publishes recognition records: each security in each jurisdiction, when its latest is missing or past
    half its validity."""

    def __init__(
        self, config: Config, adapters: Adapters, store: OperationStore, attestors: Attestors, log_: AttestationLog,
        mover: Mover,
    ) -> None:  # fmt: skip
        self.config, self.adapters, self.store, self.attestors, self.log = config, adapters, store, attestors, log_
        self.clock = mover.clock
        registry = config.registry
        self.domain = Domain(registry.chain_id, registry.contracts["escrow"])

    async def publish(self) -> int:
        """Signs, logs and stores every record due; how many were published (one the attestors do not sign
        now is logged and tried at the next publication)."""
        now = int(self.clock())
        validity = self.config.adapters.recognition_validity_days
        latest = {
            (d["typedData"]["message"]["securityId"].lower(), d["typedData"]["message"]["jurisdiction"]): d
            for d in await self.store.documents(RecognitionRecord.KIND)
        }
        published = 0
        for entry in self.config.securities:
            for jurisdiction in sorted(self.adapters.adapters):
                previous = latest.get((entry.id.lower(), jurisdiction))
                if previous is not None:
                    message = previous["typedData"]["message"]
                    if now < (int(message["validFrom"]) + int(message["validUntil"])) // 2:
                        continue
                record = recognize(to_security(entry), jurisdiction, self.adapters, now, validity).record
                try:
                    signatures = await self.attestors.gather(record, self.domain)
                except (NotYetAttested, AttestationRefused) as exc:
                    log.warning("recognition record not attested", security=entry.isin, jurisdiction=jurisdiction,
                                error=str(exc))  # fmt: skip
                    continue
                attestation = Attestation(record, self.domain, tuple(signatures))
                attestation = attestation.with_log_index(await self.log.append(attestation.digest))
                await self.store.save_attestation(attestation, None)
                published += 1
        return published


class Upkeep:
    """The upkeep stage."""

    def __init__(self, store: OperationStore, mover: Mover, recognition: Recognition, *, sla_seconds: float) -> None:
        self.store, self.mover, self.recognition, self.sla_seconds = store, mover, recognition, sla_seconds
        self._next_publication = 0.0

    async def run(self) -> None:
        counts = await self.store.counts()
        for kind in Kind:
            for state in State:
                metrics.OPERATIONS.labels(kind.value, state.value).set(counts.get((kind.value, state.value), 0))
        overdue = await self.store.overdue(self.mover.now() - timedelta(seconds=self.sla_seconds))
        metrics.STALE.set(len(overdue))
        for op in overdue[:SLA_LOGGED]:
            log.warning("operation over its SLA", id=op.id, kind=op.kind.value, state=op.state.value, reason=op.reason)
        if self.mover.clock() >= self._next_publication:
            self._next_publication = self.mover.clock() + PUBLICATION_INTERVAL
            try:
                await self.recognition.publish()
            except Exception as exc:
                if classify(exc) is Failure.FATAL:
                    raise
                log.warning("recognition publication failed", error=repr(exc))
