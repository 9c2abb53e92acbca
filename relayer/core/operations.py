"""Which operations a watched chain event starts, pure: a bridge-out, a bridge-back, a wallet link or
unlink is one operation; a KYC revocation or an agent's freeze (or unfreeze) is one operation per public
chain on which the investor has linked a wallet (the intake stage reads those wallets)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import assert_never

from relayer.core.config import SecurityConfig
from relayer.core.constants import ZERO_ADDRESS, RevokeReason
from relayer.core.events import (
    AddressFrozen,
    BridgeBack,
    BridgeOut,
    InvestorRevoked,
    LogRef,
    WalletLinked,
    WalletUnlinked,
)
from relayer.core.model import Operation, Source
from relayer.core.transfer_state import Kind, State

SingleEvent = BridgeOut | BridgeBack | WalletLinked | WalletUnlinked
"""The events that start one operation each."""
PerWalletEvent = InvestorRevoked | AddressFrozen
"""The events that start one operation per public chain on which the investor linked a wallet."""


def source_of(ref: LogRef) -> Source:
    return Source(ref.chain_id, ref.tx_hash, ref.block_number, ref.block_hash, ref.log_index)


def _position(registry_chain_id: int, ref: LogRef) -> str:
    return f"{registry_chain_id}-{ref.block_number}-{ref.log_index}"


def operation_for(event: SingleEvent, registry_chain_id: int, securities: Sequence[SecurityConfig]) -> Operation:
    """The one operation ``event`` starts."""
    source = source_of(event.ref)
    if isinstance(event, BridgeOut):
        token = event.token.lower()
        security = next((s for s in securities if (s.registry_token or "").lower() == token), None)
        return Operation(
            f"{registry_chain_id}-{event.nonce}", Kind.BRIDGE_OUT, State.OBSERVED, source, event.dest_chain_id,
            source_nonce=event.nonce, security_id=security.id.lower() if security else None, token=event.token,
            sender=event.sender, recipient=event.recipient, amount=event.amount,
        )  # fmt: skip
    if isinstance(event, BridgeBack):
        return Operation(
            f"{event.ref.chain_id}-{event.nonce}", Kind.BRIDGE_BACK, State.OBSERVED, source, registry_chain_id,
            source_nonce=event.nonce, token=event.token, sender=event.holder, recipient=event.registry_recipient,
            amount=event.amount,
        )  # fmt: skip
    position = _position(registry_chain_id, event.ref)
    if isinstance(event, WalletLinked):
        return Operation(
            f"link-{position}", Kind.HOLDER_REGISTER, State.OBSERVED, source, event.chain_id, sender=event.investor,
            recipient=event.wallet,
        )  # fmt: skip
    if isinstance(event, WalletUnlinked):
        return Operation(
            f"unlink-{position}", Kind.HOLDER_REVOKE, State.OBSERVED, source, event.chain_id, sender=event.investor,
            recipient=event.wallet, payload={"reason": RevokeReason.UNLINKED.value},
        )  # fmt: skip
    assert_never(event)


def per_wallet_operations(event: PerWalletEvent, registry_chain_id: int, wallets: Mapping[int, str]) -> list[Operation]:
    """The operations of a KYC revocation (revoke), a freeze (revoke) or an unfreeze (register again), one
    per public chain in ``wallets`` (chain id -> the investor's linked wallet there, the zero address for none)."""
    if isinstance(event, InvestorRevoked):
        label, kind, reason = "revoke", Kind.HOLDER_REVOKE, RevokeReason.KYC
    elif event.frozen:
        label, kind, reason = "freeze", Kind.HOLDER_REVOKE, RevokeReason.FROZEN
    else:
        label, kind, reason = "unfreeze", Kind.HOLDER_REGISTER, None
    position = _position(registry_chain_id, event.ref)
    payload = {} if reason is None else {"reason": reason.value}
    source = source_of(event.ref)
    found = []
    for chain_id, wallet in wallets.items():
        if wallet.lower() != ZERO_ADDRESS:
            found.append(Operation(
                f"{label}-{chain_id}-{position}", kind, State.OBSERVED, source, chain_id, sender=event.wallet,
                recipient=wallet, payload=dict(payload),
            ))  # fmt: skip
    return found
