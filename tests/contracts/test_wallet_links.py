"""WalletLinks on anvil: a verified investor links a public wallet only with that wallet's own EIP-712
WalletLink signature; unlinking clears the link; every refusal reverts with its own error."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.address import is_address, to_checksum_address
from web3.types import TxReceipt

from attestations.eip712 import Domain, digest
from attestations.keys import Secp256k1Signer
from relayer.edges.evm.client import ContractReverted
from tests.contracts.system import System, events

pytestmark = pytest.mark.integration

PUBLIC_CHAIN = 84532
ZERO = "0x" + "00" * 20


async def reverted(action: Awaitable[object]) -> ContractReverted:
    """The revert ``action`` raises, its address arguments checksummed."""
    with pytest.raises(ContractReverted) as info:
        await action
    error = info.value
    error.args_ = tuple(to_checksum_address(a) if isinstance(a, str) and is_address(a) else a for a in error.args_)
    return error


def link_message(investor: str, wallet: str, deadline: int, chain_id: int = PUBLIC_CHAIN) -> dict[str, Any]:
    return {"investor": investor, "chainId": chain_id, "wallet": wallet, "deadline": deadline}


def proof(system: System, key: LocalAccount, message: dict[str, Any], domain: Domain | None = None) -> bytes:
    """``key``'s signature over the WalletLink ``message`` in the WalletLinks domain (or ``domain``)."""
    signed = digest("WalletLink", domain or system.domain(system.registry.wallet_links), message)
    return Secp256k1Signer(bytes(key.key)).sign(signed)


async def request_link(
    system: System, investor: LocalAccount, wallet: str, deadline: int, signature: bytes, chain_id: int = PUBLIC_CHAIN
) -> TxReceipt:
    fn = system.links.functions.requestLink(chain_id, wallet, deadline, signature)
    return await system.transact(fn, investor)


async def linked(system: System, investor: str, chain_id: int = PUBLIC_CHAIN) -> str:
    return str(await system.chain.call(system.links.functions.linkedWallet(investor, chain_id)))


async def test_verified_investor_links_wallet_with_its_signature(system: System) -> None:
    """INV-011: the wallet's own WalletLink signature links it to the calling verified investor."""
    investor = await system.investor()
    wallet = Account.create()
    deadline = await system.now() + 3600
    signature = proof(system, wallet, link_message(investor.address, wallet.address, deadline))
    receipt = await request_link(system, investor, wallet.address, deadline, signature)
    [event] = events(system.links, "WalletLinkRequested", receipt)
    assert event == {"investor": investor.address, "chainId": PUBLIC_CHAIN, "wallet": wallet.address}
    assert await linked(system, investor.address) == wallet.address
    assert await linked(system, investor.address, system.chain_id) == ZERO
    assert await linked(system, wallet.address) == ZERO


async def test_eth_account_signature_is_accepted(system: System) -> None:
    """INV-011: a wallet signing the raw digest with eth_account (as a wallet library would) proves control."""
    investor = await system.investor()
    wallet = Account.create()
    deadline = await system.now() + 3600
    signed = digest(
        "WalletLink",
        system.domain(system.registry.wallet_links),
        link_message(investor.address, wallet.address, deadline),
    )
    signature = bytes(Account.unsafe_sign_hash(signed, wallet.key).signature)
    await request_link(system, investor, wallet.address, deadline, signature)
    assert await linked(system, investor.address) == wallet.address


async def test_link_digest_matches_python(system: System) -> None:
    """INV-011: the Python EIP-712 WalletLink digest equals linkDigest on chain."""
    investor, wallet = Account.create().address, Account.create().address
    for chain_id, deadline in ((PUBLIC_CHAIN, 1_900_000_000), (1, 0), (2**256 - 1, 2**64 - 1)):
        message = link_message(investor, wallet, deadline, chain_id)
        on_chain = await system.chain.call(system.links.functions.linkDigest(investor, chain_id, wallet, deadline))
        assert on_chain == digest("WalletLink", system.domain(system.registry.wallet_links), message)


async def test_proof_signed_by_another_key_reverts(system: System) -> None:
    """INV-011: a signature by any key other than the wallet's does not prove control of the wallet."""
    investor = await system.investor()
    wallet, impostor = Account.create(), Account.create()
    deadline = await system.now() + 3600
    signature = proof(system, impostor, link_message(investor.address, wallet.address, deadline))
    error = await reverted(request_link(system, investor, wallet.address, deadline, signature))
    assert (error.error, error.args_) == ("LinkProofInvalid", (wallet.address,))
    # a malformed signature proves nothing either
    error = await reverted(request_link(system, investor, wallet.address, deadline, b"\x01" * 65))
    assert error.error == "LinkProofInvalid"
    assert await linked(system, investor.address) == ZERO


async def test_proof_for_another_investor_cannot_be_taken(system: System) -> None:
    """INV-011: a proof names its investor: another verified investor who sees it cannot claim the wallet."""
    owner = await system.investor()
    thief = await system.investor()
    wallet = Account.create()
    deadline = await system.now() + 3600
    signature = proof(system, wallet, link_message(owner.address, wallet.address, deadline))
    error = await reverted(request_link(system, thief, wallet.address, deadline, signature))
    assert (error.error, error.args_) == ("LinkProofInvalid", (wallet.address,))
    await request_link(system, owner, wallet.address, deadline, signature)
    assert await linked(system, owner.address) == wallet.address
    assert await linked(system, thief.address) == ZERO


async def test_proof_is_bound_to_chain_deadline_and_contract(system: System) -> None:
    """INV-011: a proof for one chain, deadline or WalletLinks contract does not link on another."""
    investor = await system.investor()
    wallet = Account.create()
    deadline = await system.now() + 3600
    message = link_message(investor.address, wallet.address, deadline)
    signature = proof(system, wallet, message)
    for chain_id, submitted_deadline in ((system.chain_id, deadline), (PUBLIC_CHAIN, deadline + 1)):
        error = await reverted(
            request_link(system, investor, wallet.address, submitted_deadline, signature, chain_id=chain_id)
        )
        assert (error.error, error.args_) == ("LinkProofInvalid", (wallet.address,))
    for domain in (Domain(system.chain_id, system.registry.escrow), Domain(1, system.registry.wallet_links)):
        foreign = proof(system, wallet, message, domain)
        error = await reverted(request_link(system, investor, wallet.address, deadline, foreign))
        assert (error.error, error.args_) == ("LinkProofInvalid", (wallet.address,))
    assert await linked(system, investor.address) == ZERO


async def test_expired_proof_reverts(system: System) -> None:
    """INV-011: a proof whose deadline passed is refused even though the signature is valid."""
    investor = await system.investor()
    wallet = Account.create()
    deadline = await system.now() + 60
    signature = proof(system, wallet, link_message(investor.address, wallet.address, deadline))
    await system.advance(120)
    error = await reverted(request_link(system, investor, wallet.address, deadline, signature))
    assert (error.error, error.args_) == ("LinkProofExpired", (deadline,))
    assert await linked(system, investor.address) == ZERO


@pytest.mark.parametrize("caller_state", ["unknown", "revoked", "kyc-expired"])
async def test_unverified_caller_reverts(system: System, caller_state: str) -> None:
    """INV-011: only a verified investor may name a public wallet."""
    if caller_state == "unknown":
        caller = await system.funded_account()
    else:
        caller = await system.investor()
        if caller_state == "revoked":
            await system.transact(system.investors.functions.revokeInvestor(caller.address))
        else:
            await system.advance(366 * 24 * 3600)
    wallet = Account.create()
    deadline = await system.now() + 3600
    signature = proof(system, wallet, link_message(caller.address, wallet.address, deadline))
    error = await reverted(request_link(system, caller, wallet.address, deadline, signature))
    assert (error.error, error.args_) == ("LinkInvestorUnverified", (caller.address,))
    assert await linked(system, caller.address) == ZERO


async def test_zero_wallet_reverts(system: System) -> None:
    """INV-011: the zero address is never linked (no key controls it; a malformed proof must not pass)."""
    investor = await system.investor()
    deadline = await system.now() + 3600
    error = await reverted(request_link(system, investor, ZERO, deadline, b"\0" * 65))
    assert (error.error, error.args_) == ("LinkWalletZero", ())


async def test_unlink_clears_link(system: System) -> None:
    """INV-011: unlink removes the caller's link and names the wallet; the link can be made again."""
    investor = await system.investor()
    wallet = Account.create()
    deadline = await system.now() + 3600
    signature = proof(system, wallet, link_message(investor.address, wallet.address, deadline))
    await request_link(system, investor, wallet.address, deadline, signature)

    receipt = await system.transact(system.links.functions.unlink(PUBLIC_CHAIN), investor)
    [event] = events(system.links, "WalletUnlinked", receipt)
    assert event == {"investor": investor.address, "chainId": PUBLIC_CHAIN, "wallet": wallet.address}
    assert await linked(system, investor.address) == ZERO

    error = await reverted(system.transact(system.links.functions.unlink(PUBLIC_CHAIN), investor))
    assert (error.error, error.args_) == ("LinkAbsent", (investor.address, PUBLIC_CHAIN))
    await request_link(system, investor, wallet.address, deadline, signature)
    assert await linked(system, investor.address) == wallet.address


async def test_unlink_without_link_reverts(system: System) -> None:
    """INV-011: unlinking needs a link of the caller on that chain (another investor's link does not count)."""
    investor = await system.investor()
    other = await system.investor()
    wallet = Account.create()
    deadline = await system.now() + 3600
    signature = proof(system, wallet, link_message(investor.address, wallet.address, deadline))
    await request_link(system, investor, wallet.address, deadline, signature)
    for caller, chain_id in ((other, PUBLIC_CHAIN), (investor, system.chain_id)):
        error = await reverted(system.transact(system.links.functions.unlink(chain_id), caller))
        assert (error.error, error.args_) == ("LinkAbsent", (caller.address, chain_id))
    assert await linked(system, investor.address) == wallet.address


async def test_links_are_per_chain(system: System) -> None:
    """INV-011: an investor links one wallet per public chain; unlinking one chain keeps the other."""
    investor = await system.investor()
    first, second = Account.create(), Account.create()
    deadline = await system.now() + 3600
    for wallet, chain_id in ((first, PUBLIC_CHAIN), (second, system.chain_id)):
        signature = proof(system, wallet, link_message(investor.address, wallet.address, deadline, chain_id))
        await request_link(system, investor, wallet.address, deadline, signature, chain_id=chain_id)
    await system.transact(system.links.functions.unlink(PUBLIC_CHAIN), investor)
    assert await linked(system, investor.address) == ZERO
    assert await linked(system, investor.address, system.chain_id) == second.address


async def test_deadline_is_inclusive(system: System) -> None:
    """INV-011: a proof is valid up to and including its deadline second, and refused one second later."""
    investor = await system.investor()
    wallet = Account.create()
    deadline = await system.now() + 100
    signature = proof(system, wallet, link_message(investor.address, wallet.address, deadline))
    await system.chain.rpc("evm_setNextBlockTimestamp", [deadline])
    receipt = await request_link(system, investor, wallet.address, deadline, signature)
    assert (await system.chain.w3.eth.get_block(receipt["blockNumber"]))["timestamp"] == deadline
    assert await linked(system, investor.address) == wallet.address
    await system.transact(system.links.functions.unlink(PUBLIC_CHAIN), investor)
    await system.advance(1)
    assert await system.now() > deadline
    error = await reverted(request_link(system, investor, wallet.address, deadline, signature))
    assert (error.error, error.args_) == ("LinkProofExpired", (deadline,))


async def test_relinking_announces_the_replaced_wallet(system: System) -> None:
    """INV-011: a new link on the same chain ends the old one with WalletUnlinked, so the relayer can
    revoke the old wallet on the public chain."""
    investor = await system.investor()
    old, new = Account.create(), Account.create()
    deadline = await system.now() + 3600
    await request_link(
        system,
        investor,
        old.address,
        deadline,
        proof(system, old, link_message(investor.address, old.address, deadline)),
    )
    receipt = await request_link(
        system,
        investor,
        new.address,
        deadline,
        proof(system, new, link_message(investor.address, new.address, deadline)),
    )
    [ended] = events(system.links, "WalletUnlinked", receipt)
    assert ended == {"investor": investor.address, "chainId": PUBLIC_CHAIN, "wallet": old.address}
    assert await linked(system, investor.address) == new.address
