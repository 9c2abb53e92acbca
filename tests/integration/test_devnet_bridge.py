"""The seeded devnet is a working bridge: devnet attestor keys authorize a mint to an eligible holder,
an unverified address cannot receive a transfer, every investor holds every security, links are on chain."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from eth_account import Account

from attestations.eip712 import Domain, digest
from attestations.keys import Secp256k1Signer, sign_ordered
from relayer.devtools.devnet import control
from relayer.devtools.devnet.cast import ATTESTOR_IDS, ATTESTOR_THRESHOLD, attestor_account
from relayer.devtools.devnet.manifest import Manifest
from relayer.edges.evm.artifacts import Artifacts
from relayer.edges.evm.client import ChainClient, ContractReverted, RevertDecoder

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Manifest]:
    root = tmp_path_factory.mktemp("devnet")
    try:
        yield asyncio.run(control.up(root))
    finally:
        control.down(root)


async def test_every_investor_holds_every_security_and_links_are_recorded(
    manifest: Manifest, artifacts: Artifacts
) -> None:
    """INV-011: the registry is seeded: units held by verified investors, wallet links on chain."""
    async with ChainClient(manifest.registry.rpc_url, RevertDecoder.from_artifacts(artifacts)) as chain:
        links = chain.contract(artifacts.get("WalletLinks"), manifest.registry.contracts["walletLinks"])
        for security in manifest.securities:
            token = chain.contract(artifacts.get("SecurityToken"), security.registry_token)
            assert await chain.call(token.functions.securityId()) == bytes.fromhex(security.id[2:])
            for investor in manifest.investors:
                assert await chain.call(token.functions.balanceOf(investor.registry_address)) > 0
        for investor in manifest.investors:
            for chain_id, wallet in investor.wallets.items():
                linked = await chain.call(links.functions.linkedWallet(investor.registry_address, int(chain_id)))
                assert linked == wallet.address


async def test_eligible_holder_receives_an_attested_mint_and_unverified_cannot_receive(
    manifest: Manifest, artifacts: Artifacts
) -> None:
    """INV-004/INV-007: devnet attestor keys authorize a mint to a seeded eligible holder; a transfer
    to an unverified address reverts; the ineligible investor's wallet is not whitelisted."""
    ethereum = manifest.public[0]
    security = manifest.securities[0]
    eligible = [
        i
        for i in manifest.investors
        if i.wallets.get(str(ethereum.chain_id), None) and i.wallets[str(ethereum.chain_id)].eligible
    ]
    ineligible = [
        i
        for i in manifest.investors
        if str(ethereum.chain_id) in i.wallets and not i.wallets[str(ethereum.chain_id)].eligible
    ]
    assert len(eligible) >= 2
    assert len(ineligible) == 1
    holder = eligible[0].wallets[str(ethereum.chain_id)]
    message = {
        "sourceChainId": manifest.registry.chain_id,
        "sourceNonce": 1_000_000,
        "securityId": bytes.fromhex(security.id[2:]),
        "sender": eligible[0].registry_address,
        "recipient": holder.address,
        "amount": 7,
        "lockedUntil": 0,
    }
    gateway_address = ethereum.contracts["gateway"]
    signers = [Secp256k1Signer(attestor_account(a).key) for a in ATTESTOR_IDS][:ATTESTOR_THRESHOLD]
    signatures = sign_ordered(
        digest("TransferAuthorization", Domain(ethereum.chain_id, gateway_address), message), signers
    )
    async with ChainClient(ethereum.rpc_url, RevertDecoder.from_artifacts(artifacts)) as chain:
        gateway = chain.contract(artifacts.get("BridgeGateway"), gateway_address)
        wrapped = chain.contract(artifacts.get("WrappedSecurity"), security.wrapped[str(ethereum.chain_id)])
        relayer = Account.create()
        await chain.rpc("anvil_setBalance", [relayer.address, hex(10**18)])
        await chain.transact(gateway.functions.mint(message, signatures), relayer)  # anyone may submit
        assert await chain.call(wrapped.functions.balanceOf(holder.address)) == 7

        holders = chain.contract(artifacts.get("HolderRegistry"), ethereum.contracts["holderRegistry"])
        bob_wallet = ineligible[0].wallets[str(ethereum.chain_id)].address
        assert not await chain.call(holders.functions.isVerified(bob_wallet))
        holder_account = Account.from_key(holder.key)
        with pytest.raises(ContractReverted) as info:
            await chain.transact(wrapped.functions.transfer(bob_wallet, 1), holder_account)
        assert info.value.error == "TransferToUnverified"
        other = eligible[1].wallets[str(ethereum.chain_id)].address
        await chain.transact(wrapped.functions.transfer(other, 2), holder_account)
        assert await chain.call(wrapped.functions.balanceOf(other)) == 2
