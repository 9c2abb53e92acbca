"""HolderRegistry: entries written and revoked only by attested statements, applied in order."""

from __future__ import annotations

from typing import Any

import pytest

from attestations.eip712 import digest
from relayer.edges.evm.client import ContractReverted
from tests.contracts.system import BOND, EQUITY, System, events

pytestmark = pytest.mark.integration


async def expect_revert(system: System, fn: Any, error: str) -> ContractReverted:
    with pytest.raises(ContractReverted) as info:
        await system.transact(fn)
    assert info.value.error == error, info.value
    return info.value


def register_fn(system: System, message: dict[str, Any]) -> Any:
    signatures = system.sign("HolderEligibility", system.public.holder_registry, message)
    return system.holders.functions.registerHolder(message, signatures)


async def revocation(system: System, wallet: str, **overrides: Any) -> dict[str, Any]:
    message = {"wallet": wallet, "chainId": system.chain_id, "reason": 1, "issuedAt": await system.now() + 1}
    message.update(overrides)
    return message


def revoke_fn(system: System, message: dict[str, Any]) -> Any:
    signatures = system.sign("HolderRevocation", system.public.holder_registry, message)
    return system.holders.functions.revokeHolder(message, signatures)


async def test_entry_keeps_expiry_and_attestation_digest(system: System) -> None:
    """INV-004: the entry records its expiry and the digest of the attestation that wrote it."""
    wallet = (await system.funded_account()).address
    message = await system.eligibility(wallet, country=840, investorClass=2)
    expected = digest("HolderEligibility", system.domain(system.public.holder_registry), message)
    receipt = await system.transact(register_fn(system, message))
    [event] = events(system.holders, "HolderRegistered", receipt)
    assert event["attestation"] == expected
    entry = await system.chain.call(system.holders.functions.holder(wallet))
    assert entry[0] == message["holderId"]
    assert entry[1:5] == (840, 2, False, message["validUntil"])
    assert entry[7] == expected
    assert await system.chain.call(system.holders.functions.eligibilityDigest(message)) == expected
    assert await system.chain.call(system.holders.functions.isVerified(wallet))
    assert await system.chain.call(system.holders.functions.investorCountry(wallet)) == 840


async def test_expired_statement_is_refused(system: System) -> None:
    """INV-004: an eligibility that has already expired cannot be registered."""
    wallet = (await system.funded_account()).address
    message = await system.eligibility(wallet, validUntil=await system.now())
    await expect_revert(system, register_fn(system, message), "HolderEligibilityExpired")


async def test_statement_for_another_chain_is_refused(system: System) -> None:
    """INV-006: a statement names its chain; another chain's statement does not apply here."""
    wallet = (await system.funded_account()).address
    await expect_revert(system, register_fn(system, await system.eligibility(wallet, chainId=1)), "HolderWrongChain")
    await system.register_holder(wallet)
    await expect_revert(system, revoke_fn(system, await revocation(system, wallet, chainId=1)), "HolderWrongChain")


async def test_replayed_or_older_statement_is_refused(system: System) -> None:
    """INV-006: the same statement twice, or an older one, does not apply."""
    wallet = (await system.funded_account()).address
    message = await system.eligibility(wallet)
    await system.transact(register_fn(system, message))
    await expect_revert(system, register_fn(system, message), "HolderStatementStale")
    older = {**message, "validFrom": message["validFrom"] - 10}
    await expect_revert(system, register_fn(system, older), "HolderStatementStale")
    newer = {**message, "validFrom": message["validFrom"] + 1, "country": 392}
    await system.transact(register_fn(system, newer))
    assert await system.chain.call(system.holders.functions.investorCountry(wallet)) == 392


async def test_statement_from_the_future_is_refused(system: System) -> None:
    """INV-006: a statement dated beyond the clock skew cannot block later ones."""
    wallet = (await system.funded_account()).address
    message = await system.eligibility(wallet, validFrom=await system.now() + 3600)
    await expect_revert(system, register_fn(system, message), "HolderStatementFromFuture")


async def test_revocation_cannot_be_undone_by_replay(system: System) -> None:
    """INV-006/INV-004: after an attested revocation the holder is unverified, transfers to it revert,
    and replaying the earlier eligibility does not restore it."""
    wallet = (await system.funded_account()).address
    message = await system.eligibility(wallet)
    await system.transact(register_fn(system, message))
    await system.mint(wallet, 5, 1)
    revoke = await revocation(system, wallet)
    receipt = await system.transact(revoke_fn(system, revoke))
    [event] = events(system.holders, "HolderRevoked", receipt)
    assert event["reason"] == 1
    assert not await system.chain.call(system.holders.functions.isVerified(wallet))
    await expect_revert(system, register_fn(system, message), "HolderStatementStale")
    await expect_revert(system, revoke_fn(system, revoke), "HolderStatementStale")
    with pytest.raises(ContractReverted) as info:
        await system.mint(wallet, 1, 2)
    assert info.value.error == "TransferToUnverified"
    renewed = await system.eligibility(wallet, validFrom=revoke["issuedAt"] + 1)
    await system.transact(register_fn(system, renewed))
    assert await system.chain.call(system.holders.functions.isVerified(wallet))


async def test_revoking_an_unknown_wallet_reverts(system: System) -> None:
    """INV-006: only existing entries are revoked."""
    wallet = (await system.funded_account()).address
    await expect_revert(system, revoke_fn(system, await revocation(system, wallet)), "HolderUnknown")


async def test_zero_holder_id_and_unattested_writes_are_refused(system: System) -> None:
    """INV-007: entries need an attestation; an empty holder id is refused."""
    wallet = (await system.funded_account()).address
    await expect_revert(
        system, register_fn(system, await system.eligibility(wallet, holderId=b"\0" * 32)), "HolderIdZero"
    )
    message = await system.eligibility(wallet)
    await expect_revert(system, system.holders.functions.registerHolder(message, []), "AttestorThresholdNotMet")


async def test_scope_limits_eligibility_to_one_security(system: System) -> None:
    """INV-004: an eligibility scoped to one security does not cover another."""
    wallet = await system.register_holder(scope=BOND.security_id)
    assert await system.chain.call(system.holders.functions.isEligible(wallet, BOND.security_id))
    assert not await system.chain.call(system.holders.functions.isEligible(wallet, EQUITY.security_id))
    await system.mint(wallet, 1, 1, securityId=BOND.security_id)
    with pytest.raises(ContractReverted) as info:
        await system.mint(wallet, 1, 2)
    assert info.value.error == "TransferToUnverified"
