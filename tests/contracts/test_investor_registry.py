"""InvestorRegistry on anvil: registration, verification, expiry, revocation, KYC claim anchors and every
revert."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from web3.contract import AsyncContract

from relayer.edges.evm.artifacts import Artifacts
from relayer.edges.evm.client import ChainClient, ContractReverted

pytestmark = pytest.mark.integration
INVESTOR_ID = b"\x11" * 32
YEAR = 365 * 24 * 3600
ZERO_DIGEST = b"\x00" * 32
AGENT_ROLE = keccak(text="AGENT_ROLE")


def claim_digest(n: int) -> bytes:
    """A stand-in for the EIP-712 digest of the ``n``-th signed ``KycClaim``."""
    return keccak(text=f"kyc-claim/{n}")


@pytest.fixture
async def registry(chain: ChainClient, artifacts: Artifacts, deployer: LocalAccount) -> AsyncContract:
    address = await chain.deploy(artifacts.get("InvestorRegistry"), deployer, deployer.address)
    return chain.contract(artifacts.get("InvestorRegistry"), address)


async def now(chain: ChainClient) -> int:
    return int((await chain.w3.eth.get_block("latest"))["timestamp"])


async def test_register_then_verified_until_expiry(
    chain: ChainClient, registry: AsyncContract, deployer: LocalAccount
) -> None:
    wallet = Account.create().address
    expiry = await now(chain) + 100
    receipt = await chain.transact(registry.functions.registerInvestor(wallet, INVESTOR_ID, 410, 1, expiry), deployer)
    [event] = registry.events.InvestorRegistered().process_receipt(receipt)
    assert event["args"]["wallet"] == wallet and event["args"]["country"] == 410
    assert await chain.call(registry.functions.isVerified(wallet))
    assert await chain.call(registry.functions.investorCountry(wallet)) == 410
    assert await chain.call(registry.functions.investorIdOf(wallet)) == INVESTOR_ID
    assert await chain.call(registry.functions.investorClass(wallet)) == 1
    assert await chain.call(registry.functions.kycExpiry(wallet)) == expiry
    await chain.rpc("evm_increaseTime", [101])
    await chain.rpc("evm_mine", [])
    assert not await chain.call(registry.functions.isVerified(wallet))


async def test_revocation_and_reregistration(
    chain: ChainClient, registry: AsyncContract, deployer: LocalAccount
) -> None:
    wallet = Account.create().address
    expiry = await now(chain) + YEAR
    await chain.transact(registry.functions.registerInvestor(wallet, INVESTOR_ID, 840, 2, expiry), deployer)
    receipt = await chain.transact(registry.functions.revokeInvestor(wallet), deployer)
    assert registry.events.InvestorRevoked().process_receipt(receipt)[0]["args"]["investorId"] == INVESTOR_ID
    assert not await chain.call(registry.functions.isVerified(wallet))
    await chain.transact(registry.functions.registerInvestor(wallet, INVESTOR_ID, 840, 2, expiry), deployer)
    assert await chain.call(registry.functions.isVerified(wallet))


@pytest.mark.parametrize(
    ("wallet", "investor_id", "country", "expiry_delta", "error"),
    [
        ("0x" + "00" * 20, INVESTOR_ID, 410, YEAR, "InvestorZeroAddress"),
        (None, b"\x00" * 32, 410, YEAR, "InvestorIdZero"),
        (None, INVESTOR_ID, 0, YEAR, "InvestorCountryInvalid"),
        (None, INVESTOR_ID, 1000, YEAR, "InvestorCountryInvalid"),
        (None, INVESTOR_ID, 410, 0, "InvestorKycExpired"),
    ],
)
async def test_register_reverts(
    chain: ChainClient,
    registry: AsyncContract,
    deployer: LocalAccount,
    wallet: str | None,
    investor_id: bytes,
    country: int,
    expiry_delta: int,
    error: str,
) -> None:
    target = wallet or Account.create().address
    fn = registry.functions.registerInvestor(target, investor_id, country, 0, await now(chain) + expiry_delta)
    with pytest.raises(ContractReverted) as info:
        await chain.transact(fn, deployer)
    assert info.value.error == error


async def test_only_agents_write(chain: ChainClient, registry: AsyncContract, deployer: LocalAccount) -> None:
    outsider = Account.create()
    await chain.rpc("anvil_setBalance", [outsider.address, hex(10**18)])
    fn = registry.functions.registerInvestor(outsider.address, INVESTOR_ID, 410, 0, await now(chain) + YEAR)
    with pytest.raises(ContractReverted) as info:
        await chain.transact(fn, outsider)
    assert info.value.error == "AccessControlUnauthorizedAccount"
    with pytest.raises(ContractReverted) as info:
        await chain.transact(registry.functions.revokeInvestor(Account.create().address), deployer)
    assert info.value.error == "InvestorUnknown"


async def registered(chain: ChainClient, registry: AsyncContract, deployer: LocalAccount) -> str:
    """A new address registered for ``INVESTOR_ID`` for a year."""
    wallet: str = Account.create().address
    expiry = await now(chain) + YEAR
    await chain.transact(registry.functions.registerInvestor(wallet, INVESTOR_ID, 410, 1, expiry), deployer)
    return wallet


async def test_claim_anchor_moves_forward(chain: ChainClient, registry: AsyncContract, deployer: LocalAccount) -> None:
    """INV-012: anchoring emits ClaimAnchored with its arguments and claimOf returns the latest anchor."""
    await registered(chain, registry, deployer)
    assert await chain.call(registry.functions.claimOf(INVESTOR_ID)) == [ZERO_DIGEST, 0]
    for digest, sequence in ((claim_digest(1), 1), (claim_digest(2), 7)):
        receipt = await chain.transact(registry.functions.anchorClaim(INVESTOR_ID, digest, sequence), deployer)
        [event] = registry.events.ClaimAnchored().process_receipt(receipt)
        assert dict(event["args"]) == {"investorId": INVESTOR_ID, "digest": digest, "sequence": sequence}
        assert await chain.call(registry.functions.claimOf(INVESTOR_ID)) == [digest, sequence]


@pytest.mark.parametrize("sequence", [7, 6, 0], ids=["same", "older", "zero"])
async def test_claim_anchor_refuses_a_sequence_not_above_the_current(
    chain: ChainClient, registry: AsyncContract, deployer: LocalAccount, sequence: int
) -> None:
    """INV-012: a replayed or older claim (same or lower sequence) cannot replace the anchored one."""
    await registered(chain, registry, deployer)
    await chain.transact(registry.functions.anchorClaim(INVESTOR_ID, claim_digest(7), 7), deployer)
    with pytest.raises(ContractReverted) as info:
        await chain.transact(registry.functions.anchorClaim(INVESTOR_ID, claim_digest(sequence), sequence), deployer)
    assert (info.value.error, info.value.args_) == ("ClaimSequenceNotIncreasing", (7, sequence))
    assert await chain.call(registry.functions.claimOf(INVESTOR_ID)) == [claim_digest(7), 7]


async def test_first_claim_anchor_needs_a_positive_sequence(
    chain: ChainClient, registry: AsyncContract, deployer: LocalAccount
) -> None:
    """INV-012: with no anchor the current sequence is zero, so the first claim needs sequence >= 1."""
    await registered(chain, registry, deployer)
    with pytest.raises(ContractReverted) as info:
        await chain.transact(registry.functions.anchorClaim(INVESTOR_ID, claim_digest(0), 0), deployer)
    assert (info.value.error, info.value.args_) == ("ClaimSequenceNotIncreasing", (0, 0))
    assert await chain.call(registry.functions.claimOf(INVESTOR_ID)) == [ZERO_DIGEST, 0]


async def test_claim_anchor_reverts(chain: ChainClient, registry: AsyncContract, deployer: LocalAccount) -> None:
    """INV-012: only a registered investor gets an anchor, and never a zero digest."""
    stranger = keccak(text="an investor never registered")
    with pytest.raises(ContractReverted) as info:
        await chain.transact(registry.functions.anchorClaim(stranger, claim_digest(1), 1), deployer)
    assert (info.value.error, info.value.args_) == ("InvestorIdUnknown", (stranger,))
    await registered(chain, registry, deployer)
    with pytest.raises(ContractReverted) as info:
        await chain.transact(registry.functions.anchorClaim(INVESTOR_ID, ZERO_DIGEST, 1), deployer)
    assert (info.value.error, info.value.args_) == ("ClaimDigestZero", ())
    assert await chain.call(registry.functions.claimOf(stranger)) == [ZERO_DIGEST, 0]
    assert await chain.call(registry.functions.claimOf(INVESTOR_ID)) == [ZERO_DIGEST, 0]


async def test_reregistration_keeps_the_claim_anchor(
    chain: ChainClient, registry: AsyncContract, deployer: LocalAccount
) -> None:
    """INV-012: revoking and registering the investor again (at the same or another address) keeps its anchor,
    so an older claim still cannot be replayed afterwards; a revoked investor stays known and can be anchored."""
    wallet = await registered(chain, registry, deployer)
    await chain.transact(registry.functions.anchorClaim(INVESTOR_ID, claim_digest(3), 3), deployer)
    await chain.transact(registry.functions.revokeInvestor(wallet), deployer)
    assert await chain.call(registry.functions.claimOf(INVESTOR_ID)) == [claim_digest(3), 3]
    await chain.transact(registry.functions.anchorClaim(INVESTOR_ID, claim_digest(4), 4), deployer)
    expiry = await now(chain) + YEAR
    await chain.transact(registry.functions.registerInvestor(wallet, INVESTOR_ID, 840, 2, expiry), deployer)
    await registered(chain, registry, deployer)  # another address of the same investor
    assert await chain.call(registry.functions.isVerified(wallet))
    assert await chain.call(registry.functions.claimOf(INVESTOR_ID)) == [claim_digest(4), 4]
    with pytest.raises(ContractReverted) as info:
        await chain.transact(registry.functions.anchorClaim(INVESTOR_ID, claim_digest(2), 2), deployer)
    assert (info.value.error, info.value.args_) == ("ClaimSequenceNotIncreasing", (4, 2))


async def test_only_agents_anchor_claims(chain: ChainClient, registry: AsyncContract, deployer: LocalAccount) -> None:
    """INV-012: a non-agent account cannot anchor a claim, not even for itself."""
    outsider = Account.create()
    await chain.rpc("anvil_setBalance", [outsider.address, hex(10**18)])
    await registered(chain, registry, deployer)
    for target in (INVESTOR_ID, keccak(text="the outsider's own id")):
        with pytest.raises(ContractReverted) as info:
            await chain.transact(registry.functions.anchorClaim(target, claim_digest(1), 1), outsider)
        assert (info.value.error, info.value.args_) == (
            "AccessControlUnauthorizedAccount",
            (outsider.address, AGENT_ROLE),
        )
    assert await chain.call(registry.functions.claimOf(INVESTOR_ID)) == [ZERO_DIGEST, 0]
