"""Gas of the bridge's hot operations, printed as a table (quoted in docs/performance.md)."""

from __future__ import annotations

import pytest

from tests.contracts.system import EQUITY, System

pytestmark = pytest.mark.integration

# Upper bounds that catch regressions; the printed table has the measured numbers.
BOUNDS = {
    "registerHolder (2 of 3 signatures)": 200_000,
    "mint, new holder (2 of 3 signatures)": 200_000,
    "mint, existing holder": 150_000,
    "mintBatch of 10, per mint": 100_000,
    "bridgeBack": 100_000,
    "bridgeOut (registry)": 200_000,
    "release (2 of 3 signatures)": 150_000,
    "refund (2 of 3 signatures)": 150_000,
}


async def test_gas_table(system: System, capsys: pytest.CaptureFixture[str]) -> None:
    gas: dict[str, int] = {}
    account = await system.funded_account()
    message = await system.eligibility(account.address)
    signatures = system.sign("HolderEligibility", system.public.holder_registry, message)
    receipt = await system.transact(system.holders.functions.registerHolder(message, signatures))
    gas["registerHolder (2 of 3 signatures)"] = receipt["gasUsed"]
    holder = account.address
    gas["mint, new holder (2 of 3 signatures)"] = (await system.mint(holder, 100, 1))["gasUsed"]
    gas["mint, existing holder"] = (await system.mint(holder, 100, 2))["gasUsed"]
    batch = [system.authorization(holder, 1, n) for n in range(10, 20)]
    batch_signatures = [system.sign("TransferAuthorization", system.public.gateway, m) for m in batch]
    receipt = await system.transact(system.gateway.functions.mintBatch(batch, batch_signatures))
    gas["mintBatch of 10, per mint"] = receipt["gasUsed"] // 10
    back = system.gateway.functions.bridgeBack(system.wrapped().address, 5, system.admin.address)
    gas["bridgeBack"] = (await system.transact(back, account))["gasUsed"]

    investor = await system.investor(units=1000)
    token = system.token()
    await system.transact(token.functions.approve(system.registry.escrow, 1000), investor)
    out = system.escrow.functions.bridgeOut(token.address, 100, system.chain_id, holder)
    gas["bridgeOut (registry)"] = (await system.transact(out, investor))["gasUsed"]
    nonce = await system.bridge_out(investor, 100, holder)
    release = {
        "sourceChainId": system.chain_id,
        "sourceNonce": 1,
        "securityId": EQUITY.security_id,
        "holder": holder,
        "recipient": investor.address,
        "amount": 50,
    }
    signed = system.sign("ReleaseAuthorization", system.registry.escrow, release)
    gas["release (2 of 3 signatures)"] = (await system.transact(system.escrow.functions.release(release, signed)))[
        "gasUsed"
    ]
    refund = {"nonce": nonce, "token": token.address, "sender": investor.address, "amount": 100, "reason": 1}
    signed = system.sign("RefundAuthorization", system.registry.escrow, refund)
    gas["refund (2 of 3 signatures)"] = (await system.transact(system.escrow.functions.refund(nonce, 1, signed)))[
        "gasUsed"
    ]

    with capsys.disabled():
        print("\n| operation | gas |\n|---|---:|")
        for name, used in gas.items():
            print(f"| {name} | {used:,} |")
    assert set(gas) == set(BOUNDS)
    over = {name: used for name, used in gas.items() if used > BOUNDS[name]}
    assert over == {}
