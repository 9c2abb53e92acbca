"""Reconciliation's arithmetic (INV-001 supply conservation, docs/reconciliation.md): the pure equation over
every combination of minted / refunded / pending / burned / released transfers on several chains and drifts,
the canonical details document and its hash, and the newest report per security."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import pytest

from attestations.attestation import Attestation
from attestations.eip712 import Domain
from attestations.kinds import ReconciliationReport
from relayer.core.reconcile import (
    BadBlocks,
    BridgeBackFact,
    BridgeOutFact,
    Facts,
    MintFact,
    ReleaseFact,
    SecurityFacts,
    WrappedFact,
    canonical_json,
    compute,
    latest_reports,
)

REG, ETH, ROLL = 820001, 31337, 31338
SID = b"\x5c" * 32
ESCROW = "0x" + "e5" * 20
TOKEN = "0x" + "70" * 20
OTHER_TOKEN = "0x" + "71" * 20
GATEWAYS = {ETH: "0x" + "a1" * 20, ROLL: "0x" + "a2" * 20}
WRAPPED = {ETH: "0x" + "b1" * 20, ROLL: "0x" + "b2" * 20}
HOLDER = "0x" + "44" * 20
DOMAIN = Domain(REG, ESCROW)

# --- the equation --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    locked: int
    supply: Mapping[int, int]
    outs: Sequence[tuple[int, int, int]] = ()  # nonce, amount, destination
    refunded: frozenset[int] = frozenset()
    mints: Sequence[tuple[int, int, int]] = ()  # chain, source nonce, amount
    backs: Sequence[tuple[int, int, int]] = ()  # chain, nonce, amount
    releases: Sequence[tuple[int, int, int]] = ()  # source chain, source nonce, amount
    # expected
    out: int = 0
    back: int = 0
    difference: int = 0
    findings: Sequence[str] = ()
    in_flight: Sequence[tuple[str, int, int]] = field(default_factory=tuple)  # direction, chain, nonce


def security_facts(case: Case, security_id: bytes = SID) -> SecurityFacts:
    return SecurityFacts(
        security_id, TOKEN, case.locked,
        tuple(WrappedFact(c, WRAPPED.get(c, "0x" + "bb" * 20), s) for c, s in case.supply.items()),
        tuple(BridgeOutFact(*o) for o in case.outs), case.refunded, tuple(MintFact(*m) for m in case.mints),
        tuple(BridgeBackFact(*b) for b in case.backs), tuple(ReleaseFact(*r) for r in case.releases),
    )  # fmt: skip


def facts_of(*securities: SecurityFacts) -> Facts:
    blocks = {REG: 100, ETH: 48, ROLL: 58}
    return Facts(REG, ESCROW, blocks, {c: f"0x{c:064x}" for c in blocks}, securities)


CASES = {
    "nothing-bridged": Case(0, {ETH: 0, ROLL: 0}),
    "out-pending": Case(10, {ETH: 0}, outs=[(1, 10, ETH)], out=10, in_flight=[("out", REG, 1)]),
    "out-minted": Case(10, {ETH: 10}, outs=[(1, 10, ETH)], mints=[(ETH, 1, 10)]),
    "out-refunded": Case(0, {ETH: 0}, outs=[(1, 10, ETH)], refunded=frozenset({1})),
    "out-pending-to-unconfigured-chain": Case(4, {ETH: 0}, outs=[(1, 4, 999)], out=4, in_flight=[("out", REG, 1)]),
    "unrelated-refund-is-ignored": Case(10, {ETH: 10}, outs=[(1, 10, ETH)], refunded=frozenset({77}),
                                        mints=[(ETH, 1, 10)]),
    "burned-pending": Case(10, {ETH: 6}, outs=[(1, 10, ETH)], mints=[(ETH, 1, 10)], backs=[(ETH, 1, 4)], back=4,
                           in_flight=[("back", ETH, 1)]),
    "burned-released": Case(6, {ETH: 6}, outs=[(1, 10, ETH)], mints=[(ETH, 1, 10)], backs=[(ETH, 1, 4)],
                            releases=[(ETH, 1, 4)]),
    "same-burn-nonce-on-two-chains": Case(
        12, {ETH: 3, ROLL: 4}, outs=[(1, 5, ETH), (2, 9, ROLL)], mints=[(ETH, 1, 5), (ROLL, 2, 9)],
        backs=[(ETH, 1, 2), (ROLL, 1, 5)], releases=[(ETH, 1, 2)], back=5, in_flight=[("back", ROLL, 1)],
    ),
    "every-state-on-two-chains": Case(
        14, {ETH: 7, ROLL: 4},
        outs=[(1, 10, ETH), (2, 5, ROLL), (3, 7, ETH), (4, 2, ETH)], refunded=frozenset({3}),
        mints=[(ETH, 1, 10), (ROLL, 2, 5)], backs=[(ETH, 1, 3), (ROLL, 1, 1)], releases=[(ETH, 1, 3)],
        out=2, back=1, in_flight=[("back", ROLL, 1), ("out", REG, 4)],
    ),
    "drift-agent-mint": Case(10, {ETH: 15}, outs=[(1, 10, ETH)], mints=[(ETH, 1, 10)], difference=-5),
    "drift-excess-locked": Case(12, {ETH: 10}, outs=[(1, 10, ETH)], mints=[(ETH, 1, 10)], difference=2),
    "drift-minted-and-refunded": Case(0, {ETH: 10}, outs=[(1, 10, ETH)], refunded=frozenset({1}),
                                      mints=[(ETH, 1, 10)], difference=-10, findings=["minted-and-refunded"]),
    "minted-on-the-wrong-chain": Case(10, {ROLL: 10}, outs=[(1, 10, ETH)], mints=[(ROLL, 1, 10)], out=10,
                                      difference=-10, findings=["minted-without-request"],
                                      in_flight=[("out", REG, 1)]),
    "minted-without-request": Case(0, {ETH: 4}, mints=[(ETH, 5, 4)], difference=-4,
                                   findings=["minted-without-request"]),
    "released-without-burn": Case(7, {ETH: 10}, outs=[(1, 10, ETH)], mints=[(ETH, 1, 10)],
                                  releases=[(ETH, 9, 3)], difference=-3, findings=["released-without-burn"]),
}  # fmt: skip


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_the_equation(case: Case) -> None:
    """INV-001: locked == wrappedSupply + inFlightOut + inFlightBack, itemized, for every transfer state."""
    [r] = compute(facts_of(security_facts(case)))
    assert (r.locked, r.wrapped_supply) == (case.locked, sum(case.supply.values()))
    assert (r.in_flight_out, r.in_flight_back, r.difference) == (case.out, case.back, case.difference)
    assert r.balanced is (case.difference == 0)
    assert [(i.direction.value, i.chain_id, i.nonce) for i in r.in_flight] == list(case.in_flight)
    assert [a.finding.value for a in r.anomalies] == list(case.findings)
    assert sum(i.amount for i in r.in_flight) == case.out + case.back
    details = r.details
    assert details["difference"] == str(case.difference) and details["balanced"] is r.balanced
    assert details["blocks"] == {"820001": 100, "31337": 48, "31338": 58}
    assert [(i["direction"], i["chain"], i["nonce"]) for i in details["inFlight"]] == list(case.in_flight)


def test_details_are_canonical_and_hashed_into_the_report() -> None:
    case = CASES["every-state-on-two-chains"]
    [r] = compute(facts_of(security_facts(case)))
    text = canonical_json(r.details)
    assert b" " not in text and b"\n" not in text
    assert json.loads(text) == r.details
    assert text == json.dumps(json.loads(text), sort_keys=True, separators=(",", ":")).encode()
    assert r.details_hash == hashlib.sha256(text).digest()
    assert r.details["inFlight"] == [
        {"direction": "back", "chain": ROLL, "nonce": 1, "amount": "1", "destination": REG},
        {"direction": "out", "chain": REG, "nonce": 4, "amount": "2", "destination": ETH},
    ]
    assert r.details["blockHashes"]["31337"] == f"0x{ETH:064x}"
    report = r.report(1_700_000_000)
    assert report.to_message() == {
        "securityId": "0x" + SID.hex(), "registryBlock": "100", "locked": "14", "wrappedSupply": "11",
        "inFlightOut": "2", "inFlightBack": "1", "difference": "0", "balanced": True, "observedAt": 1_700_000_000,
        "detailsHash": "0x" + r.details_hash.hex(),
    }  # fmt: skip
    drift = compute(facts_of(security_facts(CASES["drift-agent-mint"])))[0].report(1)
    assert drift.difference == -5 and not drift.balanced
    assert ReconciliationReport.from_message(drift.to_message()) == drift  # int256 round trip
    # one more block, another hash: every block used is part of what is signed
    moved = replace(facts_of(security_facts(case)), blocks={REG: 101, ETH: 48, ROLL: 58})
    assert compute(moved)[0].details_hash != r.details_hash


def test_several_securities_are_reconciled_independently() -> None:
    other = b"\x77" * 32
    found = compute(facts_of(security_facts(CASES["out-minted"]), security_facts(CASES["drift-agent-mint"], other)))
    assert [(r.security_id, r.balanced, r.difference) for r in found] == [(SID, True, 0), (other, False, -5)]
    with pytest.raises(BadBlocks):
        compute(replace(facts_of(), blocks={ETH: 1}))


def test_latest_reports_picks_the_newest_per_security() -> None:
    other = b"\x77" * 32
    [a] = compute(facts_of(security_facts(CASES["out-minted"])))
    [b] = compute(facts_of(security_facts(CASES["drift-agent-mint"], other)))
    stored = [Attestation(r.report(at), DOMAIN).to_json() for r, at in ((a, 5), (a, 9), (a, 7), (b, 3))]
    latest = latest_reports(stored)
    assert [(d["typedData"]["message"]["securityId"], d["typedData"]["message"]["observedAt"]) for d in latest] == [
        ("0x" + SID.hex(), 9), ("0x" + other.hex(), 3)
    ]  # fmt: skip
