"""The relayer on a real devnet (3 anvil chains, 3 attestor processes, a relayer process), on SQLite and
PostgreSQL: mints, releases, refunds, escalations, and supply conservation (INV-001)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from eth_account import Account

from attestations.attestation import Attestation
from attestations.kinds import OperatorDecision
from relayer.core.transfer_state import State
from relayer.devtools.devnet import control
from relayer.devtools.devnet.cast import DEPLOYER_KEY
from relayer.devtools.devnet.holders import approve_seeded_holders
from tests.support import postgres
from tests.support.bridge import Bridge

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def devnet(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    root = tmp_path_factory.mktemp(f"relay-{request.param}")
    asyncio.run(control.up(root, relayer=False))
    name = None
    try:
        if request.param == "sqlite":
            url = f"sqlite:///{root / 'relay.db'}"
        else:
            admin = request.getfixturevalue("pg_admin")
            name = f"dari_relay_{int(time.time() * 1000) % 10**9}"
            asyncio.run(postgres.create_database(admin, name))
            url = postgres.with_database(admin, name)
        yield root, url
    finally:
        control.down(root)
        if name is not None:
            asyncio.run(postgres.drop_database(request.getfixturevalue("pg_admin"), name))


@pytest.fixture
async def bridge(devnet: tuple[Path, str]) -> AsyncIterator[Bridge]:
    root, url = devnet
    async with Bridge(root, url) as b:
        if not b.processes.running() or "relayer" not in {r.name for r in b.processes.running()}:
            await b.start_relayer()
            await approve_seeded_holders(root)
        yield b


async def dari(bridge: Bridge, *args: str) -> subprocess.CompletedProcess[str]:
    """The real CLI, pointed at the relayer's database, run off the event loop."""
    argv = [sys.executable, "-m", "relayer", *args]
    return await asyncio.to_thread(subprocess.run, argv, capture_output=True, text=True, timeout=60, env=bridge.env())


async def test_bridge_out_mints_on_each_public_chain(bridge: Bridge) -> None:
    """INV-002/INV-004: an eligible holder's bridge-outs are minted once on the chain they name."""
    before = await bridge.wrapped_balance("Minjun", "ethereum"), await bridge.wrapped_balance("Minjun", "rollup")
    ids = await bridge.bridge_out("Minjun", 7, "ethereum") + await bridge.bridge_out("Minjun", 5, "rollup")
    done = await bridge.wait(ids, {State.CONFIRMED})
    assert all(op.dest_tx_hash for op in done.values())
    assert await bridge.wrapped_balance("Minjun", "ethereum") == before[0] + 7
    assert await bridge.wrapped_balance("Minjun", "rollup") == before[1] + 5
    first = done[ids[0]]
    attestations = await bridge.store.attestations_of(first.id)
    assert len(attestations) == 1
    assert first.attestation == attestations[0]


async def test_bridge_back_releases_on_the_registry(bridge: Bridge) -> None:
    """INV-003: a burn on a public chain is released once on the registry, after its confirmations, to the
    burner's own registry address even when the burn names another investor (no passing units on that way)."""
    [out] = await bridge.bridge_out("Minjun", 4, "ethereum")
    await bridge.wait([out], {State.CONFIRMED})
    balance, locked, lena = (
        await bridge.registry_balance("Minjun"),
        await bridge.locked(),
        await bridge.registry_balance("Lena"),
    )
    back = await bridge.bridge_back("Minjun", 3, "ethereum")
    elsewhere = await bridge.bridge_back("Minjun", 1, "ethereum", to="Lena")
    done = await bridge.wait([back, elsewhere], {State.CONFIRMED})
    assert done[back].kind.value == "bridge-back"
    assert done[elsewhere].recipient == bridge.investor("Minjun").registry_address
    assert await bridge.registry_balance("Minjun") == balance + 4
    assert await bridge.registry_balance("Lena") == lena
    assert await bridge.locked() == locked - 4


async def test_ineligible_recipient_is_refunded_with_reason(bridge: Bridge) -> None:
    """INV-008: a bridge-out to a wallet that is not a verified holder is refunded to its sender."""
    balance = await bridge.registry_balance("Bob")
    [op_id] = await bridge.bridge_out("Bob", 10, "ethereum")
    done = await bridge.wait([op_id], {State.REFUNDED})
    assert (done[op_id].reason, done[op_id].reason_code) == ("recipient-not-verified", 1)
    assert await bridge.registry_balance("Bob") == balance
    refunds = await bridge.logs(bridge.registry, bridge.manifest.registry.contracts["escrow"], "Refunded")
    nonce = int(op_id.split("-")[1])
    assert [r["reason"] for r in refunds if r["nonce"] == nonce] == [1]


async def test_escalated_transfer_is_held_then_approved_or_rejected(bridge: Bridge) -> None:
    """An ESCALATE (KR offshore distribution is unverified) is held for an operator; the compliance officer's
    signed approval (``dari transfers approve``, with the officer's own key) delivers under the destination's
    conditions (US Rule 144 lock-up), the signed rejection refunds (reason 4); each decision is stored, logged
    and named by its operation."""
    config = str(bridge.root / "dari.toml")
    [approved, rejected] = await bridge.bridge_out("Alice", 6, "ethereum", count=2)
    held = await bridge.wait([approved, rejected], {State.HELD})
    assert held[approved].reason == "unverified-rule"
    listed = await dari(bridge, "transfers", "list", "--config", config, "--state", "held", "--json")
    assert approved in listed.stdout
    for action, op_id in (("approve", approved), ("reject", rejected)):
        result = await dari(bridge, "transfers", action, "--config", config, op_id, "--reason", "reviewed offer")
        assert result.returncode == 0, result.stderr
    done = await bridge.wait([approved], {State.CONFIRMED})
    refunded = await bridge.wait([rejected], {State.REFUNDED})
    assert refunded[rejected].reason_code == 4
    locked_until = done[approved].locked_until
    assert locked_until is not None
    assert locked_until > time.time() + 300 * 86_400  # Rule 144: one year for a non-reporting issuer
    chain_id = bridge.chain_id("ethereum")
    wrapped = bridge.contract("WrappedSecurity", chain_id, bridge.manifest.securities[0].wrapped[str(chain_id)])
    wallet = bridge.investor("Alice").wallets[str(chain_id)].address
    assert await wrapped.functions.lockedUntil(wallet).call() == done[approved].locked_until
    for op_id, approve in ((approved, True), (rejected, False)):
        digest = (await bridge.store.get(op_id)).payload["decision"]
        document = await bridge.store.attestation(digest)
        assert document is not None and "log" in document
        decision = Attestation.parse(document).statement
        assert isinstance(decision, OperatorDecision)
        assert (decision.approve, decision.officer, decision.reason) == (approve, "officer-1", "reviewed offer")
        assert digest not in await bridge.store.attestations_of(op_id)  # the attestors' statements only
    again = await dari(bridge, "transfers", "approve", "--config", config, approved, "--reason", "again")
    assert again.returncode == 1  # a confirmed transfer cannot be approved again


async def test_locked_units_equal_wrapped_supply(bridge: Bridge) -> None:
    """INV-001: once nothing is in flight, units locked on the registry equal the wrapped supply."""
    pending = [
        op
        for op in await bridge.store.find(limit=10_000)
        if op.state not in (State.CONFIRMED, State.REFUNDED, State.REJECTED, State.DROPPED)
    ]
    assert pending == []
    assert await bridge.locked() == await bridge.wrapped_supply()


async def holder_ops(bridge: Bridge, kind: str, wallet: str, state: State, timeout: float = 60) -> list[str]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        found = [op for op in await bridge.store.find(limit=10_000) if op.kind.value == kind and op.recipient == wallet]
        if found and all(op.state == state for op in found):
            return [op.id for op in found]
        assert asyncio.get_running_loop().time() < deadline, [(op.id, op.state) for op in found]
        await asyncio.sleep(0.3)


async def test_registry_freeze_and_revocation_reach_the_public_chain(bridge: Bridge) -> None:
    """INV-004/INV-006: an agent's freeze (and unfreeze) and a KYC revocation on the registry are
    propagated, attested, to the holder registry of every public chain the investor linked."""
    agent = Account.from_key(DEPLOYER_KEY)
    rollup = bridge.chain_id("rollup")
    holders = bridge.contract(
        "HolderRegistry",
        rollup,
        next(c.contracts["holderRegistry"] for c in bridge.manifest.public if c.chain_id == rollup),
    )
    registry_client = bridge.clients[bridge.registry]
    wei = bridge.investor("Wei")
    wei_wallet = wei.wallets[str(rollup)].address
    token = bridge.contract("SecurityToken", bridge.registry, bridge.manifest.securities[0].registry_token)
    assert await holders.functions.isVerified(wei_wallet).call()
    await registry_client.transact(token.functions.setAddressFrozen(wei.registry_address, True), agent)
    await holder_ops(bridge, "holder-revoke", wei_wallet, State.CONFIRMED)
    assert not await holders.functions.isVerified(wei_wallet).call()
    await registry_client.transact(token.functions.setAddressFrozen(wei.registry_address, False), agent)
    deadline = asyncio.get_running_loop().time() + 60
    while not await holders.functions.isVerified(wei_wallet).call():
        assert asyncio.get_running_loop().time() < deadline, "unfreeze did not re-register the wallet"
        await asyncio.sleep(0.3)

    yuki = bridge.investor("Yuki")
    yuki_wallet = yuki.wallets[str(rollup)].address
    investors = bridge.contract(
        "InvestorRegistry", bridge.registry, bridge.manifest.registry.contracts["investorRegistry"]
    )
    await registry_client.transact(investors.functions.revokeInvestor(yuki.registry_address), agent)
    await holder_ops(bridge, "holder-revoke", yuki_wallet, State.CONFIRMED)
    assert not await holders.functions.isVerified(yuki_wallet).call()
