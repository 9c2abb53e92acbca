"""What contract views answer, as typed records. A struct's record has its fields in the struct's order
and names (in snake case: ``tests/core/test_records.py`` checks them against the compiled ABI), and is made
from the decoded tuple once, at the edge (`relayer.edges.evm.views`), by `from_answer`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any, Self

from eth_utils.address import to_checksum_address

from relayer.core.constants import ZERO32, EscrowStatus
from relayer.core.errors import DariError


class MalformedAnswer(DariError):
    """A view answered something that is not the struct its record describes."""


def _values(kind: type[Any], answer: Any) -> Sequence[Any]:
    if not isinstance(answer, tuple | list) or len(answer) != len(fields(kind)):
        raise MalformedAnswer(f"{kind.__name__}: expected {len(fields(kind))} fields, got {answer!r}")
    return answer


@dataclass(frozen=True)
class HolderEntry:
    """HolderRegistry.holder(wallet): the wallet's entry on a public chain (all zero: never registered)."""

    holder_id: bytes
    country: int
    investor_class: int
    revoked: bool
    valid_until: int
    updated_at: int  # the issue time of the last statement applied to the wallet
    scope: bytes
    attestation: bytes  # the digest of that statement

    @classmethod
    def from_answer(cls, answer: Any) -> Self:
        """HolderRegistry.Holder as decoded."""
        holder_id, country, investor_class, revoked, valid_until, updated_at, scope, attestation = _values(cls, answer)
        try:
            return cls(
                bytes(holder_id), int(country), int(investor_class), bool(revoked), int(valid_until),
                int(updated_at), bytes(scope), bytes(attestation),
            )  # fmt: skip
        except (ValueError, TypeError) as exc:
            raise MalformedAnswer(f"{cls.__name__}: {exc}") from None

    @property
    def registered(self) -> bool:
        """Whether the wallet has a live entry (registered once and not revoked since)."""
        return self.holder_id != ZERO32 and not self.revoked


@dataclass(frozen=True)
class EscrowRequest:
    """BridgeEscrow.request(nonce): a bridge-out as the escrow keeps it."""

    token: str
    status: EscrowStatus
    sender: str
    amount: int

    @classmethod
    def from_answer(cls, answer: Any) -> Self:
        """BridgeEscrow.Request as decoded."""
        token, status, sender, amount = _values(cls, answer)
        try:
            return cls(to_checksum_address(token), EscrowStatus(status), to_checksum_address(sender), int(amount))
        except (ValueError, TypeError) as exc:
            raise MalformedAnswer(f"{cls.__name__}: {exc}") from None


@dataclass(frozen=True)
class Investor:
    """What the registry's InvestorRegistry says of one investor address."""

    investor_id: bytes
    verified: bool
    country: int  # ISO 3166-1 numeric
    investor_class: int
    kyc_expiry: int
