"""Upkeep (`relayer.pipeline.upkeep`): the ``dari_operations`` gauge follows the store's counts, operations
over the SLA are counted in ``dari_operations_over_sla`` (final ones never) and named in the log; the
recognition records (`Recognition`): on the first pass every configured security in every jurisdiction is
signed with real signatures, logged and stored; nothing is published again before `PUBLICATION_INTERVAL`
nor before half a record's validity; a record the attestors refuse or are not ready for is skipped and the
pass goes on; a failed publication is logged unless it is fatal, which propagates."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
import structlog

from adapters.recognition import DAY, recognize
from attestations.attestation import AttestorSignature
from attestations.eip712 import Domain
from attestations.kinds import RecognitionRecord, Statement
from attestations.log import MemoryLogStorage, TransparencyLog
from attestations.trust import TrustList
from attestations.verify import verify
from relayer import metrics
from relayer.core.compliance import load_adapters, to_security
from relayer.core.config import Config, parse_config
from relayer.core.errors import AttestationRefused, DariError, NotYetAttested, RpcUnavailable
from relayer.core.finality import ReorgTooDeep
from relayer.core.model import Operation, Source
from relayer.core.ports import AttestationLog
from relayer.core.transfer_state import Event, Kind, State
from relayer.devtools.devnet.cast import ATTESTOR_IDS, attestor_key
from relayer.pipeline.moves import Mover
from relayer.pipeline.upkeep import PUBLICATION_INTERVAL, SLA_LOGGED, Recognition, Upkeep
from tests.support.memory import Clock, MemoryAttestors, MemoryOperationStore

REG, ETH = 820001, 31337
ESCROW = "0x" + "e5" * 20
T0 = 1_800_000_000.0
SLA = 900.0
VALIDITY_DAYS = 30
KIND = RecognitionRecord.KIND
KEYS = [attestor_key(i) for i in ATTESTOR_IDS]
TRUST = TrustList.parse({"epoch": 1, "threshold": 2, "attestors": [k.public() for k in KEYS]})
DOMAIN = Domain(REG, ESCROW)
JURISDICTIONS = ["CH", "EU", "HK", "JP", "KR", "SG", "UK", "US"]
EQUITY = "0x" + "5c" * 32
BOND = "0x" + "6d" * 32


def config(*securities: dict[str, object]) -> Config:
    return parse_config({
        "registry": {"name": "registry", "chain_id": REG, "rpc_url": "http://127.0.0.1:1", "confirmations": 0,
                     "contracts": {"escrow": ESCROW}},
        "public": [{"name": "ethereum", "chain_id": ETH, "rpc_url": "http://127.0.0.1:2", "confirmations": 2}],
        "adapters": {"recognition_validity_days": VALIDITY_DAYS},
        "securities": list(securities),
    })  # fmt: skip


CONFIG = config(
    {"id": EQUITY, "isin": "KR7005930003", "name": "Hanbit common", "asset_class": "equity", "flags": ["public-offer"]},
    {"id": BOND, "isin": "KR6000001234", "name": "Seoul Green Bond 2029", "asset_class": "debt"},
)
ADAPTERS = load_adapters(CONFIG)


@dataclass
class PickyAttestors(MemoryAttestors):
    """Attestors that refuse the records of some jurisdictions (``refuse_in``: the reason) and are not ready
    for those of others (``later_in``)."""

    refuse_in: dict[str, str] = field(default_factory=dict)
    later_in: set[str] = field(default_factory=set)

    async def gather(
        self, statement: Statement, domain: Domain, *, context: Mapping[str, Any] | None = None
    ) -> list[AttestorSignature]:
        assert isinstance(statement, RecognitionRecord)
        if statement.jurisdiction in self.refuse_in:
            self.asked.append(statement)
            raise AttestationRefused({k.id: self.refuse_in[statement.jurisdiction] for k in self.keys})
        if statement.jurisdiction in self.later_in:
            self.asked.append(statement)
            raise NotYetAttested(f"{statement.jurisdiction}: not yet")
        return await super().gather(statement, domain, context=context)


class FailingLog:
    """A transparency log whose appends fail with ``error`` while it is set."""

    def __init__(self, error: Exception | None) -> None:
        self.error = error
        self.log = TransparencyLog(MemoryLogStorage())

    async def append(self, entry: bytes) -> int:
        if self.error is not None:
            raise self.error
        return await self.log.append(entry)

    async def append_many(self, entries: Sequence[bytes]) -> list[int]:
        if self.error is not None:
            raise self.error
        return await self.log.append_many(entries)


@dataclass
class Rig:
    """One upkeep stage over memory."""

    clock: Clock
    store: MemoryOperationStore
    attestors: MemoryAttestors
    log: AttestationLog
    recognition: Recognition
    upkeep: Upkeep

    async def records(self) -> list[dict[str, Any]]:
        return await self.store.documents(KIND)

    def at(self, seconds: float) -> Rig:
        self.clock.now = T0 + seconds
        return self


def rig(attestors: MemoryAttestors | None = None, log: AttestationLog | None = None, cfg: Config = CONFIG) -> Rig:
    clock = Clock(T0)
    store = MemoryOperationStore(clock)
    attestors = MemoryAttestors(KEYS) if attestors is None else attestors
    log = TransparencyLog(MemoryLogStorage()) if log is None else log
    mover = Mover(store, clock)
    adapters = ADAPTERS if cfg is CONFIG else load_adapters(cfg)
    recognition = Recognition(cfg, adapters, store, attestors, log, mover)
    return Rig(clock, store, attestors, log, recognition, Upkeep(store, mover, recognition, sla_seconds=SLA))


def operation(nonce: int, kind: str = "bridge-out") -> Operation:
    return Operation(
        id=f"{REG}-{nonce}", kind=Kind(kind), state=State.OBSERVED,
        source=Source(REG, "0x" + "bb" * 32, 10 + nonce, "0x" + "aa" * 32, 0), dest_chain_id=ETH, amount=1,
    )  # fmt: skip


async def add(store: MemoryOperationStore, nonce: int, kind: str, *events: str) -> None:
    """An operation of ``kind`` observed now, then taken through ``events``."""
    op = operation(nonce, kind)
    await store.observe_many([op])
    for event in events:
        await store.transition(op.id, Event(event))


def operations_gauge(kind: str, state: str) -> float | None:
    return metrics.REGISTRY.get_sample_value("dari_operations", {"kind": kind, "state": state})


def over_sla() -> float | None:
    return metrics.REGISTRY.get_sample_value("dari_operations_over_sla")


def expected_records(now: float) -> list[RecognitionRecord]:
    """Every record a publication at ``now`` signs, in its order (securities as configured, jurisdictions
    sorted)."""
    return [
        recognize(to_security(entry), jurisdiction, ADAPTERS, int(now), VALIDITY_DAYS).record
        for entry in CONFIG.securities
        for jurisdiction in JURISDICTIONS
    ]


# --- the operation gauges --------------------------------------------------------------------------------


async def test_the_operations_gauge_follows_the_store_counts() -> None:
    r = rig(cfg=config())
    for nonce in (1, 2, 3):
        await add(r.store, nonce, "bridge-out")
    await add(r.store, 4, "bridge-out", "finalized", "escalated")
    await add(r.store, 5, "bridge-back", "finalized")
    await add(r.store, 6, "holder-register", "finalized", "rejected")
    await r.upkeep.run()
    assert await r.store.counts() == {
        ("bridge-out", "observed"): 3, ("bridge-out", "held"): 1, ("bridge-back", "finalized"): 1,
        ("holder-register", "rejected"): 1,
    }  # fmt: skip
    assert [
        operations_gauge("bridge-out", "observed"), operations_gauge("bridge-out", "held"),
        operations_gauge("bridge-back", "finalized"), operations_gauge("holder-register", "rejected"),
    ] == [3.0, 1.0, 1.0, 1.0]  # fmt: skip

    await r.store.transition(f"{REG}-1", Event.FINALIZED)
    await r.store.transition(f"{REG}-2", Event.FINALIZED)
    await add(r.store, 7, "bridge-out")
    await r.upkeep.run()
    assert (operations_gauge("bridge-out", "observed"), operations_gauge("bridge-out", "finalized")) == (2.0, 2.0)
    assert operations_gauge("bridge-out", "held") == 1.0


async def test_a_state_no_operation_is_in_any_more_counts_zero() -> None:
    """The store counts only the pairs it has rows for: a state that empties must still read 0."""
    r = rig(cfg=config())
    await add(r.store, 1, "holder-revoke", "finalized")
    await r.upkeep.run()
    assert operations_gauge("holder-revoke", "finalized") == 1.0
    await r.store.transition(f"{REG}-1", Event.APPROVED)
    await r.upkeep.run()
    assert operations_gauge("holder-revoke", "approved") == 1.0
    assert operations_gauge("holder-revoke", "finalized") == 0.0


async def test_operations_over_the_sla_are_counted_and_named_final_ones_never() -> None:
    r = rig(cfg=config())
    await add(r.store, 1, "bridge-out")  # stays observed: over the SLA
    await add(r.store, 2, "bridge-out", "finalized", "approved", "attested", "confirmed")  # final
    await add(r.store, 3, "holder-register", "finalized", "rejected")  # final for a registration
    await add(r.store, 4, "bridge-out", "finalized", "rejected")  # a rejected bridge-out is still to refund
    await add(r.store, 5, "bridge-out", "reorged")  # dropped: final
    await add(r.store, 6, "bridge-back", "finalized", "approved", "attested", "stalled")  # stalled: over the SLA
    r.at(600)
    await add(r.store, 7, "bridge-out")  # younger than the SLA
    with structlog.testing.capture_logs() as logs:
        await r.at(SLA).upkeep.run()  # created exactly an SLA ago: not over it yet
        assert over_sla() == 0.0
        await r.at(SLA + 1).upkeep.run()
        assert over_sla() == 3.0
        await r.at(SLA + 600 + 1).upkeep.run()
        assert over_sla() == 4.0
    named = [(e["id"], e["kind"], e["state"], e["reason"]) for e in logs if e["event"] == "operation over its SLA"]
    first = [(f"{REG}-1", "bridge-out", "observed"), (f"{REG}-4", "bridge-out", "rejected"),
             (f"{REG}-6", "bridge-back", "stalled")]  # fmt: skip
    assert named == [(*n, None) for n in [*first, *first, (f"{REG}-7", "bridge-out", "observed")]]
    assert {e["log_level"] for e in logs if e["event"] == "operation over its SLA"} == {"warning"}


async def test_only_the_first_overdue_operations_are_named_in_the_log() -> None:
    r = rig(cfg=config())
    for nonce in range(SLA_LOGGED + 3):
        r.at(nonce)
        await add(r.store, nonce, "bridge-out")
    with structlog.testing.capture_logs() as logs:
        await r.at(SLA + 100).upkeep.run()
    assert over_sla() == SLA_LOGGED + 3
    named = [e["id"] for e in logs if e["event"] == "operation over its SLA"]
    assert named == [f"{REG}-{n}" for n in range(SLA_LOGGED)]  # the oldest first


# --- recognition records ---------------------------------------------------------------------------------


async def test_the_first_pass_signs_logs_and_stores_every_security_in_every_jurisdiction() -> None:
    r = rig()
    await r.upkeep.run()
    expected = expected_records(T0)
    assert sorted(ADAPTERS.adapters) == JURISDICTIONS
    assert len(expected) == 16
    assert r.attestors.asked == expected
    documents = await r.records()
    assert [d["typedData"]["message"]["securityId"] for d in documents] == [EQUITY] * 8 + [BOND] * 8
    assert [d["typedData"]["message"]["jurisdiction"] for d in documents] == JURISDICTIONS * 2
    for index, (document, record) in enumerate(zip(documents, expected, strict=True)):
        assert verify(document, TRUST, now=int(T0), domain=DOMAIN, kind=RecognitionRecord) == record
        assert document["log"] == {"index": index}
        assert len(document["signatures"]) == 2
        assert record.valid_from == int(T0) and record.valid_until == int(T0) + VALIDITY_DAYS * DAY
    assert isinstance(r.log, TransparencyLog)
    assert r.log.size == 16
    assert [(await r.log.prove_inclusion(bytes.fromhex(d["digest"][2:]))).leaf_index for d in documents] == list(
        range(16)
    )


async def test_publish_returns_how_many_records_it_published() -> None:
    r = rig()
    assert await r.recognition.publish() == 16
    assert await r.at(60).recognition.publish() == 0
    assert len(await r.records()) == 16


async def test_a_second_pass_within_the_publication_interval_asks_nothing() -> None:
    r = rig()
    await r.upkeep.run()
    await r.at(60).upkeep.run()
    await r.at(PUBLICATION_INTERVAL - 1).upkeep.run()
    assert len(r.attestors.asked) == 16
    assert len(await r.records()) == 16


async def test_records_are_published_again_at_half_their_validity_not_before() -> None:
    r = rig()
    await r.upkeep.run()
    half = VALIDITY_DAYS * DAY // 2
    await r.at(PUBLICATION_INTERVAL).upkeep.run()  # due for a check, but every record is fresh
    assert len(r.attestors.asked) == 16
    assert await r.at(half - 1).recognition.publish() == 0
    assert len(r.attestors.asked) == 16
    await r.at(half).upkeep.run()
    assert len(r.attestors.asked) == 32
    documents = await r.records()
    assert [d["typedData"]["message"]["validFrom"] for d in documents] == [int(T0)] * 16 + [int(T0) + half] * 16
    assert [verify(d, TRUST, kind=RecognitionRecord) for d in documents[16:]] == expected_records(T0 + half)
    assert [d["log"]["index"] for d in documents] == list(range(32))
    # the newest records are the ones that count: nothing is due right after
    assert await r.at(half + PUBLICATION_INTERVAL).recognition.publish() == 0


async def test_records_refused_or_not_ready_are_skipped_and_the_pass_goes_on() -> None:
    attestors = PickyAttestors(KEYS, refuse_in={"HK": "rule pack HK@old is not ours"}, later_in={"EU"})
    r = rig(attestors)
    with structlog.testing.capture_logs() as logs:
        await r.upkeep.run()
    assert len(attestors.asked) == 16  # every record was asked for
    documents = await r.records()
    published = [(d["typedData"]["message"]["isin"], d["typedData"]["message"]["jurisdiction"]) for d in documents]
    kept = [j for j in JURISDICTIONS if j not in ("EU", "HK")]
    assert published == [("KR7005930003", j) for j in kept] + [("KR6000001234", j) for j in kept]
    assert [d["log"]["index"] for d in documents] == list(range(12))
    skipped = [
        (e["security"], e["jurisdiction"], e["error"]) for e in logs if e["event"] == "recognition record not attested"
    ]
    assert skipped == [
        ("KR7005930003", "EU", "EU: not yet"),
        ("KR7005930003", "HK", "refused: att-1: rule pack HK@old is not ours; att-2: rule pack HK@old is not ours; "
                               "att-3: rule pack HK@old is not ours"),
        ("KR6000001234", "EU", "EU: not yet"),
        ("KR6000001234", "HK", "refused: att-1: rule pack HK@old is not ours; att-2: rule pack HK@old is not ours; "
                               "att-3: rule pack HK@old is not ours"),
    ]  # fmt: skip
    assert not [e for e in logs if e["event"] == "recognition publication failed"]

    # the attestors come round: the missing records are published at the next publication, and only they
    attestors.refuse_in.clear()
    attestors.later_in.clear()
    await r.at(60).upkeep.run()
    assert len(attestors.asked) == 16
    await r.at(PUBLICATION_INTERVAL).upkeep.run()
    again = [s for s in attestors.asked[16:] if isinstance(s, RecognitionRecord)]
    assert [(s.security_id.hex(), s.jurisdiction) for s in again] == [
        ("5c" * 32, "EU"), ("5c" * 32, "HK"), ("6d" * 32, "EU"), ("6d" * 32, "HK")
    ]  # fmt: skip
    assert len(await r.records()) == 16


async def test_a_committee_refusing_every_record_publishes_nothing() -> None:
    r = rig(MemoryAttestors(KEYS, refuse={KIND: "no"}))
    assert await r.recognition.publish() == 0
    assert len(r.attestors.asked) == 16
    assert await r.records() == []


@pytest.mark.parametrize(
    "error",
    [RpcUnavailable("log", "the log's database is restarting"), DariError("refused by the log")],
    ids=["transient", "refused"],
)
async def test_a_failed_publication_is_logged_and_tried_at_the_next_publication(error: Exception) -> None:
    log = FailingLog(error)
    r = rig(log=log)
    for nonce in (1, 2):
        await add(r.store, nonce, "bridge-out")
    with structlog.testing.capture_logs() as logs:
        await r.upkeep.run()
    failed = [e for e in logs if e["event"] == "recognition publication failed"]
    assert [(e["log_level"], e["error"]) for e in failed] == [("warning", repr(error))]
    assert operations_gauge("bridge-out", "observed") == 2.0  # the gauges were set before
    assert await r.records() == []
    assert len(r.attestors.asked) == 1  # the first signed record could not be logged: the pass ended there

    log.error = None
    await r.at(60).upkeep.run()
    assert await r.records() == []
    await r.at(PUBLICATION_INTERVAL).upkeep.run()
    assert len(await r.records()) == 16
    assert log.log.size == 16


@pytest.mark.parametrize("error", [KeyError("escrow"), ReorgTooDeep(7, REG)], ids=["bug", "fatal"])
async def test_a_fatal_failure_of_publication_propagates(error: Exception) -> None:
    r = rig(log=FailingLog(error))
    with pytest.raises(type(error)) as raised:
        await r.upkeep.run()
    assert raised.value is error
    assert await r.records() == []


async def test_without_securities_nothing_is_published() -> None:
    r = rig(cfg=config())
    await r.upkeep.run()
    assert r.attestors.asked == []
    assert await r.records() == []
