"""SecurityToken on anvil: units move only between verified investors, freezes and pause hold, agents
alone issue, freeze and force transfers, and the ERC-3643 views answer."""

from __future__ import annotations

from collections.abc import Awaitable

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.address import is_address, to_checksum_address
from eth_utils.crypto import keccak

from relayer.edges.evm.client import ContractReverted
from tests.contracts.system import BOND, EQUITY, System, events

pytestmark = pytest.mark.integration

AGENT_ROLE = keccak(text="AGENT_ROLE")
DEFAULT_ADMIN_ROLE = b"\0" * 32


async def reverted(action: Awaitable[object]) -> ContractReverted:
    """The revert ``action`` raises, its address arguments checksummed."""
    with pytest.raises(ContractReverted) as info:
        await action
    error = info.value
    error.args_ = tuple(to_checksum_address(a) if isinstance(a, str) and is_address(a) else a for a in error.args_)
    return error


async def balance(system: System, holder: str) -> int:
    return int(await system.chain.call(system.token().functions.balanceOf(holder)))


async def send(system: System, sender: LocalAccount, to: str, amount: int) -> None:
    await system.transact(system.token().functions.transfer(to, amount), sender)


async def test_erc3643_views(system: System) -> None:
    """INV-011: the token names its security and the identity registry that decides who may hold it."""
    for spec in (EQUITY, BOND):
        token = system.token(spec)
        assert await system.chain.call(token.functions.securityId()) == spec.security_id
        assert await system.chain.call(token.functions.identityRegistry()) == system.registry.investor_registry
        assert await system.chain.call(token.functions.decimals()) == spec.decimals
        assert await system.chain.call(token.functions.name()) == spec.name
        assert await system.chain.call(token.functions.symbol()) == spec.symbol
        assert await system.chain.call(token.functions.escrow()) == system.registry.escrow
        assert await system.chain.call(token.functions.paused()) is False
    holder = await system.investor(units=10)
    token = system.token()
    assert await system.chain.call(token.functions.isFrozen(holder.address)) is False
    assert await system.chain.call(token.functions.getFrozenTokens(holder.address)) == 0
    await system.transact(token.functions.setAddressFrozen(holder.address, True))
    await system.transact(token.functions.freezePartialTokens(holder.address, 4))
    await system.transact(token.functions.pause())
    assert await system.chain.call(token.functions.isFrozen(holder.address)) is True
    assert await system.chain.call(token.functions.getFrozenTokens(holder.address)) == 4
    assert await system.chain.call(token.functions.paused()) is True


async def test_transfer_between_verified_investors(system: System) -> None:
    """INV-011: a verified investor pays another verified investor."""
    alice = await system.investor(units=10)
    bob = await system.investor(country=840)
    receipt = await system.transact(system.token().functions.transfer(bob.address, 4), alice)
    [event] = events(system.token(), "Transfer", receipt)
    assert event == {"from": alice.address, "to": bob.address, "value": 4}
    assert await balance(system, alice.address) == 6
    assert await balance(system, bob.address) == 4


async def test_transfer_from_by_spender_between_verified_investors(system: System) -> None:
    """INV-011: an approved spender (itself unregistered) moves units between verified investors only."""
    alice = await system.investor(units=10)
    bob = await system.investor()
    spender = await system.funded_account()
    token = system.token()
    await system.transact(token.functions.approve(spender.address, 10), alice)
    await system.transact(token.functions.transferFrom(alice.address, bob.address, 3), spender)
    assert await balance(system, bob.address) == 3
    error = await reverted(system.transact(token.functions.transferFrom(alice.address, spender.address, 3), spender))
    assert (error.error, error.args_) == ("TransferToUnverified", (spender.address,))


@pytest.mark.parametrize("recipient_state", ["unknown", "revoked", "kyc-expired"])
async def test_transfer_to_unverified_reverts(system: System, recipient_state: str) -> None:
    """INV-011: units never reach an address without valid KYC (unknown, revoked or expired)."""
    alice = await system.investor(units=10)
    if recipient_state == "unknown":
        to = Account.create().address
    else:
        to = (await system.investor()).address
        if recipient_state == "revoked":
            await system.transact(system.investors.functions.revokeInvestor(to))
        else:
            # the recipient's KYC lapses; re-register alice so that only the recipient is unverified
            await system.advance(366 * 24 * 3600)
            expiry = await system.now() + 3600
            investor_id = keccak(text=f"investor/{alice.address}")
            await system.transact(
                system.investors.functions.registerInvestor(alice.address, investor_id, 410, 1, expiry)
            )
    error = await reverted(send(system, alice, to, 1))
    assert (error.error, error.args_) == ("TransferToUnverified", (to,))
    assert await balance(system, alice.address) == 10


async def test_mint_to_unverified_reverts(system: System) -> None:
    """INV-011: units are not even issued to an unverified address."""
    stranger = Account.create().address
    error = await reverted(system.transact(system.token().functions.mint(stranger, 1)))
    assert (error.error, error.args_) == ("TransferToUnverified", (stranger,))


async def test_transfer_from_revoked_investor_reverts(system: System) -> None:
    """INV-011: a revoked investor's units are stuck until an agent acts."""
    alice = await system.investor(units=10)
    bob = await system.investor()
    await system.transact(system.investors.functions.revokeInvestor(alice.address))
    error = await reverted(send(system, alice, bob.address, 1))
    assert (error.error, error.args_) == ("TransferFromUnverified", (alice.address,))
    assert await balance(system, alice.address) == 10


async def test_frozen_sender_or_recipient_reverts(system: System) -> None:
    """INV-005: a frozen address neither sends nor receives; unfreezing restores both."""
    alice = await system.investor(units=10)
    bob = await system.investor(units=10)
    token = system.token()
    receipt = await system.transact(token.functions.setAddressFrozen(alice.address, True))
    [event] = events(token, "AddressFrozen", receipt)
    assert event == {"wallet": alice.address, "frozen": True, "agent": system.admin.address}

    error = await reverted(send(system, alice, bob.address, 1))
    assert (error.error, error.args_) == ("TransferFrozen", (alice.address,))
    error = await reverted(send(system, bob, alice.address, 1))
    assert (error.error, error.args_) == ("TransferFrozen", (alice.address,))
    error = await reverted(system.transact(token.functions.mint(alice.address, 1)))
    assert (error.error, error.args_) == ("TransferFrozen", (alice.address,))

    await system.transact(token.functions.setAddressFrozen(alice.address, False))
    await send(system, alice, bob.address, 3)
    await send(system, bob, alice.address, 1)
    assert await balance(system, alice.address) == 8
    assert await balance(system, bob.address) == 12


async def test_partial_freeze_limits_transfers(system: System) -> None:
    """INV-005: frozen units do not move; only the unfrozen remainder does, until an agent unfreezes."""
    alice = await system.investor(units=100)
    bob = await system.investor()
    token = system.token()
    receipt = await system.transact(token.functions.freezePartialTokens(alice.address, 60))
    assert events(token, "TokensFrozen", receipt) == [{"wallet": alice.address, "amount": 60}]

    error = await reverted(send(system, alice, bob.address, 41))
    assert (error.error, error.args_) == ("TransferExceedsUnfrozen", (alice.address, 41, 40))
    await send(system, alice, bob.address, 40)
    error = await reverted(send(system, alice, bob.address, 1))
    assert (error.error, error.args_) == ("TransferExceedsUnfrozen", (alice.address, 1, 0))

    receipt = await system.transact(token.functions.unfreezePartialTokens(alice.address, 60))
    assert events(token, "TokensUnfrozen", receipt) == [{"wallet": alice.address, "amount": 60}]
    assert await system.chain.call(token.functions.getFrozenTokens(alice.address)) == 0
    await send(system, alice, bob.address, 60)
    assert await balance(system, bob.address) == 100


async def test_partial_freeze_above_balance_blocks_everything(system: System) -> None:
    """INV-005: more frozen units than the balance leave nothing to move (no underflow)."""
    alice = await system.investor(units=5)
    bob = await system.investor()
    await system.transact(system.token().functions.freezePartialTokens(alice.address, 8))
    error = await reverted(send(system, alice, bob.address, 1))
    assert (error.error, error.args_) == ("TransferExceedsUnfrozen", (alice.address, 1, 0))


async def test_unfreeze_more_than_frozen_reverts(system: System) -> None:
    """INV-005: an agent cannot unfreeze units that were not frozen."""
    alice = await system.investor(units=10)
    token = system.token()
    await system.transact(token.functions.freezePartialTokens(alice.address, 3))
    error = await reverted(system.transact(token.functions.unfreezePartialTokens(alice.address, 4)))
    assert (error.error, error.args_) == ("FreezeExceedsFrozen", (alice.address, 4, 3))
    assert await system.chain.call(token.functions.getFrozenTokens(alice.address)) == 3


async def test_nothing_moves_while_paused(system: System) -> None:
    """INV-005: while paused, neither transfers nor bridge-outs move units; unpausing restores them."""
    alice = await system.investor(units=10)
    bob = await system.investor()
    token = system.token()
    receipt = await system.transact(token.functions.pause())
    assert events(token, "Paused", receipt) == [{"account": system.admin.address}]

    error = await reverted(send(system, alice, bob.address, 1))
    assert (error.error, error.args_) == ("EnforcedPause", ())
    error = await reverted(system.bridge_out(alice, 1, Account.create().address))
    assert (error.error, error.args_) == ("EnforcedPause", ())
    assert await system.chain.call(system.escrow.functions.lockedBalance(token.address)) == 0

    await system.transact(token.functions.unpause())
    await send(system, alice, bob.address, 1)
    assert await balance(system, bob.address) == 1


async def test_forced_transfer_moves_frozen_units_to_verified_recipient_only(system: System) -> None:
    """INV-005, INV-011: an agent's forced transfer ignores the holder's freezes, but still refuses an
    unverified recipient."""
    alice = await system.investor(units=10)
    bob = await system.investor()
    token = system.token()
    await system.transact(token.functions.setAddressFrozen(alice.address, True))
    await system.transact(token.functions.freezePartialTokens(alice.address, 10))

    stranger = Account.create().address
    error = await reverted(system.transact(token.functions.forcedTransfer(alice.address, stranger, 4)))
    assert (error.error, error.args_) == ("TransferToUnverified", (stranger,))

    receipt = await system.transact(token.functions.forcedTransfer(alice.address, bob.address, 4))
    assert events(token, "Transfer", receipt) == [{"from": alice.address, "to": bob.address, "value": 4}]
    assert await balance(system, alice.address) == 6
    assert await balance(system, bob.address) == 4
    # the forced transfer left the freeze in place for ordinary transfers
    error = await reverted(send(system, alice, bob.address, 1))
    assert (error.error, error.args_) == ("TransferFrozen", (alice.address,))


async def test_forced_transfer_does_not_leave_freeze_bypass_behind(system: System) -> None:
    """INV-005: the forced-transfer flag lasts one call: the next ordinary transfer from a frozen
    holder, in a later transaction, is refused again."""
    alice = await system.investor(units=10)
    bob = await system.investor()
    token = system.token()
    await system.transact(token.functions.freezePartialTokens(alice.address, 10))
    await system.transact(token.functions.forcedTransfer(alice.address, bob.address, 2))
    error = await reverted(send(system, alice, bob.address, 1))
    assert (error.error, error.args_) == ("TransferExceedsUnfrozen", (alice.address, 1, 0))


async def test_non_agents_cannot_issue_freeze_or_pause(system: System) -> None:
    """INV-005, INV-011: only agents issue, redeem, freeze, force transfers and pause; only the admin
    sets the escrow."""
    alice = await system.investor(units=10)
    outsider = await system.investor(units=10)  # even a verified investor is no agent
    token = system.token()
    agent_only = [
        token.functions.mint(outsider.address, 1),
        token.functions.burn(alice.address, 1),
        token.functions.setAddressFrozen(alice.address, True),
        token.functions.freezePartialTokens(alice.address, 1),
        token.functions.unfreezePartialTokens(alice.address, 0),
        token.functions.forcedTransfer(alice.address, outsider.address, 1),
        token.functions.pause(),
        token.functions.unpause(),
    ]
    for fn in agent_only:
        error = await reverted(system.transact(fn, outsider))
        assert (error.error, error.args_) == ("AccessControlUnauthorizedAccount", (outsider.address, AGENT_ROLE))
    error = await reverted(system.transact(token.functions.setEscrow(outsider.address), outsider))
    assert (error.error, error.args_) == ("AccessControlUnauthorizedAccount", (outsider.address, DEFAULT_ADMIN_ROLE))
    assert await balance(system, alice.address) == 10
    assert await balance(system, outsider.address) == 10
    assert await system.chain.call(token.functions.AGENT_ROLE()) == AGENT_ROLE


async def test_forced_transfer_unfreezes_the_frozen_units_it_moves(system: System) -> None:
    """INV-005: after a forced transfer, frozen units never exceed the balance."""
    alice = await system.investor(units=10)
    bob = await system.investor()
    token = system.token()
    await system.transact(token.functions.freezePartialTokens(alice.address, 8))
    await system.transact(token.functions.forcedTransfer(alice.address, bob.address, 5))
    assert await system.chain.call(token.functions.balanceOf(alice.address)) == 5
    assert await system.chain.call(token.functions.getFrozenTokens(alice.address)) == 5
