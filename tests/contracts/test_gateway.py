"""BridgeGateway: attested mints exactly once, bridge-back burns, pauses and rate limits."""

from __future__ import annotations

from typing import Any

import pytest

from attestations.eip712 import Domain, digest
from attestations.keys import sign_ordered
from relayer.edges.evm.client import ContractReverted
from tests.contracts.system import BOND, EQUITY, System, attestor_signers, events

pytestmark = pytest.mark.integration


async def expect_revert(system: System, fn: Any, error: str, sender: Any = None) -> ContractReverted:
    with pytest.raises(ContractReverted) as info:
        await system.transact(fn, sender)
    assert info.value.error == error, info.value
    return info.value


async def balance(system: System, holder: str, spec: Any = EQUITY) -> int:
    return int(await system.chain.call(system.wrapped(spec).functions.balanceOf(holder)))


async def test_mint_is_exactly_once(system: System) -> None:
    """INV-002: a (source chain, nonce) mints once; the replay reverts and nothing more is minted."""
    holder = await system.register_holder()
    receipt = await system.mint(holder, 100, nonce=7)
    [event] = events(system.gateway, "Minted", receipt)
    assert event == {
        "sourceChainId": system.chain_id,
        "sourceNonce": 7,
        "token": system.wrapped().address,
        "recipient": holder,
        "amount": 100,
    }
    assert await system.chain.call(system.gateway.functions.isProcessed(system.chain_id, 7))
    error = await expect_revert(system, _mint_fn(system, holder, 100, 7), "GatewayAlreadyProcessed")
    assert error.args_ == (system.chain_id, 7)
    assert await balance(system, holder) == 100


def _mint_fn(system: System, recipient: str, amount: int, nonce: int, **overrides: Any) -> Any:
    message = system.authorization(recipient, amount, nonce, **overrides)
    return system.gateway.functions.mint(message, system.sign("TransferAuthorization", system.public.gateway, message))


@pytest.mark.parametrize(
    ("case", "error"),
    [
        ("wrong-signer", "AttestorUnknown"),
        ("duplicate", "AttestorDuplicate"),
        ("unordered", "AttestorsUnordered"),
        ("too-few", "AttestorThresholdNotMet"),
        ("wrong-contract", "AttestorUnknown"),
        ("wrong-chain-id", "AttestorUnknown"),
        ("wrong-domain-name", "AttestorUnknown"),
        ("tampered-amount", "AttestorUnknown"),
    ],
)
async def test_mint_rejects_bad_attestations(system: System, case: str, error: str) -> None:
    """INV-007: only a threshold of distinct attestors, in order, over this gateway's domain, mints."""
    holder = await system.register_holder()
    message = system.authorization(holder, 100, 1)
    good = Domain(system.chain_id, system.public.gateway)
    signed = digest("TransferAuthorization", good, message)
    first, second = sorted(system.attestors[:2], key=lambda s: int(s.address, 16))
    submitted = dict(message)
    if case == "wrong-signer":
        signatures = sign_ordered(signed, [first, attestor_signers("intruder", 1)[0]])
    elif case == "duplicate":
        signatures = [first.sign(signed), first.sign(signed)]
    elif case == "unordered":
        signatures = [second.sign(signed), first.sign(signed)]
    elif case == "too-few":
        signatures = [first.sign(signed)]
    elif case == "tampered-amount":
        signatures = sign_ordered(signed, [first, second])
        submitted["amount"] = 101
    else:
        domain = {
            "wrong-contract": Domain(system.chain_id, system.public.holder_registry),
            "wrong-chain-id": Domain(system.chain_id + 1, system.public.gateway),
            "wrong-domain-name": Domain(system.chain_id, system.public.gateway, name="NotDari"),
        }[case]
        signatures = sign_ordered(digest("TransferAuthorization", domain, message), [first, second])
    await expect_revert(system, system.gateway.functions.mint(submitted, signatures), error)
    assert await balance(system, holder) == 0
    assert not await system.chain.call(system.gateway.functions.isProcessed(system.chain_id, 1))


async def test_mint_from_another_source_chain_is_refused(system: System) -> None:
    """INV-002: only bridge-outs of the configured registry chain mint."""
    holder = await system.register_holder()
    await expect_revert(system, _mint_fn(system, holder, 1, 1, sourceChainId=1), "GatewaySourceUnknown")


async def test_mint_of_unknown_security_or_zero_amount(system: System) -> None:
    """INV-001: nothing is minted for an unregistered security or a zero amount."""
    holder = await system.register_holder()
    await expect_revert(system, _mint_fn(system, holder, 1, 1, securityId=b"\x01" * 32), "GatewaySecurityUnknown")
    await expect_revert(system, _mint_fn(system, holder, 0, 1), "GatewayAmountZero")


async def test_mint_to_unverified_recipient_reverts(system: System) -> None:
    """INV-004: an address without a HolderRegistry entry receives nothing."""
    stranger = await system.funded_account()
    await expect_revert(system, _mint_fn(system, stranger.address, 5, 1), "TransferToUnverified")
    assert not await system.chain.call(system.gateway.functions.isProcessed(system.chain_id, 1))


async def test_mint_to_expired_holder_reverts(system: System) -> None:
    """INV-004: an entry past its expiry no longer verifies; the mint reverts."""
    holder = await system.register_holder(validUntil=await system.now() + 60)
    await system.advance(61)
    assert not await system.chain.call(system.holders.functions.isVerified(holder))
    await expect_revert(system, _mint_fn(system, holder, 5, 1), "TransferToUnverified")


async def test_mint_to_frozen_holder_reverts(system: System) -> None:
    """INV-005: a frozen address receives nothing."""
    holder = await system.register_holder()
    await system.transact(system.wrapped().functions.setAddressFrozen(holder, True))
    await expect_revert(system, _mint_fn(system, holder, 5, 1), "TransferFrozen")


async def test_paused_inbound_and_outbound(system: System) -> None:
    """INV-007/INV-001: pausing in stops mints, pausing out stops bridge-backs; each resumes independently."""
    holder_account = await system.funded_account()
    holder = await system.register_holder(holder_account.address)
    gateway = system.gateway
    await system.transact(gateway.functions.setInboundPaused(True))
    assert await system.chain.call(gateway.functions.inboundPaused())
    await expect_revert(system, _mint_fn(system, holder, 5, 1), "InboundPaused")
    await system.transact(gateway.functions.setInboundPaused(False))
    await system.mint(holder, 5, 1)

    await system.transact(gateway.functions.setOutboundPaused(True))
    back = gateway.functions.bridgeBack(system.wrapped().address, 1, system.admin.address)
    await expect_revert(system, back, "OutboundPaused", holder_account)
    await system.mint(holder, 5, 2)  # inbound unaffected by the outbound pause
    await system.transact(gateway.functions.setOutboundPaused(False))
    await system.transact(back, holder_account)
    assert await balance(system, holder) == 9


async def test_only_pausers_pause(system: System) -> None:
    """INV-007: pausing is a role, not open to anyone."""
    outsider = await system.funded_account()
    await expect_revert(
        system, system.gateway.functions.setInboundPaused(True), "AccessControlUnauthorizedAccount", outsider
    )


async def test_inbound_rate_limit_exceeded_then_refilled(system: System) -> None:
    """INV-010: mints beyond the bucket revert; the bucket refills at its rate up to its capacity."""
    holder = await system.register_holder()
    gateway = system.gateway
    await system.transact(gateway.functions.setRateLimits(EQUITY.security_id, 100, 10, 0, 0))
    await system.mint(holder, 80, 1)
    error = await expect_revert(system, _mint_fn(system, holder, 30, 2), "RateLimitExceeded")
    assert error.args_[0] == EQUITY.security_id
    assert error.args_[1] == 30
    assert 20 <= error.args_[2] < 30
    await system.advance(2)  # +20 at 10/s
    await system.mint(holder, 30, 2)
    await system.advance(1000)
    inbound, outbound = await system.chain.call(gateway.functions.available(EQUITY.security_id))
    assert inbound == 100  # capped at capacity
    assert outbound == 2**256 - 1  # not configured: unlimited
    await system.mint(holder, 100, 3)
    await system.mint(holder, 1, 4, securityId=BOND.security_id)  # other securities unaffected


async def test_outbound_rate_limit(system: System) -> None:
    """INV-010: bridge-backs beyond the outbound bucket revert until it refills."""
    account = await system.funded_account()
    holder = await system.register_holder(account.address)
    await system.mint(holder, 100, 1)
    await system.transact(system.gateway.functions.setRateLimits(EQUITY.security_id, 0, 0, 50, 5))
    token = system.wrapped().address
    await system.transact(system.gateway.functions.bridgeBack(token, 50, system.admin.address), account)
    await expect_revert(
        system, system.gateway.functions.bridgeBack(token, 10, system.admin.address), "RateLimitExceeded", account
    )
    await system.advance(2)
    await system.transact(system.gateway.functions.bridgeBack(token, 10, system.admin.address), account)


async def test_bridge_back_burns_and_emits(system: System) -> None:
    """INV-001: bridge-back burns exactly the amount and numbers the request."""
    account = await system.funded_account()
    holder = await system.register_holder(account.address)
    await system.mint(holder, 10, 1)
    token = system.wrapped()
    supply = await system.chain.call(token.functions.totalSupply())
    registry_recipient = (await system.funded_account()).address
    receipts = [
        await system.transact(system.gateway.functions.bridgeBack(token.address, 3, registry_recipient), account)
        for _ in range(2)
    ]
    emitted = [events(system.gateway, "BridgeBackRequested", r)[0] for r in receipts]
    assert [e["nonce"] for e in emitted] == [1, 2]
    assert emitted[0] == {
        "nonce": 1,
        "token": token.address,
        "holder": holder,
        "amount": 3,
        "registryRecipient": registry_recipient,
    }
    assert await system.chain.call(token.functions.totalSupply()) == supply - 6
    assert await balance(system, holder) == 4


async def test_bridge_back_reverts(system: System) -> None:
    """INV-001: no burn of an unknown token, of zero, to nobody, or of more than held."""
    account = await system.funded_account()
    holder = await system.register_holder(account.address)
    await system.mint(holder, 10, 1)
    gateway, token = system.gateway, system.wrapped().address
    await expect_revert(
        system, gateway.functions.bridgeBack(system.admin.address, 1, holder), "GatewayTokenUnknown", account
    )
    await expect_revert(system, gateway.functions.bridgeBack(token, 0, holder), "GatewayAmountZero", account)
    await expect_revert(
        system, gateway.functions.bridgeBack(token, 1, "0x" + "00" * 20), "GatewayRecipientZero", account
    )
    await expect_revert(system, gateway.functions.bridgeBack(token, 11, holder), "TransferExceedsUnfrozen", account)


async def test_mint_batch_is_all_or_nothing(system: System) -> None:
    """INV-002: a batch mints every authorization once, or none of them."""
    holder = await system.register_holder()
    stranger = (await system.funded_account()).address
    messages = [system.authorization(holder, 1, n) for n in (1, 2)]
    signatures = [system.sign("TransferAuthorization", system.public.gateway, m) for m in messages]
    await system.transact(system.gateway.functions.mintBatch(messages, signatures))
    assert await balance(system, holder) == 2

    good = system.authorization(holder, 1, 3)
    bad = system.authorization(stranger, 1, 4)
    batch = [good, bad]
    batch_signatures = [system.sign("TransferAuthorization", system.public.gateway, m) for m in batch]
    await expect_revert(system, system.gateway.functions.mintBatch(batch, batch_signatures), "TransferToUnverified")
    assert not await system.chain.call(system.gateway.functions.isProcessed(system.chain_id, 3))
    await expect_revert(system, system.gateway.functions.mintBatch(batch, batch_signatures[:1]), "GatewayBatchMismatch")
    replay = [messages[0]]
    await expect_revert(system, system.gateway.functions.mintBatch(replay, signatures[:1]), "GatewayAlreadyProcessed")


async def test_nobody_but_the_gateway_mints_wrapped_units(system: System) -> None:
    """INV-001/INV-007: the admin's key alone cannot mint or burn wrapped units."""
    holder = await system.register_holder()
    token = system.wrapped()
    await expect_revert(system, token.functions.mint(holder, 1, 0), "AccessControlUnauthorizedAccount")
    await expect_revert(system, token.functions.burn(holder, 1), "AccessControlUnauthorizedAccount")
    assert await system.chain.call(system.gateway.functions.wrappedToken(EQUITY.security_id)) == token.address
