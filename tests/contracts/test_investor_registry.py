"""InvestorRegistry on anvil: registration, verification, expiry, revocation and every revert."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3.contract import AsyncContract

from relayer.edges.evm.artifacts import Artifacts
from relayer.edges.evm.client import ChainClient, ContractReverted

pytestmark = pytest.mark.integration
INVESTOR_ID = b"\x11" * 32
YEAR = 365 * 24 * 3600


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
