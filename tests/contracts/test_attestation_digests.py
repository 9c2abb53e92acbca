"""The attestations package's EIP-712 digests equal the contracts' own `EIP712` hashing on anvil."""

from __future__ import annotations

import pytest
from eth_account import Account

from attestations.eip712 import hash_struct
from attestations.kinds import (
    HolderEligibility,
    HolderRevocation,
    RefundAuthorization,
    ReleaseAuthorization,
    TransferAuthorization,
)
from tests.contracts.system import EQUITY, System

pytestmark = pytest.mark.integration


async def test_transfer_authorization_digest(system: System) -> None:
    """INV-007: the gateway's digest of a TransferAuthorization is ours."""
    statement = TransferAuthorization(
        system.chain_id, 2**64 - 1, EQUITY.security_id, system.admin.address, Account.create().address, 2**255, 2**63
    )
    on_chain = await system.chain.call(system.gateway.functions.transferDigest(statement.as_tuple()))
    assert on_chain == statement.digest(system.domain(system.public.gateway))


async def test_release_and_refund_digests(system: System) -> None:
    """INV-003/INV-008: the escrow's digests of release and refund statements are ours."""
    release = ReleaseAuthorization(31338, 9, EQUITY.security_id, Account.create().address, system.admin.address, 12345)
    on_chain = await system.chain.call(system.escrow.functions.releaseDigest(release.as_tuple()))
    assert on_chain == release.digest(system.domain(system.registry.escrow))

    investor = await system.investor(units=50)
    nonce = await system.bridge_out(investor, 30, Account.create().address)
    refund = RefundAuthorization(nonce, system.token().address, investor.address, 30, 7)
    on_chain = await system.chain.call(system.escrow.functions.refundDigest(nonce, 7))
    assert on_chain == refund.digest(system.domain(system.registry.escrow))


async def test_holder_statement_digests(system: System) -> None:
    """INV-006: the holder registry's digests of eligibility and revocation statements are ours."""
    wallet = Account.create().address
    eligibility = HolderEligibility(
        b"\x01" * 32, wallet, system.chain_id, 840, 2, EQUITY.security_id, b"\x02" * 32, 1, 2**64 - 1
    )
    domain = system.domain(system.public.holder_registry)
    assert await system.chain.call(
        system.holders.functions.eligibilityDigest(eligibility.as_tuple())
    ) == eligibility.digest(domain)
    revocation = HolderRevocation(wallet, system.chain_id, 3, 1_790_000_000)
    assert await system.chain.call(
        system.holders.functions.revocationDigest(revocation.as_tuple())
    ) == revocation.digest(domain)


async def test_domain_separator(system: System) -> None:
    """INV-007: every Attested contract uses domain {Dari, 1, chain id, its address}."""
    for address, contract in ((system.public.gateway, system.gateway), (system.registry.escrow, system.escrow)):
        expected = hash_struct("EIP712Domain", system.domain(address).to_json())
        assert await system.chain.call(contract.functions.domainSeparator()) == expected
