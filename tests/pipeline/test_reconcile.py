"""The reconciliation run (`relayer.pipeline.reconcile.Reconciler`) over plain facts: unsigned, it reports
each security and sets ``dari_reconciliation_difference``; signed, each report is attested by the attestors
(who get the blocks as the request's context: real signatures), logged and stored; "not yet" is asked
again `ATTEST_ATTEMPTS` times, then it and a refusal are the outcome's error; an imbalance pauses inbound
minting only when the policy is on, a balanced run never does."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from eth_utils.address import to_checksum_address

from attestations.attestation import AttestorSignature
from attestations.eip712 import Domain
from attestations.kinds import ReconciliationReport, Statement
from attestations.log import MemoryLogStorage, TransparencyLog
from attestations.trust import TrustList
from attestations.verify import verify
from relayer import metrics
from relayer.core.errors import NotYetAttested
from relayer.core.ports import PauseOutcome
from relayer.core.reconcile import Facts, GatewayRef, Layout, SecurityFacts, SecurityReconciliation, compute
from relayer.devtools.devnet.cast import ATTESTOR_IDS, attestor_key
from relayer.pipeline import reconcile
from relayer.pipeline.reconcile import Reconciler, Run, Signing
from tests.core.test_reconcile import CASES, ESCROW, ETH, REG, ROLL, facts_of, security_facts
from tests.support.memory import Clock, MemoryAttestors, MemoryOperationStore

KEYS = [attestor_key(i) for i in ATTESTOR_IDS]
TRUST = TrustList.parse({"epoch": 1, "threshold": 2, "attestors": [k.public() for k in KEYS]})
LAYOUT = Layout(REG, 0, ESCROW, (GatewayRef(ETH, 2, "0x" + "a1" * 20), GatewayRef(ROLL, 1, "0x" + "a2" * 20)))
DOMAIN = Domain(REG, to_checksum_address(ESCROW))
T0 = 1_800_000_000
BLOCKS_CONTEXT = {"blocks": {"31337": 48, "31338": 58, "820001": 100}}
KIND = ReconciliationReport.KIND


def security_id(tag: int) -> bytes:
    """A security id of this module only (the gauge is process-wide)."""
    return bytes([0xD1, tag]) * 16


BALANCED = security_facts(CASES["every-state-on-two-chains"], security_id(1))
PENDING = security_facts(CASES["out-pending"], security_id(2))
DRIFT = security_facts(CASES["drift-agent-mint"], security_id(3))  # difference -5
EXCESS = security_facts(CASES["drift-excess-locked"], security_id(4))  # difference 2


class Observer:
    """The ``observe`` of a run over fixed plain facts; counts its calls."""

    def __init__(self, *securities: SecurityFacts) -> None:
        self.facts = facts_of(*securities)
        self.calls = 0

    async def __call__(self) -> tuple[Facts, list[SecurityReconciliation]]:
        self.calls += 1
        return self.facts, compute(self.facts)


class Pauses:
    """A `PauseInbound` fake: what pausing every public gateway answered; counts its calls."""

    def __init__(self) -> None:
        self.calls = 0
        self.outcomes = [PauseOutcome(ETH, "0x" + "7a" * 32), PauseOutcome(ROLL, error="RpcUnavailable")]

    async def __call__(self) -> list[PauseOutcome]:
        self.calls += 1
        return list(self.outcomes)


@dataclass
class SlowAttestors(MemoryAttestors):
    """Attestors that answer "not yet" to the first ``not_yet`` requests, then sign."""

    not_yet: int = 0
    requests: int = field(default=0, init=False)

    async def gather(
        self, statement: Statement, domain: Domain, *, context: Mapping[str, Any] | None = None
    ) -> list[AttestorSignature]:
        self.requests += 1
        if self.requests <= self.not_yet:
            self.contexts.append(context)
            raise NotYetAttested(f"attestor behind (request {self.requests})")
        return await super().gather(statement, domain, context=context)


def difference_gauge(sid: bytes) -> float | None:
    return metrics.REGISTRY.get_sample_value("dari_reconciliation_difference", {"security": "0x" + sid.hex()})


def signing(attestors: MemoryAttestors) -> tuple[Signing, TransparencyLog, MemoryOperationStore]:
    log, store = TransparencyLog(MemoryLogStorage()), MemoryOperationStore()
    return Signing(attestors, log, store), log, store


@pytest.fixture(autouse=True)
def _no_retry_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reconcile, "ATTEST_RETRY_SECONDS", 0.0)


async def test_an_unsigned_run_reports_every_security_and_sets_the_gauge() -> None:
    observe = Observer(BALANCED, DRIFT, EXCESS)
    run = await Reconciler(LAYOUT, observe, Clock(T0)).run()
    found = compute(observe.facts)
    assert observe.calls == 1
    assert (run.blocks, run.observed_at, run.paused) == ({REG: 100, ETH: 48, ROLL: 58}, T0, ())
    assert [(o.reconciliation, o.report, o.attestation, o.error) for o in run.outcomes] == [
        (r, r.report(T0), None, None) for r in found
    ]
    assert [(o.report.security_id, o.report.difference, o.report.balanced) for o in run.outcomes] == [
        (security_id(1), 0, True), (security_id(3), -5, False), (security_id(4), 2, False)
    ]  # fmt: skip
    assert not run.balanced
    assert [difference_gauge(security_id(t)) for t in (1, 3, 4)] == [0.0, -5.0, 2.0]


async def test_the_gauge_follows_the_latest_run() -> None:
    sid = security_id(9)
    drifting = Observer(security_facts(CASES["drift-excess-locked"], sid))
    await Reconciler(LAYOUT, drifting, Clock(T0)).run()
    assert difference_gauge(sid) == 2.0
    await Reconciler(LAYOUT, Observer(security_facts(CASES["out-minted"], sid)), Clock(T0 + 60)).run()
    assert difference_gauge(sid) == 0.0


async def test_a_signed_run_attests_logs_and_stores_each_report() -> None:
    attestors = MemoryAttestors(KEYS)
    sign, log, store = signing(attestors)
    observe = Observer(BALANCED, PENDING)
    run = await Reconciler(LAYOUT, observe, Clock(T0 + 5), signing=sign).run()
    reports = [r.report(T0 + 5) for r in compute(observe.facts)]
    assert attestors.asked == reports
    assert attestors.contexts == [BLOCKS_CONTEXT, BLOCKS_CONTEXT]
    assert [o.error for o in run.outcomes] == [None, None]
    for index, (outcome, report) in enumerate(zip(run.outcomes, reports, strict=True)):
        attestation = outcome.attestation
        assert attestation is not None
        assert outcome.report == report
        assert verify(attestation, TRUST, domain=LAYOUT.domain, kind=ReconciliationReport) == report
        assert attestation.domain == DOMAIN
        assert len(attestation.signatures) == 2
        assert attestation.log_index == index
        assert (await log.prove_inclusion(attestation.digest)).leaf_index == index
    assert log.size == 2
    assert await store.documents(KIND) == [o.attestation.to_json() for o in run.outcomes if o.attestation]
    assert run.balanced and run.paused == ()


async def test_not_yet_is_asked_again_then_reported_as_the_outcome_error() -> None:
    attestors = MemoryAttestors(KEYS, later={KIND})
    sign, log, store = signing(attestors)
    observe = Observer(BALANCED, PENDING)
    run = await Reconciler(LAYOUT, observe, Clock(T0), signing=sign).run()
    assert reconcile.ATTEST_ATTEMPTS == 3
    balanced, pending = (r.report(T0) for r in compute(observe.facts))
    assert attestors.asked == [balanced] * 3 + [pending] * 3
    assert attestors.contexts == [BLOCKS_CONTEXT] * 6
    assert [(o.attestation, o.error) for o in run.outcomes] == [(None, f"{KIND}: not final yet")] * 2
    assert log.size == 0
    assert await store.documents(KIND) == []


async def test_an_attestor_catching_up_within_the_attempts_signs() -> None:
    attestors = SlowAttestors(KEYS, not_yet=reconcile.ATTEST_ATTEMPTS - 1)
    sign, log, store = signing(attestors)
    run = await Reconciler(LAYOUT, Observer(BALANCED), Clock(T0), signing=sign).run()
    [outcome] = run.outcomes
    assert outcome.error is None and outcome.attestation is not None
    assert verify(outcome.attestation, TRUST, domain=DOMAIN, kind=ReconciliationReport) == outcome.report
    assert attestors.requests == reconcile.ATTEST_ATTEMPTS
    assert attestors.contexts == [BLOCKS_CONTEXT] * reconcile.ATTEST_ATTEMPTS
    assert log.size == 1 and len(await store.documents(KIND)) == 1


async def test_a_refusal_is_the_outcome_error_and_is_not_asked_again() -> None:
    attestors = MemoryAttestors(KEYS, refuse={KIND: "figures differ at block 100"})
    sign, log, store = signing(attestors)
    run = await Reconciler(LAYOUT, Observer(BALANCED), Clock(T0), signing=sign).run()
    [outcome] = run.outcomes
    assert outcome.attestation is None
    assert outcome.error == (
        "refused: att-1: figures differ at block 100; att-2: figures differ at block 100; "
        "att-3: figures differ at block 100"
    )
    assert len(attestors.asked) == 1
    assert log.size == 0 and await store.documents(KIND) == []


async def test_one_refused_report_does_not_keep_the_others_from_being_signed() -> None:
    class RefuseDrift(MemoryAttestors):
        async def gather(
            self, statement: Statement, domain: Domain, *, context: Mapping[str, Any] | None = None
        ) -> list[AttestorSignature]:
            self.refuse = (
                {KIND: "drift"} if isinstance(statement, ReconciliationReport) and statement.difference else {}
            )
            return await super().gather(statement, domain, context=context)

    sign, _, store = signing(RefuseDrift(KEYS))
    run = await Reconciler(LAYOUT, Observer(BALANCED, DRIFT, PENDING), Clock(T0), signing=sign).run()
    assert [(o.attestation is not None, o.error is not None) for o in run.outcomes] == [
        (True, False), (False, True), (True, False)
    ]  # fmt: skip
    assert [a.log_index for o in run.outcomes if (a := o.attestation)] == [0, 1]
    assert [d["typedData"]["message"]["securityId"] for d in await store.documents(KIND)] == [
        "0x" + security_id(1).hex(), "0x" + security_id(2).hex()
    ]  # fmt: skip


async def test_an_imbalance_pauses_inbound_minting_when_the_policy_is_on() -> None:
    pauses = Pauses()
    run = await Reconciler(LAYOUT, Observer(BALANCED, DRIFT), Clock(T0), pause_inbound=pauses).run()
    assert pauses.calls == 1
    assert run.paused == (PauseOutcome(ETH, "0x" + "7a" * 32), PauseOutcome(ROLL, error="RpcUnavailable"))
    assert not run.balanced


async def test_an_imbalance_pauses_even_when_its_report_is_not_signed() -> None:
    pauses = Pauses()
    sign, _, _ = signing(MemoryAttestors(KEYS, refuse={KIND: "no"}))
    run = await Reconciler(LAYOUT, Observer(EXCESS), Clock(T0), signing=sign, pause_inbound=pauses).run()
    assert pauses.calls == 1 and len(run.paused) == 2
    assert run.outcomes[0].error is not None


async def test_an_imbalance_without_the_policy_pauses_nothing() -> None:
    run = await Reconciler(LAYOUT, Observer(DRIFT), Clock(T0)).run()
    assert run.paused == () and not run.balanced


async def test_a_balanced_run_never_pauses() -> None:
    pauses = Pauses()
    sign, _, _ = signing(MemoryAttestors(KEYS))
    for reconciler in (
        Reconciler(LAYOUT, Observer(BALANCED, PENDING), Clock(T0), pause_inbound=pauses),
        Reconciler(LAYOUT, Observer(BALANCED), Clock(T0), signing=sign, pause_inbound=pauses),
        Reconciler(LAYOUT, Observer(), Clock(T0), pause_inbound=pauses),  # nothing to reconcile
    ):
        run: Run = await reconciler.run()
        assert run.balanced and run.paused == ()
    assert pauses.calls == 0
