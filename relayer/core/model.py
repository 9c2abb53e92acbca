"""The operations the relayer carries out, as plain data: where each came from (`Source`), what it is
(`Operation`, one row of the store) and one state change to apply to it (`Move`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from relayer.core.errors import DariError
from relayer.core.transfer_state import Event, Kind, State


class UnknownOperation(DariError):
    """No operation has this id."""


class StaleState(DariError):
    """The operation moved on since it was read (another worker or process acted first)."""


@dataclass(frozen=True)
class Source:
    """Where an operation's triggering event happened."""

    chain_id: int
    tx_hash: str
    block_number: int
    block_hash: str
    log_index: int


@dataclass(frozen=True)
class Operation:
    id: str
    kind: Kind
    state: State
    source: Source
    dest_chain_id: int
    source_nonce: int | None = None
    security_id: str | None = None
    token: str | None = None
    sender: str | None = None
    recipient: str | None = None
    amount: int | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    decision: dict[str, Any] | None = None
    reason: str | None = None
    reason_code: int | None = None
    locked_until: int | None = None
    attestation: str | None = None
    dest_tx_hash: str | None = None
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind.value,
            "state": self.state.value,
            "sourceChainId": self.source.chain_id,
            "sourceNonce": self.source_nonce,
            "destChainId": self.dest_chain_id,
            "securityId": self.security_id,
            "token": self.token,
            "sender": self.sender,
            "recipient": self.recipient,
            "amount": None if self.amount is None else str(self.amount),
            "sourceTxHash": self.source.tx_hash,
            "sourceBlock": self.source.block_number,
            "sourceLogIndex": self.source.log_index,
            "destTxHash": self.dest_tx_hash,
            "reason": self.reason,
            "reasonCode": self.reason_code,
            "lockedUntil": self.locked_until,
            "decision": self.decision,
            "kycClaim": self.payload.get("claim"),  # the digest of the KYC claim the decision rests on
            "operatorDecision": self.payload.get("decision"),  # the digest of an officer's signed decision
            "attempts": self.attempts,
            "nextAttemptAt": self.next_attempt_at.isoformat() if self.next_attempt_at else None,
            "lastError": self.last_error,
            "createdAt": self.created_at.isoformat() if self.created_at else None,
            "updatedAt": self.updated_at.isoformat() if self.updated_at else None,
            "payload": self.payload,
        }


UPDATABLE = frozenset({
    "decision", "reason", "reason_code", "locked_until", "attestation", "dest_tx_hash", "attempts",
    "next_attempt_at", "last_error", "payload", "recipient", "security_id",
})  # fmt: skip
"""The columns a state change or a bookkeeping update may set (the others are the event's own)."""


@dataclass(frozen=True)
class Move:
    """One state change: ``event`` applied to ``op`` as it was read, setting ``fields`` (of `UPDATABLE`)."""

    op: Operation
    event: Event
    detail: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
