"""The ports: what the pipeline (and the attestor) need from the world, as small Protocols. The edges
(`relayer.edges`) implement them over JSON-RPC, SQL and HTTP; the unit tests over memory.

Errors a port raises carry their `relayer.core.errors.Failure`: transient (`RpcUnavailable`, a database
hiccup), refused (a revert, `AttestationRefused`) or fatal (`ReorgTooDeep`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from attestations.attestation import Attestation, AttestorSignature
from attestations.eip712 import Domain
from attestations.kinds import Statement
from relayer.core.disposition import Receipt
from relayer.core.errors import AttestationRefused, NotYetAttested
from relayer.core.events import LogRef
from relayer.core.finality import Poll, Record
from relayer.core.model import Move, Operation
from relayer.core.records import HolderEntry, Investor
from relayer.core.transfer_state import Event, Kind, OperatorAction, Purpose, State

Clock = Callable[[], float]
"""Seconds since the epoch (``time.time``; tests pass a fixed one)."""
Block = int | Literal["latest"]
Delivery = tuple[Operation, Attestation]
Gathered = list[AttestorSignature] | AttestationRefused | NotYetAttested


class OperationStore(Protocol):
    """The persisted operations, their history and their attestations. Every state change is optimistic:
    it applies only to the row still in the state it was read in (`StaleState` otherwise)."""

    async def observe_many(self, ops: Sequence[Operation]) -> list[bool]:
        """Records newly seen operations (observed), re-observes dropped ones; per op, whether it was new."""
        ...

    async def get(self, operation_id: str) -> Operation:
        """The operation; `UnknownOperation` when there is none."""
        ...

    async def transition(
        self, operation_id: str, event: Event, *, expect: State | None = None, detail: str | None = None, **fields: Any
    ) -> Operation:
        """Applies ``event`` (and sets ``fields``) to one operation; `StaleState` when its row moved on."""
        ...

    async def transition_many(self, moves: Sequence[Move]) -> list[bool]:
        """Applies each move to its operation as it was read, in one transaction; per move, whether it applied."""
        ...

    async def update_many(self, updates: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """Sets bookkeeping columns (attempts, schedule, errors) without a state change."""
        ...

    async def due(
        self,
        states: Iterable[State],
        *,
        limit: int = 500,
        now: datetime | None = None,
        dest_chain_id: int | None = None,
        source_chain_id: int | None = None,
        tx_hashes: Iterable[str] | None = None,
        exclude: Iterable[str] = (),
        kind: Kind | None = None,
    ) -> list[Operation]:
        """Operations in ``states`` whose next attempt is due, oldest (by source position) first."""
        ...

    async def tx_hashes(self, states: Iterable[State], *, dest_chain_id: int | None = None) -> set[str]:
        """The delivering transactions of the operations in ``states``."""
        ...

    async def find(
        self, *, state: State | None = None, kind: Kind | None = None, limit: int = 100, offset: int = 0
    ) -> list[Operation]: ...

    async def overdue(self, created_before: datetime) -> list[Operation]:
        """Operations created before ``created_before`` that are not final."""
        ...

    async def counts(self) -> dict[tuple[str, str], int]:
        """Operations by (kind, state)."""
        ...

    async def history(self, operation_id: str) -> list[dict[str, Any]]: ...

    async def save_attestation(self, attestation: Attestation, operation_id: str | None) -> None: ...

    async def save_attestations(self, pairs: Sequence[tuple[Attestation, str | None]]) -> None: ...

    async def attestation(self, digest: str) -> dict[str, Any] | None: ...

    async def attestations(self, digests: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Stored attestation documents by digest (lower-case hex); absent ones omitted."""
        ...

    async def documents(self, kind: str) -> list[dict[str, Any]]:
        """Every stored attestation of ``kind``, oldest first."""
        ...

    async def attestations_of(self, operation_id: str) -> list[str]: ...


class ChainWatcher(Protocol):
    """One chain's events, read from a persisted cursor (`relayer.edges.chain.watcher`)."""

    async def poll(self, record: Record | None = None) -> Poll:
        """The next range of blocks; ``record`` takes the new events before the cursor moves past them."""
        ...

    async def finality(self, refs: Sequence[LogRef], head: int) -> list[bool | None]:
        """Per event: True final, False reorged out, None not deep enough yet."""
        ...


class ChainReads(Protocol):
    """Raw reads of any configured chain, as the attestors and reconciliation make them."""

    async def head(self, chain_id: int) -> int:
        """The latest block number."""
        ...

    async def block_hash(self, chain_id: int, number: int) -> str | None:
        """The canonical block hash at ``number`` (0x-hex, lower case), None when there is none."""
        ...

    async def block_time(self, chain_id: int, number: int) -> int | None:
        """The timestamp of the canonical block at ``number`` (Unix seconds), None when there is none."""
        ...

    async def logs(
        self, chain_id: int, address: str, topics: Sequence[str | Sequence[str] | None], to_block: int
    ) -> list[Mapping[str, Any]]:
        """Raw ``eth_getLogs`` entries of ``address`` matching ``topics`` (a list at a position: any of
        them) from genesis to ``to_block``."""
        ...

    async def call(
        self, chain_id: int, contract: str, address: str, function: str, *args: Any, block: int | None = None
    ) -> Any:
        """A view of compiled contract ``contract`` at ``address`` in the state of ``block`` (None: latest);
        one output bare, several as a tuple; `ContractReverted` when it reverts or there is no contract."""
        ...


class ContractReads(Protocol):
    """The contract views the relayer's stages read, as typed answers (`relayer.edges.evm.views`)."""

    def fresh(self) -> ContractReads:
        """Reads as of one pass: each distinct read made once, shared by every decision of the pass."""
        ...

    async def block_time(self, chain_id: int, number: int) -> int:
        """The timestamp of block ``number`` of ``chain_id``: the time a decision about an event there is made at
        (every decider reaches the same decision, whatever its clock)."""
        ...

    async def linked_wallet(self, investor: str, chain_id: int) -> str:
        """WalletLinks: the investor's wallet on ``chain_id`` (checksummed; the zero address: none)."""
        ...

    async def investor(self, investor: str) -> Investor:
        """InvestorRegistry: the registry's record of ``investor``."""
        ...

    async def claim_anchor(self, investor_id: bytes) -> bytes:
        """InvestorRegistry.claimOf: the digest of the KYC claim the registry anchors for ``investor_id``
        (zero: none)."""
        ...

    async def linker(self, chain_id: int, wallet: str) -> str | None:
        """The investor of the latest ``WalletLinks.WalletLinkRequested`` naming ``wallet`` on ``chain_id``
        (checksummed), None when none did."""
        ...

    async def registry_verified(self, account: str) -> bool:
        """InvestorRegistry.isVerified(account)."""
        ...

    async def frozen(self, investor: str) -> bool:
        """Whether an agent froze ``investor`` on any bridged security's registry token."""
        ...

    async def holder(self, chain_id: int, wallet: str) -> HolderEntry:
        """HolderRegistry.holder(wallet) on public chain ``chain_id``."""
        ...

    async def eligible(self, chain_id: int, wallet: str, security_id: bytes) -> bool:
        """HolderRegistry.isEligible(wallet, securityId) on public chain ``chain_id``."""
        ...

    async def wrapped_security_id(self, chain_id: int, token: str) -> bytes:
        """WrappedSecurity.securityId() of ``token`` on public chain ``chain_id``."""
        ...


class Submitter(Protocol):
    """Delivers attested operations on one destination chain (`relayer.edges.chain.submitter`)."""

    @property
    def chain_id(self) -> int: ...

    @property
    def confirmations(self) -> int: ...

    async def in_flight(self) -> set[str]:
        """Operation ids inside pending submissions (never resent while their transaction may mine)."""
        ...

    async def delivered_many(self, deliveries: Sequence[Delivery], block: Block = "latest") -> list[bool]:
        """Whether the chain's state at ``block`` shows each delivery done (by us or anyone)."""
        ...

    async def send(self, deliveries: Sequence[Delivery], purpose: Purpose) -> str:
        """Records and broadcasts the transaction delivering ``deliveries``; its hash; `DeliveryRefused`
        when the destination contract would revert."""
        ...

    async def head(self) -> int: ...

    async def receipts(self, hashes: Iterable[str]) -> dict[str, Receipt]: ...

    async def settled(self, receipts: Iterable[Receipt], head: int) -> dict[str, bool | None]:
        """Per mined, successful receipt: True final at ``head``, None shallower, False no longer canonical."""
        ...

    async def settle_pending(self, stuck_after: float) -> None:
        """Resolves the recorded submissions (mined, failed, replaced, reorged; stuck ones re-priced)."""
        ...


class Attestors(Protocol):
    """The attestor committee as the relayer reaches it (`relayer.edges.attestor_client`)."""

    async def gather_many(
        self, requests: Sequence[tuple[Statement, Domain]], contexts: Sequence[Mapping[str, Any] | None] = ()
    ) -> list[Gathered]:
        """Per statement: threshold verified signatures, `AttestationRefused` or `NotYetAttested`; ``contexts``
        (one per request, or none): the signed statements each request shows (``{"claim", "decision"}``)."""
        ...

    async def gather(
        self, statement: Statement, domain: Domain, *, context: Mapping[str, Any] | None = None
    ) -> list[AttestorSignature]:
        """Threshold verified signatures of one statement; raises `AttestationRefused` or `NotYetAttested`."""
        ...


class AttestationLog(Protocol):
    """The transparency log the attestations' digests are appended to (`attestations.log.TransparencyLog`)."""

    async def append(self, entry: bytes) -> int: ...

    async def append_many(self, entries: Sequence[bytes]) -> list[int]: ...


class Leadership(Protocol):
    """The leadership lease of several relayers on one database (`relayer.edges.db.lease`)."""

    @property
    def owner(self) -> str: ...

    @property
    def seconds(self) -> float: ...

    async def acquire(self) -> bool:
        """Takes or renews the lease; False while another live owner holds it."""
        ...

    async def release(self) -> None:
        """Gives the lease up (a standby may take it at once)."""
        ...


@dataclass(frozen=True)
class PauseOutcome:
    """One gateway's inbound pause on drift: its transaction, or None (already paused, or ``error``)."""

    chain_id: int
    tx_hash: str | None = None
    error: str | None = None


class OperatorActions(Protocol):
    """An operator's action on one operation (`relayer.pipeline.operator.Operator`)."""

    async def __call__(
        self, operation_id: str, action: OperatorAction, decision: Attestation | None = None
    ) -> Operation:
        """The operation after ``action`` (approve and reject: with an officer's signed ``decision``);
        `UnknownOperation`, or `OperatorRefused` when it does not apply."""
        ...


class Pauser(Protocol):
    """The public gateways' pauses, set with the relayer's key (it holds PAUSER_ROLE there)."""

    async def pause(self, direction: str, paused: bool, chain_id: int | None = None) -> list[str]:
        """Sets ``direction`` (inbound: minting, outbound: bridge-back) on the gateway of ``chain_id`` (None:
        every public chain); the transaction hashes."""
        ...

    async def pause_inbound(self) -> list[PauseOutcome]:
        """Pauses minting on every public gateway not already paused; a failure is reported, not raised."""
        ...
