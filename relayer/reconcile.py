"""Reconciliation: the units locked in the registry escrow against the wrapped supply on the public chains
and the transfers in flight between them, per security, at finalized blocks (INV-001, docs/reconciliation.md).

For a security at the registry's block ``B_r`` and each public chain's block ``B_c``::

    locked        = BridgeEscrow.lockedBalance(token)                               at B_r
    wrappedSupply = sum over public chains of WrappedSecurity.totalSupply()         at B_c
    inFlightOut   = sum of BridgeOutRequested(token) <= B_r neither Refunded <= B_r
                    nor Minted on its destination gateway <= B_c
    inFlightBack  = sum of BridgeBackRequested(wrapped) <= B_c not Released <= B_r
    difference    = locked - (wrappedSupply + inFlightOut + inFlightBack)          balanced iff 0

Layers: `compute` is pure (plain facts in, `SecurityReconciliation` out, every in-flight transfer itemized in a
canonical JSON details document whose SHA-256 is the report's ``detailsHash``); `facts_at` and `observe` read
the chains through a `ChainReader` (raw ``eth_getLogs`` and ``eth_call`` at a block number; the attestor's
`RpcChainView` is one); `run_once` is the edge the CLI (and a daemon) calls: observe, gather attestor
signatures (the attestors recompute the report at the same blocks before signing), log, store, gauge, and
pause inbound minting on drift when configured.
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import structlog
from eth_abi.abi import decode as abi_decode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from sqlalchemy.ext.asyncio import AsyncEngine

from attestations.attestation import Attestation
from attestations.eip712 import Domain
from attestations.kinds import ReconciliationReport
from attestations.log import TransparencyLog
from relayer import metrics
from relayer.attestor import AttestationRefused, NotYetAttested
from relayer.attestor.client import gather
from relayer.config import Config
from relayer.errors import ConfigError, DariError
from relayer.events import BRIDGE_BACK, BRIDGE_OUT, REFUNDED, BridgeBack, BridgeOut, EventDecodeError, decode_log, topic
from relayer.evm.artifacts import Artifacts, load_artifacts
from relayer.evm.client import ChainClient, RevertDecoder
from relayer.log_store import SqlLogStorage
from relayer.store import OperationStore

if TYPE_CHECKING:
    from relayer.attestor.rpc import RpcChainView

log = structlog.get_logger("dari.reconcile")

MINTED = topic("Minted(uint256,uint64,address,address,uint256)")
RELEASED = topic("Released(uint256,uint64,address,address,uint256)")

DETAILS_FORMAT = "dari-reconciliation/1"
ZERO_ADDRESS = "0x" + "00" * 20
OBSERVE_ATTEMPTS = 3  # fresh blocks when a mint or release is seen without its source event (a read race)
ATTEST_ATTEMPTS = 3  # rounds of signature gathering while attestors answer "not final yet"
ATTEST_RETRY_SECONDS = 1.0


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


# --- reading the chains -----------------------------------------------------------------------------------


@runtime_checkable
class ChainReader(Protocol):
    """The reads reconciliation makes. Errors are the implementation's (the attestor's `RpcChainView`
    raises `ChainUnavailable` or `Refused`)."""

    async def head(self, chain_id: int) -> int: ...

    async def block_hash(self, chain_id: int, number: int) -> str | None: ...

    async def logs(
        self, chain_id: int, address: str, topics: Sequence[str | None], to_block: int
    ) -> list[Mapping[str, Any]]:
        """Raw ``eth_getLogs`` entries from genesis to ``to_block``."""
        ...

    async def call_at(self, chain_id: int, block: int, contract: str, address: str, function: str, *args: Any) -> Any:
        """A view of compiled contract ``contract`` at ``address`` in the state of ``block``."""
        ...


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


def _uint_topic(value: int) -> str:
    return "0x" + value.to_bytes(32, "big").hex()


def _address_topic(address: str) -> str:
    return "0x" + bytes.fromhex(address[2:]).rjust(32, b"\0").hex()


def _word(value: Any) -> int:
    text = value.hex() if isinstance(value, bytes) else str(value)
    return int(text if text.startswith("0x") else "0x" + text, 16)


async def _logs(
    reader: ChainReader, chain_id: int, address: str, topics: list[str | None], to_block: int
) -> list[Mapping[str, Any]]:
    """Not-removed logs emitted by ``address`` up to ``to_block``, oldest first."""
    found = []
    for entry in await reader.logs(chain_id, address, topics, to_block):
        try:
            if entry.get("removed") or str(entry["address"]).lower() != address.lower():
                continue
            block = _word(entry["blockNumber"])
            if block <= to_block:
                found.append((block, _word(entry["logIndex"]), entry))
        except (KeyError, ValueError) as exc:
            raise EventDecodeError(f"log without position: {exc}") from None
    return [entry for _b, _i, entry in sorted(found, key=lambda f: (f[0], f[1]))]


def _topics(entry: Mapping[str, Any]) -> list[int]:
    try:
        return [_word(t) for t in entry.get("topics", [])]
    except ValueError as exc:
        raise EventDecodeError(f"undecodable topics: {exc}") from None


def _data(entry: Mapping[str, Any], types: list[str]) -> tuple[Any, ...]:
    raw = entry.get("data", "0x")
    try:
        return tuple(abi_decode(types, raw if isinstance(raw, bytes) else bytes.fromhex(str(raw).removeprefix("0x"))))
    except Exception as exc:  # eth-abi raises several unrelated error types on short or junk data
        raise EventDecodeError(f"undecodable log data: {exc}") from None


def _amount_event(entry: Mapping[str, Any]) -> tuple[int, int, int]:
    """(chain id, nonce, amount) of a Minted or Released log (same layout)."""
    topics = _topics(entry)
    if len(topics) != 4:
        raise EventDecodeError(f"expected 4 topics, got {len(topics)}")
    _recipient, amount = _data(entry, ["address", "uint256"])
    return topics[1], topics[2], int(amount)


async def _refunded(reader: ChainReader, layout: Layout, block: int) -> frozenset[int]:
    entries = await _logs(reader, layout.registry_chain_id, layout.escrow, [REFUNDED], block)
    nonces = []
    for entry in entries:
        topics = _topics(entry)
        if len(topics) != 2:
            raise EventDecodeError(f"Refunded: expected 2 topics, got {len(topics)}")
        nonces.append(topics[1])
    return frozenset(nonces)


async def _security(
    reader: ChainReader, layout: Layout, blocks: Mapping[int, int], security_id: bytes, token: str | None,
    refunded: frozenset[int],
) -> SecurityFacts:  # fmt: skip
    registry, escrow = layout.registry_chain_id, layout.escrow
    b_r = blocks[registry]
    if token is None:
        token = str(await reader.call_at(registry, b_r, "BridgeEscrow", escrow, "tokenOf", security_id))
    token = to_checksum_address(token)
    # unlisted on the escrow (tokenOf = zero): nothing locked, no registry events; its wrapped side still counts
    locked, outs, releases = await asyncio.gather(
        reader.call_at(registry, b_r, "BridgeEscrow", escrow, "lockedBalance", token),
        _logs(reader, registry, escrow, [BRIDGE_OUT, None, _address_topic(token)], b_r),
        _logs(reader, registry, escrow, [RELEASED, None, None, _address_topic(token)], b_r),
    )
    bridge_outs = []
    for entry in outs:
        event = decode_log(registry, entry)
        if isinstance(event, BridgeOut) and event.token.lower() == token.lower():
            bridge_outs.append(BridgeOutFact(event.nonce, event.amount, event.dest_chain_id))
    release_facts = [ReleaseFact(*_amount_event(e)) for e in releases]
    nonces = {o.nonce for o in bridge_outs}
    sides = await asyncio.gather(
        *(_public_side(reader, layout, g, blocks[g.chain_id], security_id) for g in layout.gateways)
    )
    return SecurityFacts(
        security_id, token, int(locked), tuple(w for w, _m, _b in sides), tuple(bridge_outs),
        refunded & nonces,
        tuple(m for _w, ms, _b in sides for m in ms), tuple(b for _w, _m, bs in sides for b in bs),
        tuple(release_facts),
    )  # fmt: skip


async def _public_side(
    reader: ChainReader, layout: Layout, gateway: GatewayRef, block: int, security_id: bytes
) -> tuple[WrappedFact, list[MintFact], list[BridgeBackFact]]:
    chain = gateway.chain_id
    wrapped = to_checksum_address(
        str(await reader.call_at(chain, block, "BridgeGateway", gateway.gateway, "wrappedToken", security_id))
    )
    if wrapped == to_checksum_address(ZERO_ADDRESS):
        return WrappedFact(chain, wrapped, 0), [], []
    supply, mints, backs = await asyncio.gather(
        reader.call_at(chain, block, "WrappedSecurity", wrapped, "totalSupply"),
        _logs(reader, chain, gateway.gateway,
              [MINTED, _uint_topic(layout.registry_chain_id), None, _address_topic(wrapped)], block),
        _logs(reader, chain, gateway.gateway, [BRIDGE_BACK, None, _address_topic(wrapped)], block),
    )  # fmt: skip
    mint_facts = []
    for entry in mints:
        source_chain, nonce, amount = _amount_event(entry)
        if source_chain == layout.registry_chain_id:
            mint_facts.append(MintFact(chain, nonce, amount))
    back_facts = []
    for entry in backs:
        event = decode_log(chain, entry)
        if isinstance(event, BridgeBack) and event.token.lower() == wrapped.lower():
            back_facts.append(BridgeBackFact(chain, event.nonce, event.amount))
    return WrappedFact(chain, wrapped, int(supply)), mint_facts, back_facts


async def facts_at(
    layout: Layout, reader: ChainReader, securities: Sequence[tuple[bytes, str | None]], blocks: Mapping[int, int]
) -> Facts:
    """The facts of ``securities`` (security id, registry token; None: the escrow's ``tokenOf``) at ``blocks``
    (exactly the layout's chains). `BadBlocks` when the blocks do not fit the layout or do not exist."""
    expected = set(layout.confirmations())
    if set(blocks) != expected:
        raise BadBlocks(f"blocks are for chains {sorted(blocks)}, expected {sorted(expected)}")
    hashes = await asyncio.gather(*(reader.block_hash(c, b) for c, b in blocks.items()))
    missing = [c for c, h in zip(blocks, hashes, strict=True) if h is None]
    if missing:
        raise BadBlocks(f"no block {[blocks[c] for c in missing]} on chains {missing}")
    refunded = await _refunded(reader, layout, blocks[layout.registry_chain_id])
    found = await asyncio.gather(
        *(_security(reader, layout, blocks, sid, token, refunded) for sid, token in securities)
    )
    return Facts(
        layout.registry_chain_id, to_checksum_address(layout.escrow), dict(blocks),
        {c: str(h).lower() for c, h in zip(blocks, hashes, strict=True)}, tuple(found),
    )  # fmt: skip


async def finalized_blocks(layout: Layout, reader: ChainReader) -> dict[int, int]:
    """Each chain's finalized block (head - confirmations). The public chains are read first: a mint final
    there was authorized by a bridge-out already final on the registry, so it falls within B_r."""
    public = await asyncio.gather(*(reader.head(g.chain_id) for g in layout.gateways))
    registry = await reader.head(layout.registry_chain_id)
    blocks = {g.chain_id: max(h - g.confirmations, 0) for g, h in zip(layout.gateways, public, strict=True)}
    return {layout.registry_chain_id: max(registry - layout.registry_confirmations, 0)} | blocks


async def require_final(layout: Layout, reader: ChainReader, blocks: Mapping[int, int]) -> None:
    """`BadBlocks` unless ``blocks`` name exactly the layout's chains; `BlocksNotFinal` unless each is final
    for ``reader`` (its head minus the chain's confirmations)."""
    confirmations = layout.confirmations()
    if set(blocks) != set(confirmations):
        raise BadBlocks(f"blocks are for chains {sorted(blocks)}, expected {sorted(confirmations)}")
    chains = sorted(blocks)
    heads = await asyncio.gather(*(reader.head(c) for c in chains))
    for chain, head in zip(chains, heads, strict=True):
        if blocks[chain] < 0 or head - blocks[chain] < confirmations[chain]:
            raise BlocksNotFinal(
                f"block {blocks[chain]} on chain {chain} is not final "
                f"(head {head}, {confirmations[chain]} confirmations)"
            )


async def observe(
    layout: Layout, reader: ChainReader, securities: Sequence[tuple[bytes, str | None]], *,
    attempts: int = OBSERVE_ATTEMPTS,
) -> tuple[Facts, list[SecurityReconciliation]]:  # fmt: skip
    """Facts and reconciliations at the current finalized blocks. A mint or release seen without its source
    event can be a race between the head reads (a release landing between them); the blocks are then read
    afresh, a bounded number of times, before the finding stands."""
    while True:
        attempts -= 1
        facts = await facts_at(layout, reader, securities, await finalized_blocks(layout, reader))
        found = compute(facts)
        racy = any(a.finding in TIMING_FINDINGS for r in found for a in r.anomalies)
        if not racy or attempts <= 0:
            return facts, found
        log.info("unmatched mint or release; reading fresh blocks", blocks=dict(facts.blocks))


async def recompute(
    layout: Layout, reader: ChainReader, security_id: bytes, blocks: Mapping[int, int]
) -> SecurityReconciliation:
    """The attestor's own computation of ``security_id`` at ``blocks`` (each must be final for it); the
    registry token is the escrow's ``tokenOf`` at the registry block."""
    await require_final(layout, reader, blocks)
    [found] = compute(await facts_at(layout, reader, [(security_id, None)], blocks))
    return found


# --- the run: attest, log, store, measure, pause ---------------------------------------------------------


@dataclass(frozen=True)
class ReportOutcome:
    """One security's reconciliation, its statement and, when signed, its attestation (or why not)."""

    reconciliation: SecurityReconciliation
    report: ReconciliationReport
    attestation: Attestation | None = None
    error: str | None = None


@dataclass(frozen=True)
class PauseOutcome:
    chain_id: int
    tx_hash: str | None = None  # None: already paused, or failed (``error``)
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


def context_of(blocks: Mapping[int, int]) -> dict[str, Any]:
    """The ``context`` of a sign request for a report at ``blocks``."""
    return {"blocks": {str(c): b for c, b in sorted(blocks.items())}}


def configured_securities(config: Config) -> list[tuple[bytes, str | None]]:
    found: list[tuple[bytes, str | None]] = [
        (bytes.fromhex(s.id[2:]), s.registry_token) for s in config.securities if s.registry_token
    ]
    if not found:
        raise ConfigError("securities", ["no security has a registry_token: nothing to reconcile"])
    return found


def _reader(config: Config, artifacts: Artifacts) -> RpcChainView:
    # Imported here: the attestor's checks import this module. Plain JSON-RPC, eth_call at a block number.
    from relayer.attestor.rpc import RpcChainView

    return RpcChainView({c.chain_id: c.rpc_url for c in (config.registry, *config.public)}, artifacts)


async def _attest(
    config: Config, layout: Layout, statement: ReconciliationReport, blocks: Mapping[int, int]
) -> Attestation:
    for attempt in range(ATTEST_ATTEMPTS):
        try:
            signatures = await gather(
                statement, layout.domain, config.attestors, config.trust.threshold, context=context_of(blocks)
            )
            return Attestation(statement, layout.domain, tuple(signatures))
        except NotYetAttested:
            if attempt + 1 >= ATTEST_ATTEMPTS:
                raise
            await asyncio.sleep(ATTEST_RETRY_SECONDS)
    raise ReconcileError("no attempt made")  # pragma: no cover


async def pause_inbound(config: Config, artifacts: Artifacts) -> list[PauseOutcome]:
    """``setInboundPaused(true)`` on every public gateway not already paused, with the relayer's key (it
    needs PAUSER_ROLE there); one outcome per chain, failures included rather than raised."""
    if config.relayer is None:
        raise ConfigError("relayer.signer", ["pause_on_drift needs the relayer's key (a [relayer] section)"])
    signer: LocalAccount = Account.from_key(config.relayer.signer.read())
    decoder = RevertDecoder.from_artifacts(artifacts)
    outcomes = []
    for chain in config.public:
        try:
            async with ChainClient(chain.rpc_url, decoder) as client:
                gateway = client.contract(artifacts.get("BridgeGateway"), chain.contracts["gateway"])
                if await client.call(gateway.functions.inboundPaused()):
                    outcomes.append(PauseOutcome(chain.chain_id))
                    continue
                receipt = await client.transact(gateway.functions.setInboundPaused(True), signer)
                outcomes.append(PauseOutcome(chain.chain_id, receipt["transactionHash"].to_0x_hex()))
                log.warning("inbound minting paused on drift", chain=chain.chain_id)
        except (DariError, OSError, TimeoutError) as exc:
            log.error("cannot pause inbound minting", chain=chain.chain_id, error=repr(exc))
            outcomes.append(PauseOutcome(chain.chain_id, error=str(exc) or type(exc).__name__))
    return outcomes


async def run_once(
    config: Config, engine: AsyncEngine | None, *, sign: bool = True, clock: Callable[[], float] = time.time
) -> Run:
    """One reconciliation of every configured security: observe at finalized blocks; unless ``sign`` is
    False, gather attestor signatures (they recompute the report at the same blocks), append each digest to
    the transparency log and store the attestation (``engine`` is then required, migrated); set the
    ``dari_reconciliation_difference`` gauge; pause inbound minting when imbalanced and
    ``[reconciliation] pause_on_drift`` is set."""
    layout = Layout.from_config(config)
    securities = configured_securities(config)
    artifacts = load_artifacts()
    reader = _reader(config, artifacts)
    try:
        facts, found = await observe(layout, reader, securities)
    finally:
        await reader.close()
    observed_at = int(clock())
    store = transparency = None
    if sign:
        if engine is None:
            raise ReconcileError("signing reports needs the database (to log and store them)")
        store, transparency = OperationStore(engine), TransparencyLog(SqlLogStorage(engine))
        await transparency.load()
    outcomes = []
    for r in found:
        statement = r.report(observed_at)
        metrics.RECONCILIATION.labels("0x" + r.security_id.hex()).set(r.difference)
        if not r.balanced:
            log.warning("imbalance", security="0x" + r.security_id.hex(), difference=r.difference,
                        blocks=dict(facts.blocks))  # fmt: skip
        if store is None or transparency is None:
            outcomes.append(ReportOutcome(r, statement))
            continue
        try:
            attestation = await _attest(config, layout, statement, facts.blocks)
        except (NotYetAttested, AttestationRefused) as exc:
            outcomes.append(ReportOutcome(r, statement, error=str(exc)))
            continue
        attestation = attestation.with_log_index(await transparency.append(attestation.digest))
        await store.save_attestation(attestation, None)
        outcomes.append(ReportOutcome(r, statement, attestation))
    paused: list[PauseOutcome] = []
    if config.reconciliation.pause_on_drift and not all(r.balanced for r in found):
        paused = await pause_inbound(config, artifacts)
    return Run(dict(facts.blocks), observed_at, tuple(outcomes), tuple(paused))


async def latest_reports(store: OperationStore) -> list[dict[str, Any]]:
    """The newest stored ``ReconciliationReport`` attestation per security (by observedAt, then registry
    block, then storage order), ordered by security id; for ``GET /v1/reconciliation/latest``."""
    latest: dict[str, tuple[tuple[int, int, int], dict[str, Any]]] = {}
    for position, document in enumerate(await store.documents(ReconciliationReport.KIND)):
        message = document["typedData"]["message"]
        key = (int(message["observedAt"]), int(message["registryBlock"]), position)
        security = str(message["securityId"]).lower()
        if security not in latest or key > latest[security][0]:
            latest[security] = (key, document)
    return [latest[s][1] for s in sorted(latest)]
