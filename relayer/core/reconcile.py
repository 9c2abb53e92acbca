"""Reconciliation's arithmetic: the units locked in the registry escrow against the wrapped supply on the
public chains and the transfers in flight between them, per security, at finalized blocks (INV-001,
docs/reconciliation.md).

For a security at the registry's block ``B_r`` and each public chain's block ``B_c``::

    locked        = BridgeEscrow.lockedBalance(token)                               at B_r
    wrappedSupply = sum over public chains of WrappedSecurity.totalSupply()         at B_c
    inFlightOut   = sum of BridgeOutRequested(token) <= B_r neither Refunded <= B_r
                    nor Minted on its destination gateway <= B_c
    inFlightBack  = sum of BridgeBackRequested(wrapped) <= B_c not Released <= B_r
    difference    = locked - (wrappedSupply + inFlightOut + inFlightBack)          balanced iff 0

Pure: `compute` takes plain facts and gives a `SecurityReconciliation` per security, every in-flight
transfer itemized in a canonical JSON details document whose SHA-256 is the report's ``detailsHash``.
The facts are read off the chains by `relayer.edges.evm.supply` (the relayer and the attestors use the
same code); the run that attests, logs and stores the reports is `relayer.pipeline.reconcile`.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from eth_utils.address import to_checksum_address

from attestations.eip712 import Domain
from attestations.kinds import ReconciliationReport
from relayer.core.config import Config
from relayer.core.errors import ConfigError, DariError

DETAILS_FORMAT = "dari-reconciliation/1"


class ReconcileError(DariError):
    """Root of the reconciliation's own errors."""


class BadBlocks(ReconcileError):
    """The blocks asked for do not name exactly the configured chains, or one does not exist."""


class BlocksNotFinal(ReconcileError):
    """A block asked for is not final (yet) for this reader: ask again later."""


# --- plain facts ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BridgeOutFact:
    """A ``BridgeOutRequested`` of the security's registry token (registry chain, <= B_r)."""

    nonce: int
    amount: int
    dest_chain_id: int


@dataclass(frozen=True)
class MintFact:
    """A ``Minted`` of the security's wrapped token on ``chain_id`` for registry bridge-out ``source_nonce``."""

    chain_id: int
    source_nonce: int
    amount: int


@dataclass(frozen=True)
class BridgeBackFact:
    """A ``BridgeBackRequested`` (burn) of the security's wrapped token on ``chain_id`` (<= B_c)."""

    chain_id: int
    nonce: int
    amount: int


@dataclass(frozen=True)
class ReleaseFact:
    """A ``Released`` of the security's registry token for burn (``source_chain_id``, ``source_nonce``)."""

    source_chain_id: int
    source_nonce: int
    amount: int


@dataclass(frozen=True)
class WrappedFact:
    """The security's wrapped token on ``chain_id`` (zero address: not registered there) and its supply."""

    chain_id: int
    token: str
    total_supply: int


@dataclass(frozen=True)
class SecurityFacts:
    """Everything the equation needs about one security, read at the blocks of its `Facts`."""

    security_id: bytes
    registry_token: str
    locked: int
    wrapped: tuple[WrappedFact, ...] = ()
    bridge_outs: tuple[BridgeOutFact, ...] = ()
    refunded: frozenset[int] = frozenset()  # refunded bridge-out nonces (the escrow's, any token)
    mints: tuple[MintFact, ...] = ()
    bridge_backs: tuple[BridgeBackFact, ...] = ()
    releases: tuple[ReleaseFact, ...] = ()


@dataclass(frozen=True)
class Facts:
    """The chain facts of one observation: every block used (chain id -> number, and its hash)."""

    registry_chain_id: int
    escrow: str
    blocks: Mapping[int, int]
    block_hashes: Mapping[int, str]
    securities: tuple[SecurityFacts, ...]


# --- the computation --------------------------------------------------------------------------------------


class Direction(enum.StrEnum):
    OUT = "out"  # registry -> public chain: locked, not yet minted or refunded
    BACK = "back"  # public chain -> registry: burned, not yet released


class Finding(enum.StrEnum):
    """Events that match nothing they should; each also shows in the difference."""

    MINTED_AND_REFUNDED = "minted-and-refunded"  # a double spend: units both minted and returned
    MINTED_WITHOUT_REQUEST = "minted-without-request"  # no bridge-out <= B_r (a read race, or a forged mint)
    RELEASED_WITHOUT_BURN = "released-without-burn"  # no burn <= B_c (a read race, or a forged release)


TIMING_FINDINGS = frozenset({Finding.MINTED_WITHOUT_REQUEST, Finding.RELEASED_WITHOUT_BURN})


@dataclass(frozen=True)
class InFlight:
    """One transfer in flight: its source chain and nonce (its transfer id), amount and destination."""

    direction: Direction
    chain_id: int
    nonce: int
    amount: int
    dest_chain_id: int

    def to_json(self) -> dict[str, Any]:
        return {"direction": self.direction.value, "chain": self.chain_id, "nonce": self.nonce,
                "amount": str(self.amount), "destination": self.dest_chain_id}  # fmt: skip


@dataclass(frozen=True)
class Anomaly:
    finding: Finding
    chain_id: int
    nonce: int
    amount: int

    def to_json(self) -> dict[str, Any]:
        return {"finding": self.finding.value, "chain": self.chain_id, "nonce": self.nonce, "amount": str(self.amount)}


@dataclass(frozen=True)
class SecurityReconciliation:
    """The equation's figures for one security, its itemization and the details document."""

    security_id: bytes
    registry_block: int
    locked: int
    wrapped_supply: int
    in_flight_out: int
    in_flight_back: int
    in_flight: tuple[InFlight, ...]
    anomalies: tuple[Anomaly, ...]
    details: Mapping[str, Any] = field(repr=False)
    details_hash: bytes = b""

    @property
    def difference(self) -> int:
        return self.locked - (self.wrapped_supply + self.in_flight_out + self.in_flight_back)

    @property
    def balanced(self) -> bool:
        return self.difference == 0

    def report(self, observed_at: int) -> ReconciliationReport:
        """The statement attestors sign (domain: `Layout.domain`)."""
        return ReconciliationReport(
            security_id=self.security_id, registry_block=self.registry_block, locked=self.locked,
            wrapped_supply=self.wrapped_supply, in_flight_out=self.in_flight_out, in_flight_back=self.in_flight_back,
            difference=self.difference, balanced=self.balanced, observed_at=observed_at,
            details_hash=self.details_hash,
        )  # fmt: skip


def canonical_json(document: Any) -> bytes:
    """Sorted keys, no spaces, UTF-8: the bytes ``detailsHash`` covers."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def details_hash(details: Mapping[str, Any]) -> bytes:
    return hashlib.sha256(canonical_json(details)).digest()


def _reconcile(facts: Facts, s: SecurityFacts) -> SecurityReconciliation:
    registry = facts.registry_chain_id
    minted = {(m.chain_id, m.source_nonce): m for m in s.mints}
    released = {(r.source_chain_id, r.source_nonce): r for r in s.releases}
    in_flight: list[InFlight] = []
    anomalies: list[Anomaly] = []
    requested: set[tuple[int, int]] = set()
    for out in s.bridge_outs:
        key = (out.dest_chain_id, out.nonce)
        requested.add(key)
        is_minted, is_refunded = key in minted, out.nonce in s.refunded
        if is_minted and is_refunded:
            anomalies.append(Anomaly(Finding.MINTED_AND_REFUNDED, registry, out.nonce, out.amount))
        elif not is_minted and not is_refunded:
            in_flight.append(InFlight(Direction.OUT, registry, out.nonce, out.amount, out.dest_chain_id))
    anomalies += [
        Anomaly(Finding.MINTED_WITHOUT_REQUEST, m.chain_id, m.source_nonce, m.amount)
        for key, m in minted.items()
        if key not in requested
    ]
    burned = set()
    for back in s.bridge_backs:
        burned.add((back.chain_id, back.nonce))
        if (back.chain_id, back.nonce) not in released:
            in_flight.append(InFlight(Direction.BACK, back.chain_id, back.nonce, back.amount, registry))
    anomalies += [
        Anomaly(Finding.RELEASED_WITHOUT_BURN, r.source_chain_id, r.source_nonce, r.amount)
        for key, r in released.items()
        if key not in burned
    ]
    in_flight.sort(key=lambda i: (i.direction.value, i.chain_id, i.nonce))
    anomalies.sort(key=lambda a: (a.finding.value, a.chain_id, a.nonce))
    wrapped_supply = sum(w.total_supply for w in s.wrapped)
    out_total = sum(i.amount for i in in_flight if i.direction is Direction.OUT)
    back_total = sum(i.amount for i in in_flight if i.direction is Direction.BACK)
    difference = s.locked - (wrapped_supply + out_total + back_total)
    details = {
        "format": DETAILS_FORMAT,
        "securityId": "0x" + s.security_id.hex(),
        "registryChainId": registry,
        "escrow": to_checksum_address(facts.escrow),
        "registryToken": to_checksum_address(s.registry_token),
        "blocks": {str(c): b for c, b in sorted(facts.blocks.items())},
        "blockHashes": {str(c): h.lower() for c, h in sorted(facts.block_hashes.items())},
        "locked": str(s.locked),
        "wrapped": {
            str(w.chain_id): {"token": to_checksum_address(w.token), "totalSupply": str(w.total_supply)}
            for w in sorted(s.wrapped, key=lambda w: w.chain_id)
        },
        "wrappedSupply": str(wrapped_supply),
        "inFlightOut": str(out_total),
        "inFlightBack": str(back_total),
        "difference": str(difference),
        "balanced": difference == 0,
        "inFlight": [i.to_json() for i in in_flight],
        "anomalies": [a.to_json() for a in anomalies],
    }
    return SecurityReconciliation(
        s.security_id, facts.blocks[registry], s.locked, wrapped_supply, out_total, back_total,
        tuple(in_flight), tuple(anomalies), details, details_hash(details),
    )  # fmt: skip


def compute(facts: Facts) -> list[SecurityReconciliation]:
    """The reconciliation of every security in ``facts``, in their order. Pure."""
    if facts.registry_chain_id not in facts.blocks:
        raise BadBlocks(f"no block for the registry chain {facts.registry_chain_id}")
    return [_reconcile(facts, s) for s in facts.securities]


@dataclass(frozen=True)
class GatewayRef:
    chain_id: int
    confirmations: int
    gateway: str


@dataclass(frozen=True)
class Layout:
    """The chains and contracts reconciliation reads."""

    registry_chain_id: int
    registry_confirmations: int
    escrow: str
    gateways: tuple[GatewayRef, ...]

    @classmethod
    def from_config(cls, config: Config) -> Layout:
        problems = []
        if "escrow" not in config.registry.contracts:
            problems.append("registry.contracts.escrow: required for reconciliation")
        problems += [
            f"public[{c.name}].contracts.gateway: required for reconciliation"
            for c in config.public
            if "gateway" not in c.contracts
        ]
        if problems:
            raise ConfigError("reconciliation", problems)
        return cls(
            config.registry.chain_id, config.registry.confirmations, config.registry.contracts["escrow"],
            tuple(GatewayRef(c.chain_id, c.confirmations, c.contracts["gateway"]) for c in config.public),
        )  # fmt: skip

    @property
    def domain(self) -> Domain:
        """Reports are bound to the registry chain and its escrow."""
        return Domain(self.registry_chain_id, to_checksum_address(self.escrow))

    def confirmations(self) -> dict[int, int]:
        return {self.registry_chain_id: self.registry_confirmations} | {
            g.chain_id: g.confirmations for g in self.gateways
        }


def context_of(blocks: Mapping[int, int]) -> dict[str, Any]:
    """The ``context`` of a sign request for a report at ``blocks``."""
    return {"blocks": {str(c): b for c, b in sorted(blocks.items())}}


def configured_securities(config: Config) -> list[tuple[bytes, str | None]]:
    """The securities to reconcile (id, registry token); `ConfigError` when none has a registry token."""
    found: list[tuple[bytes, str | None]] = [
        (bytes.fromhex(s.id[2:]), s.registry_token) for s in config.securities if s.registry_token
    ]
    if not found:
        raise ConfigError("securities", ["no security has a registry_token: nothing to reconcile"])
    return found


def latest_reports(documents: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The newest ``ReconciliationReport`` attestation per security among ``documents`` (stored order; the
    newest by observedAt, then registry block, then storage order), ordered by security id; for
    ``GET /v1/reconciliation/latest``."""
    latest: dict[str, tuple[tuple[int, int, int], dict[str, Any]]] = {}
    for position, document in enumerate(documents):
        message = document["typedData"]["message"]
        key = (int(message["observedAt"]), int(message["registryBlock"]), position)
        security = str(message["securityId"]).lower()
        if security not in latest or key > latest[security][0]:
            latest[security] = (key, dict(document))
    return [latest[s][1] for s in sorted(latest)]
