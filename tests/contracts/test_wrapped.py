"""WrappedSecurity: ERC-3643 views and the compliance checks of every transfer."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account.signers.local import LocalAccount

from relayer.edges.evm.client import ContractReverted
from tests.contracts.system import EQUITY, System

pytestmark = pytest.mark.integration


async def holder(system: System, units: int = 0, nonce: int = 0, **eligibility: Any) -> LocalAccount:
    account = await system.funded_account()
    await system.register_holder(account.address, **eligibility)
    if units:
        await system.mint(account.address, units, nonce)
    return account


async def expect_transfer_revert(system: System, sender: LocalAccount, to: str, amount: int, error: str) -> None:
    token = system.wrapped()
    ok, reason = await system.chain.call(token.functions.canTransfer(sender.address, to, amount))
    assert not ok
    with pytest.raises(ContractReverted) as info:
        await system.transact(token.functions.transfer(to, amount), sender)
    assert info.value.error == error, info.value
    assert reason == _selector(system, error)


def _selector(system: System, error: str) -> bytes:
    for selector, entry in system.artifacts.error_abis().items():
        if entry["name"] == error:
            return selector
    raise KeyError(error)


async def test_erc3643_views(system: System) -> None:
    """INV-004: the token names its identity registry and compliance, and mirrors the registry token."""
    token = system.wrapped()
    assert await system.chain.call(token.functions.securityId()) == EQUITY.security_id
    assert await system.chain.call(token.functions.identityRegistry()) == system.public.holder_registry
    assert await system.chain.call(token.functions.compliance()) == token.address
    assert await system.chain.call(token.functions.decimals()) == EQUITY.decimals
    assert not await system.chain.call(token.functions.paused())
    assert not await system.chain.call(token.functions.isFrozen(system.admin.address))
    assert await system.chain.call(token.functions.getFrozenTokens(system.admin.address)) == 0


async def test_transfer_between_verified_holders(system: System) -> None:
    """INV-004: verified to verified moves units and counts holders."""
    alice = await holder(system, 10, 1)
    bob = await holder(system)
    token = system.wrapped()
    assert list(await system.chain.call(token.functions.canTransfer(alice.address, bob.address, 4))) == [
        True,
        b"\0" * 4,
    ]
    await system.transact(token.functions.transfer(bob.address, 4), alice)
    assert await system.chain.call(token.functions.balanceOf(bob.address)) == 4
    assert await system.chain.call(token.functions.holderCount()) == 2


async def test_transfer_to_unverified_reverts(system: System) -> None:
    """INV-004: an address without an entry cannot receive a transfer."""
    alice = await holder(system, 10, 1)
    stranger = await system.funded_account()
    await expect_transfer_revert(system, alice, stranger.address, 1, "TransferToUnverified")


async def test_transfer_from_revoked_or_expired_holder_reverts(system: System) -> None:
    """INV-004: a holder whose entry expired can no longer send."""
    alice = await holder(system, 10, 1, validUntil=await system.now() + 100)
    bob = await holder(system)
    await system.advance(101)
    await expect_transfer_revert(system, alice, bob.address, 1, "TransferFromUnverified")


async def test_frozen_holder_and_frozen_units(system: System) -> None:
    """INV-005: frozen addresses do not send or receive; frozen units do not move."""
    alice = await holder(system, 10, 1)
    bob = await holder(system)
    token = system.wrapped()
    await system.transact(token.functions.setAddressFrozen(alice.address, True))
    await expect_transfer_revert(system, alice, bob.address, 1, "TransferFrozen")
    await system.transact(token.functions.setAddressFrozen(alice.address, False))
    await system.transact(token.functions.setAddressFrozen(bob.address, True))
    await expect_transfer_revert(system, alice, bob.address, 1, "TransferFrozen")
    await system.transact(token.functions.setAddressFrozen(bob.address, False))
    await system.transact(token.functions.freezePartialTokens(alice.address, 8))
    await expect_transfer_revert(system, alice, bob.address, 3, "TransferExceedsUnfrozen")
    await system.transact(token.functions.transfer(bob.address, 2), alice)


async def test_lockup_blocks_transfers_until_it_ends(system: System) -> None:
    """INV-005: a holder minted with a lock-up (Rule 144 / Reg S) cannot transfer before it ends."""
    alice = await holder(system)
    bob = await holder(system)
    until = await system.now() + 1000
    await system.mint(alice.address, 10, 1, lockedUntil=until)
    token = system.wrapped()
    assert await system.chain.call(token.functions.lockedUntil(alice.address)) == until
    await expect_transfer_revert(system, alice, bob.address, 1, "LockupActive")
    await system.mint(alice.address, 1, 2, lockedUntil=0)  # a later mint never shortens the lock-up
    assert await system.chain.call(token.functions.lockedUntil(alice.address)) == until
    await system.advance(1001)
    await system.transact(token.functions.transfer(bob.address, 1), alice)


async def test_holder_cap(system: System) -> None:
    """INV-005: the holder count never exceeds the cap; moving a whole balance to a new holder is allowed."""
    token = system.wrapped()
    await system.transact(token.functions.setMaxHolders(2))
    alice = await holder(system, 10, 1)
    bob = await holder(system, 10, 2)
    carol = await holder(system)
    with pytest.raises(ContractReverted) as info:
        await system.mint(carol.address, 1, 3)
    assert info.value.error == "HolderCapReached"
    await expect_transfer_revert(system, alice, carol.address, 5, "HolderCapReached")
    await system.transact(token.functions.transfer(carol.address, 10), alice)  # alice leaves, carol joins
    assert await system.chain.call(token.functions.holderCount()) == 2
    await system.transact(token.functions.transfer(carol.address, 10), bob)
    assert await system.chain.call(token.functions.holderCount()) == 1


async def test_paused_token_blocks_transfers(system: System) -> None:
    """INV-005: nothing moves between holders while the token is paused."""
    alice = await holder(system, 10, 1)
    bob = await holder(system)
    token = system.wrapped()
    await system.transact(token.functions.pause())
    await expect_transfer_revert(system, alice, bob.address, 1, "EnforcedPause")
    await system.transact(token.functions.unpause())
    await system.transact(token.functions.transfer(bob.address, 1), alice)
