"""The statement (and EIP-712 domain) that delivers each operation. Pure and deterministic: built only
from stored fields, so a retry after a crash asks the attestors to sign the very same digest."""

from __future__ import annotations

from typing import TypeVar

from attestations.eip712 import Domain
from attestations.kinds import (
    HolderEligibility,
    HolderRevocation,
    RefundAuthorization,
    ReleaseAuthorization,
    Statement,
    TransferAuthorization,
)
from relayer.core.config import Config
from relayer.core.constants import ZERO32, RevokeReason
from relayer.core.errors import DariError
from relayer.core.model import Operation
from relayer.core.transfer_state import Purpose, purpose

T = TypeVar("T")


class StatementError(DariError):
    """The operation lacks what its statement needs (a bug or a corrupted row)."""


def _bytes32(value: str | None, what: str) -> bytes:
    if value is None or len(value) != 66:
        raise StatementError(f"missing {what}")
    return bytes.fromhex(value[2:])


def _need(value: T | None, what: str) -> T:
    if value is None:
        raise StatementError(f"missing {what}")
    return value


def statement_for(op: Operation, config: Config) -> tuple[Statement, Domain]:
    """The statement attestors sign for ``op`` in its current state, and the contract that acts on it."""
    registry = config.registry
    delivery = purpose(op.kind, op.state)
    if delivery == Purpose.REFUND:
        return (
            RefundAuthorization(
                _need(op.source_nonce, "nonce"), _need(op.token, "token"), _need(op.sender, "sender"),
                _need(op.amount, "amount"), _need(op.reason_code, "reason code"),
            ),
            Domain(registry.chain_id, registry.contracts["escrow"]),
        )  # fmt: skip
    if delivery == Purpose.MINT:
        chain = config.chain(op.dest_chain_id)
        return (
            TransferAuthorization(
                op.source.chain_id, _need(op.source_nonce, "nonce"), _bytes32(op.security_id, "security id"),
                _need(op.sender, "sender"), _need(op.recipient, "recipient"), _need(op.amount, "amount"),
                op.locked_until or 0,
            ),
            Domain(chain.chain_id, chain.contracts["gateway"]),
        )  # fmt: skip
    if delivery == Purpose.RELEASE:
        return (
            ReleaseAuthorization(
                op.source.chain_id, _need(op.source_nonce, "nonce"), _bytes32(op.security_id, "security id"),
                _need(op.sender, "holder"), _need(op.recipient, "recipient"), _need(op.amount, "amount"),
            ),
            Domain(registry.chain_id, registry.contracts["escrow"]),
        )  # fmt: skip
    chain = config.chain(op.dest_chain_id)
    domain = Domain(chain.chain_id, chain.contracts["holderRegistry"])
    if delivery == Purpose.REGISTER:
        decided = op.decision or {}
        return (
            HolderEligibility(
                _bytes32(decided.get("holderId"), "holder id"), _need(op.recipient, "wallet"), chain.chain_id,
                int(decided["country"]), int(decided["investorClass"]), ZERO32,
                _bytes32(decided.get("rulePackHash"), "rule pack hash"), int(decided["validFrom"]),
                int(decided["validUntil"]),
            ),
            domain,
        )  # fmt: skip
    return (
        HolderRevocation(
            _need(op.recipient, "wallet"), chain.chain_id, int(op.payload.get("reason", RevokeReason.KYC)),
            int(op.payload["issuedAt"]),
        ),
        domain,
    )  # fmt: skip
