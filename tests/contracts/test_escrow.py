"""BridgeEscrow on anvil: bridge-out locks units, attested releases and refunds move them out once, and
every refusal reverts with its own error."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import pytest
from eth_account import Account
from eth_utils.address import is_address, to_checksum_address
from eth_utils.crypto import keccak
from web3.contract import AsyncContract
from web3.types import TxReceipt

from attestations.eip712 import digest, hash_struct
from relayer.edges.evm.client import ContractReverted
from relayer.edges.evm.deployment import SecuritySpec
from tests.contracts.system import BOND, EQUITY, System, attestor_signers, events

pytestmark = pytest.mark.integration

PENDING, REFUNDED = 1, 2
REASON = 3  # a refusal code; the escrow only carries it


async def reverted(action: Awaitable[object]) -> ContractReverted:
    """The revert ``action`` raises, its address arguments checksummed."""
    with pytest.raises(ContractReverted) as info:
        await action
    error = info.value
    error.args_ = tuple(to_checksum_address(a) if isinstance(a, str) and is_address(a) else a for a in error.args_)
    return error


async def stored_request(system: System, nonce: int) -> dict[str, Any]:
    """The escrow's stored request ``nonce`` by field name (the struct's field order is not pinned)."""
    abi = system.artifacts.get("BridgeEscrow").abi
    [entry] = [e for e in abi if e.get("type") == "function" and e.get("name") == "request"]
    names = [c["name"] for c in entry["outputs"][0]["components"]]
    values = await system.chain.call(system.escrow.functions.request(nonce))
    return dict(zip(names, values, strict=True))


def release_message(
    system: System, recipient: str, amount: int, source_nonce: int = 1, **overrides: Any
) -> dict[str, Any]:
    """A ReleaseAuthorization of a burn of EQUITY on this chain's public side."""
    message: dict[str, Any] = {
        "sourceChainId": system.chain_id,
        "sourceNonce": source_nonce,
        "securityId": EQUITY.security_id,
        "holder": Account.create().address,
        "recipient": recipient,
        "amount": amount,
    }
    message.update(overrides)
    return message


async def release(system: System, message: dict[str, Any], signatures: list[bytes] | None = None) -> TxReceipt:
    """Submits ``message`` to the escrow, signed by two attestors unless ``signatures`` are given."""
    if signatures is None:
        signatures = system.sign("ReleaseAuthorization", system.registry.escrow, message)
    return await system.transact(system.escrow.functions.release(message, signatures))


async def refund_message(system: System, nonce: int, reason: int = REASON) -> dict[str, Any]:
    """The RefundAuthorization of request ``nonce``, rebuilt from the escrow's stored request."""
    stored = await stored_request(system, nonce)
    return {
        "nonce": nonce,
        "token": stored["token"],
        "sender": stored["sender"],
        "amount": stored["amount"],
        "reason": reason,
    }


async def refund(system: System, nonce: int, reason: int, signatures: list[bytes]) -> TxReceipt:
    return await system.transact(system.escrow.functions.refund(nonce, reason, signatures))


async def locked(system: System, spec: SecuritySpec = EQUITY) -> int:
    return int(await system.chain.call(system.escrow.functions.lockedBalance(system.token(spec).address)))


async def balance(system: System, holder: str, spec: SecuritySpec = EQUITY) -> int:
    return int(await system.chain.call(system.token(spec).functions.balanceOf(holder)))


async def deploy_token(system: System, security_id: bytes) -> AsyncContract:
    """A SecurityToken that was never listed on the escrow."""
    artifact = system.artifacts.get("SecurityToken")
    address = await system.chain.deploy(
        artifact, system.admin, "Shadow", "SHD", 0, security_id, system.registry.investor_registry, system.admin.address
    )
    return system.chain.contract(artifact, address)


# --- bridgeOut ---------------------------------------------------------------------------------------


async def test_bridge_out_locks_units_and_numbers_requests(system: System) -> None:
    """INV-001: bridgeOut moves the units into escrow, grows the locked balance by the amount and emits
    the request with every field; nonces run 1, 2, ..."""
    investor = await system.investor(units=100)
    token = system.token()
    recipient = Account.create().address
    await system.transact(token.functions.approve(system.registry.escrow, 100), investor)
    for expected_nonce, amount in ((1, 30), (2, 45)):
        receipt = await system.transact(
            system.escrow.functions.bridgeOut(token.address, amount, system.chain_id, recipient), investor
        )
        [event] = events(system.escrow, "BridgeOutRequested", receipt)
        assert event == {
            "nonce": expected_nonce,
            "token": token.address,
            "sender": investor.address,
            "amount": amount,
            "destChainId": system.chain_id,
            "recipient": recipient,
        }
        assert await stored_request(system, expected_nonce) == {
            "token": token.address,
            "sender": investor.address,
            "amount": amount,
            "status": PENDING,
        }
    assert await balance(system, investor.address) == 25
    assert await balance(system, system.registry.escrow) == 75
    assert await locked(system) == 75
    assert await locked(system, BOND) == 0


async def test_bridge_out_nonces_are_shared_across_securities(system: System) -> None:
    """INV-001: every request (any security, any sender) gets the next nonce of the escrow."""
    first = await system.investor(units=10)
    second = await system.investor(units=1_000, spec=BOND)
    assert await system.bridge_out(first, 4, Account.create().address) == 1
    assert await system.bridge_out(second, 250, Account.create().address, BOND) == 2
    assert await system.bridge_out(first, 6, Account.create().address) == 3
    assert await locked(system) == 10
    assert await locked(system, BOND) == 250


@pytest.mark.parametrize("same_security_id", [True, False], ids=["shadow-of-listed-id", "unknown-id"])
async def test_bridge_out_of_unlisted_token_reverts(system: System, same_security_id: bool) -> None:
    """INV-001: units of a token the escrow did not list never enter escrow, even when the token claims
    the security id of a listed one."""
    investor = await system.investor()
    shadow = await deploy_token(system, EQUITY.security_id if same_security_id else keccak(text="unlisted"))
    fn = system.escrow.functions.bridgeOut(shadow.address, 1, system.chain_id, Account.create().address)
    error = await reverted(system.transact(fn, investor))
    assert (error.error, error.args_) == ("EscrowTokenUnlisted", (shadow.address,))


async def test_bridge_out_of_address_without_code_reverts_unlisted(system: System) -> None:
    """INV-001: an arbitrary address is refused as an unlisted token, with the escrow's own error."""
    investor = await system.investor()
    not_a_token = Account.create().address
    fn = system.escrow.functions.bridgeOut(not_a_token, 1, system.chain_id, Account.create().address)
    error = await reverted(system.transact(fn, investor))
    assert (error.error, error.args_) == ("EscrowTokenUnlisted", (not_a_token,))


async def test_bridge_out_reverts_on_bad_arguments(system: System) -> None:
    """INV-001: unsupported destination, zero amount and zero recipient are refused; nothing is locked."""
    investor = await system.investor(units=10)
    token = system.token()
    await system.transact(token.functions.approve(system.registry.escrow, 10), investor)
    recipient = Account.create().address
    cases = [
        ((token.address, 1, 1, recipient), "EscrowDestinationUnsupported", (1,)),
        ((token.address, 0, system.chain_id, recipient), "EscrowAmountZero", ()),
        ((token.address, 1, system.chain_id, "0x" + "00" * 20), "EscrowRecipientZero", ()),
    ]
    for args, name, error_args in cases:
        error = await reverted(system.transact(system.escrow.functions.bridgeOut(*args), investor))
        assert (error.error, error.args_) == (name, error_args)
    assert await locked(system) == 0
    assert await balance(system, investor.address) == 10


async def test_bridge_out_reverts_while_outbound_paused(system: System) -> None:
    """INV-001: no units enter escrow while the pauser holds outbound closed; reopening restores bridging."""
    investor = await system.investor(units=10)
    receipt = await system.transact(system.escrow.functions.setOutboundPaused(True))
    [event] = events(system.escrow, "OutboundPauseSet", receipt)
    assert event == {"paused": True, "by": system.admin.address}
    assert await system.chain.call(system.escrow.functions.outboundPaused())
    assert not await system.chain.call(system.escrow.functions.inboundPaused())
    error = await reverted(system.bridge_out(investor, 5, Account.create().address))
    assert error.error == "OutboundPaused"
    assert await locked(system) == 0
    await system.transact(system.escrow.functions.setOutboundPaused(False))
    assert await system.bridge_out(investor, 5, Account.create().address) == 1


async def test_only_pausers_pause(system: System) -> None:
    """INV-001: an outsider can neither close nor open a direction of the escrow."""
    outsider = await system.funded_account()
    for fn in (system.escrow.functions.setOutboundPaused(True), system.escrow.functions.setInboundPaused(True)):
        error = await reverted(system.transact(fn, outsider))
        assert error.error == "AccessControlUnauthorizedAccount"
        assert error.args_[0] == outsider.address


@pytest.mark.parametrize("lapse", ["revoked", "kyc-expired"])
async def test_bridge_out_by_unverified_sender_reverts(system: System, lapse: str) -> None:
    """INV-011: a holder whose KYC was revoked or lapsed cannot move units into escrow."""
    investor = await system.investor(units=10)
    if lapse == "revoked":
        await system.transact(system.investors.functions.revokeInvestor(investor.address))
    else:
        await system.advance(366 * 24 * 3600)
    error = await reverted(system.bridge_out(investor, 5, Account.create().address))
    assert (error.error, error.args_) == ("TransferFromUnverified", (investor.address,))
    assert await locked(system) == 0


# --- release -----------------------------------------------------------------------------------------


async def test_release_pays_recipient_once(system: System) -> None:
    """INV-003: an attested burn releases its units to the recipient and lowers the locked balance;
    the same burn released again reverts."""
    sender = await system.investor(units=100)
    await system.bridge_out(sender, 40, Account.create().address)
    recipient = await system.investor()
    message = release_message(system, recipient.address, 15, source_nonce=7)
    receipt = await release(system, message)
    [event] = events(system.escrow, "Released", receipt)
    assert event == {
        "sourceChainId": system.chain_id,
        "sourceNonce": 7,
        "token": system.token().address,
        "recipient": recipient.address,
        "amount": 15,
    }
    assert await system.chain.call(system.escrow.functions.isReleased(system.chain_id, 7))
    assert not await system.chain.call(system.escrow.functions.isReleased(system.chain_id, 8))
    assert await balance(system, recipient.address) == 15
    assert await balance(system, system.registry.escrow) == 25
    assert await locked(system) == 25

    error = await reverted(release(system, message))
    assert (error.error, error.args_) == ("EscrowAlreadyReleased", (system.chain_id, 7))
    other_amount = release_message(system, recipient.address, 1, source_nonce=7)
    error = await reverted(release(system, other_amount))
    assert error.error == "EscrowAlreadyReleased"
    assert await locked(system) == 25


async def test_release_of_same_nonce_from_other_source_chain_is_distinct(system: System) -> None:
    """INV-003: a burn is identified by (source chain, nonce): nonce 1 of two chains releases twice."""
    sender = await system.investor(units=10)
    await system.bridge_out(sender, 10, Account.create().address)
    recipient = await system.investor()
    await release(system, release_message(system, recipient.address, 3, source_nonce=1))
    await release(system, release_message(system, recipient.address, 4, source_nonce=1, sourceChainId=84532))
    assert await system.chain.call(system.escrow.functions.isReleased(84532, 1))
    assert await balance(system, recipient.address) == 7
    assert await locked(system) == 3


async def test_release_above_locked_balance_reverts(system: System) -> None:
    """INV-003: a release never takes more than the units locked for its security."""
    sender = await system.investor(units=10)
    await system.bridge_out(sender, 10, Account.create().address)
    recipient = await system.investor()
    token = system.token().address
    error = await reverted(release(system, release_message(system, recipient.address, 11)))
    assert (error.error, error.args_) == ("EscrowInsufficientLocked", (token, 11, 10))
    # BOND units are not in escrow, whatever EQUITY holds
    bond = release_message(system, recipient.address, 1, securityId=BOND.security_id)
    error = await reverted(release(system, bond))
    assert (error.error, error.args_) == ("EscrowInsufficientLocked", (system.token(BOND).address, 1, 0))
    assert not await system.chain.call(system.escrow.functions.isReleased(system.chain_id, 1))
    assert await locked(system) == 10


async def test_release_of_unlisted_security_reverts(system: System) -> None:
    """INV-003: a release names a listed security, or nothing leaves the escrow."""
    recipient = await system.investor()
    unknown = keccak(text="not-listed")
    error = await reverted(release(system, release_message(system, recipient.address, 1, securityId=unknown)))
    assert (error.error, error.args_) == ("EscrowSecurityUnlisted", (unknown,))


async def test_release_signed_by_non_attestors_reverts(system: System) -> None:
    """INV-007: signatures of keys outside the committee do not release units."""
    sender = await system.investor(units=10)
    await system.bridge_out(sender, 10, Account.create().address)
    recipient = await system.investor()
    message = release_message(system, recipient.address, 5)
    rogues = attestor_signers("rogue", 2)
    signatures = system.sign("ReleaseAuthorization", system.registry.escrow, message, signers=rogues)
    error = await reverted(release(system, message, signatures))
    first = min(rogues, key=lambda s: int(s.address, 16))
    assert (error.error, error.args_) == ("AttestorUnknown", (first.address,))
    assert await locked(system) == 10


async def test_release_with_one_signature_reverts(system: System) -> None:
    """INV-007: one attestor alone (threshold two) cannot release units."""
    sender = await system.investor(units=10)
    await system.bridge_out(sender, 10, Account.create().address)
    recipient = await system.investor()
    message = release_message(system, recipient.address, 5)
    for signer in system.attestors:
        signatures = system.sign("ReleaseAuthorization", system.registry.escrow, message, signers=[signer])
        error = await reverted(release(system, message, signatures))
        assert (error.error, error.args_) == ("AttestorThresholdNotMet", (1, 2))
    error = await reverted(release(system, message, []))
    assert (error.error, error.args_) == ("AttestorThresholdNotMet", (0, 2))
    assert await locked(system) == 10


async def test_release_signature_counted_once(system: System) -> None:
    """INV-007: the same attestor's signature twice, or signatures out of signer order, are refused."""
    sender = await system.investor(units=10)
    await system.bridge_out(sender, 10, Account.create().address)
    recipient = await system.investor()
    message = release_message(system, recipient.address, 5)
    [one] = system.sign("ReleaseAuthorization", system.registry.escrow, message, signers=system.attestors[:1])
    error = await reverted(release(system, message, [one, one]))
    assert (error.error, error.args_) == ("AttestorDuplicate", (system.attestors[0].address,))
    ordered = system.sign("ReleaseAuthorization", system.registry.escrow, message)
    error = await reverted(release(system, message, list(reversed(ordered))))
    assert error.error == "AttestorsUnordered"
    await release(system, message, ordered)
    assert await balance(system, recipient.address) == 5


async def test_release_signed_for_another_contract_reverts(system: System) -> None:
    """INV-007: a ReleaseAuthorization signed under another contract's domain (here the gateway's, same
    chain) recovers to an unknown signer on the escrow."""
    sender = await system.investor(units=10)
    await system.bridge_out(sender, 10, Account.create().address)
    recipient = await system.investor()
    message = release_message(system, recipient.address, 5)
    signatures = system.sign("ReleaseAuthorization", system.public.gateway, message)
    error = await reverted(release(system, message, signatures))
    assert error.error == "AttestorUnknown"
    assert error.args_[0] not in {s.address for s in system.attestors}


async def test_release_while_inbound_paused_reverts(system: System) -> None:
    """INV-003: nothing leaves escrow by release while inbound is paused; the burn stays releasable."""
    sender = await system.investor(units=10)
    await system.bridge_out(sender, 10, Account.create().address)
    recipient = await system.investor()
    message = release_message(system, recipient.address, 5)
    await system.transact(system.escrow.functions.setInboundPaused(True))
    error = await reverted(release(system, message))
    assert error.error == "InboundPaused"
    assert not await system.chain.call(system.escrow.functions.isReleased(system.chain_id, 1))
    await system.transact(system.escrow.functions.setInboundPaused(False))
    await release(system, message)
    assert await locked(system) == 5


async def test_release_to_unverified_recipient_reverts(system: System) -> None:
    """INV-011: released units only go to a verified investor; the burn stays unreleased."""
    sender = await system.investor(units=10)
    await system.bridge_out(sender, 10, Account.create().address)
    stranger = Account.create().address
    error = await reverted(release(system, release_message(system, stranger, 5)))
    assert (error.error, error.args_) == ("TransferToUnverified", (stranger,))
    assert not await system.chain.call(system.escrow.functions.isReleased(system.chain_id, 1))
    assert await locked(system) == 10


async def test_release_digest_matches_python(system: System) -> None:
    """INV-007: the Python EIP-712 digest of a ReleaseAuthorization equals the escrow's releaseDigest."""
    message = release_message(system, Account.create().address, 12_345, source_nonce=2**64 - 1)
    on_chain = await system.chain.call(system.escrow.functions.releaseDigest(message))
    assert on_chain == digest("ReleaseAuthorization", system.domain(system.registry.escrow), message)
    separator = await system.chain.call(system.escrow.functions.domainSeparator())
    assert separator == hash_struct("EIP712Domain", system.domain(system.registry.escrow).to_json())


# --- refund ------------------------------------------------------------------------------------------


async def test_refund_returns_units_to_sender_once(system: System) -> None:
    """INV-008: a refund pays the request's amount back to its sender, once; a second refund reverts."""
    sender = await system.investor(units=50)
    nonce = await system.bridge_out(sender, 20, Account.create().address)
    message = await refund_message(system, nonce)
    assert message["sender"] == sender.address and message["amount"] == 20
    signatures = system.sign("RefundAuthorization", system.registry.escrow, message)
    receipt = await refund(system, nonce, REASON, signatures)
    [event] = events(system.escrow, "Refunded", receipt)
    assert event == {"nonce": nonce, "reason": REASON}
    assert await balance(system, sender.address) == 50
    assert await locked(system) == 0
    assert (await stored_request(system, nonce))["status"] == REFUNDED

    error = await reverted(refund(system, nonce, REASON, signatures))
    assert (error.error, error.args_) == ("EscrowRequestNotPending", (nonce,))
    assert await balance(system, sender.address) == 50


async def test_refund_of_unknown_nonce_reverts(system: System) -> None:
    """INV-008: only a stored, pending request can be refunded."""
    message = {"nonce": 99, "token": system.token().address, "sender": system.admin.address, "amount": 1, "reason": 0}
    signatures = system.sign("RefundAuthorization", system.registry.escrow, message)
    error = await reverted(refund(system, 99, 0, signatures))
    assert (error.error, error.args_) == ("EscrowRequestNotPending", (99,))


async def test_refund_with_other_reason_than_signed_reverts(system: System) -> None:
    """INV-008: the reason is part of the signed statement; submitting another reason breaks the digest."""
    sender = await system.investor(units=10)
    nonce = await system.bridge_out(sender, 10, Account.create().address)
    signatures = system.sign("RefundAuthorization", system.registry.escrow, await refund_message(system, nonce, 1))
    error = await reverted(refund(system, nonce, 2, signatures))
    assert error.error == "AttestorUnknown"
    assert await locked(system) == 10


@pytest.mark.parametrize("tamper", ["amount", "sender", "token", "nonce"])
async def test_refund_signed_over_other_request_fields_reverts(system: System, tamper: str) -> None:
    """INV-008: attestors who sign a refund of another amount, sender, token or nonce than the stored
    request cannot redirect or resize it: the escrow rebuilds the statement from storage."""
    sender = await system.investor(units=10)
    await system.bridge_out(sender, 4, Account.create().address)
    nonce = await system.bridge_out(sender, 6, Account.create().address)
    other = await system.investor()
    message = await refund_message(system, nonce)
    message[tamper] = {"amount": 10, "sender": other.address, "token": system.token(BOND).address, "nonce": 1}[tamper]
    signatures = system.sign("RefundAuthorization", system.registry.escrow, message)
    error = await reverted(refund(system, nonce, REASON, signatures))
    assert error.error == "AttestorUnknown"
    assert await locked(system) == 10
    assert await balance(system, sender.address) == 0


async def test_refund_digest_matches_python(system: System) -> None:
    """INV-008: the Python digest of the RefundAuthorization rebuilt from a stored request equals
    refundDigest(nonce, reason)."""
    sender = await system.investor(units=10, spec=BOND)
    nonce = await system.bridge_out(sender, 7, Account.create().address, BOND)
    for reason in (0, REASON, 2**16 - 1):
        message = await refund_message(system, nonce, reason)
        on_chain = await system.chain.call(system.escrow.functions.refundDigest(nonce, reason))
        assert on_chain == digest("RefundAuthorization", system.domain(system.registry.escrow), message)


# --- conservation ------------------------------------------------------------------------------------


async def test_locked_balance_equals_outstanding_amounts(system: System) -> None:
    """INV-001: after bridge-outs, a release and a refund, each security's locked balance is the sum of
    what is still outstanding, the escrow holds exactly that, and total supply never changes."""
    alice = await system.investor(units=100)
    bob = await system.investor(units=50)
    carol = await system.investor(units=500, spec=BOND)
    outstanding = {EQUITY: 0, BOND: 0}

    await system.bridge_out(alice, 30, Account.create().address)
    await system.bridge_out(alice, 20, Account.create().address)
    refunded = await system.bridge_out(bob, 10, Account.create().address)
    await system.bridge_out(carol, 200, Account.create().address, BOND)
    outstanding[EQUITY] += 30 + 20 + 10
    outstanding[BOND] += 200

    # 25 of alice's 50 wrapped units were burned and come back to bob
    await release(system, release_message(system, bob.address, 25, source_nonce=1))
    outstanding[EQUITY] -= 25
    # bob's request was rejected on the public side
    message = await refund_message(system, refunded)
    await refund(system, refunded, REASON, system.sign("RefundAuthorization", system.registry.escrow, message))
    outstanding[EQUITY] -= 10

    for spec, units in outstanding.items():
        token = system.token(spec)
        assert await locked(system, spec) == units
        assert await balance(system, system.registry.escrow, spec) == units
        holders = [alice, bob] if spec is EQUITY else [carol]
        held = sum([await balance(system, h.address, spec) for h in holders])
        supply = int(await system.chain.call(token.functions.totalSupply()))
        assert held + units == supply == (150 if spec is EQUITY else 500)
    assert await balance(system, alice.address) == 50
    assert await balance(system, bob.address) == 50 - 10 + 10 + 25


async def test_units_enter_escrow_only_by_bridge_out(system: System) -> None:
    """INV-001: units enter escrow only by bridgeOut; a plain transfer to the escrow is refused, so the
    escrow's balance always equals its locked balance."""
    investor = await system.investor(units=10)
    await system.bridge_out(investor, 4, Account.create().address)
    with pytest.raises(ContractReverted) as info:
        await system.transact(system.token().functions.transfer(system.registry.escrow, 3), investor)
    assert info.value.error == "TransferToEscrowDirect"
    assert await balance(system, system.registry.escrow) == await locked(system) == 4
