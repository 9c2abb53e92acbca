"""The attacks on the attestors' trust model, each run as an outside attacker would: direct requests to the
attestors (anyone may reach them), without the relayer, with whatever statement, claim or decision the
attacker can make. Each attestor decides again itself (`attestor.decisions`) and refuses; nothing changes on
chain. The same flows go through when the rules or a compliance officer's signed decision allow them
(here, and through the relayer in tests/integration/test_relay.py).

A relayer that is itself malicious is a test double sending the attestors whatever it likes; attestors
deciding with skewed clocks still reach one statement."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from eth_account import Account
from web3.logs import DISCARD

from attestations.attestation import Attestation
from attestations.eip712 import Domain
from attestations.keys import Ed25519Signer, Secp256k1Signer
from attestations.kinds import HolderRevocation, KycClaim, ReleaseAuthorization, Statement
from attestations.signing import AttestorKey, attest
from attestor.checks import Checker
from attestor.decisions import Rules, Shown
from attestor.journal import Journal
from attestor.reads import AttestorReads
from attestor.requests import SignRequest
from attestor.service import Attestor, recognizer, rpc_urls
from attestor.topology import Topology
from relayer.core.constants import EscrowStatus, RevokeReason
from relayer.core.errors import AttestationRefused, NotYetAttested
from relayer.core.events import LogRef
from relayer.core.records import EscrowRequest
from relayer.core.signed import signing_key
from relayer.devtools.devnet.cast import ATTESTOR_IDS, CAST, DEPLOYER_KEY, kyc_claim
from relayer.edges.attestor_client import gather, gather_many
from relayer.edges.evm.artifacts import Artifacts
from relayer.edges.evm.client import ChainClient, ContractReverted, RevertDecoder
from relayer.edges.evm.reads import RpcChainReads
from tests.support.attestors import (
    Env,
    ask,
    block_time,
    bridge_out,
    decision_about,
    eligibility_of,
    gateway_domain,
    holders_domain,
    refund_of,
    shown,
    transfer_of,
)

pytestmark = pytest.mark.integration

RULE_144 = 365 * 24 * 3600  # the US lock-up of a non-reporting issuer's security (docs/jurisdictions)
NEVER = 2**64 - 1


async def refused_by_all(
    env: Env, statement: Statement, domain: Domain, context: Mapping[str, Any] | None = None
) -> set[str]:
    """Asks every attestor; the reason codes they refuse with (the test fails if one of them signs)."""
    answers = await asyncio.gather(*(ask(env, a, statement, domain, context) for a in ATTESTOR_IDS))
    assert all(status == 409 for status, _ in answers), answers
    return {body["reason"] for _, body in answers}


def fresh_key(calls_itself: str) -> AttestorKey:
    """A fresh key pair calling itself ``calls_itself``."""
    return AttestorKey(calls_itself, Ed25519Signer(secrets.token_bytes(32)), Secp256k1Signer(secrets.token_bytes(32)))


def skewed(seconds: float) -> Callable[[], float]:
    """A clock ``seconds`` off."""
    return lambda: time.time() + seconds


def forged_officer() -> AttestorKey:
    """A fresh key pair calling itself the devnet's compliance officer."""
    return fresh_key("officer-1")


@pytest.fixture
async def public(env: Env, artifacts: Artifacts) -> AsyncIterator[dict[str, ChainClient]]:
    decoder = RevertDecoder.from_artifacts(artifacts)
    async with (
        ChainClient(env.public("ethereum").rpc_url, decoder) as ethereum,
        ChainClient(env.public("rollup").rpc_url, decoder) as rollup,
    ):
        yield {"ethereum": ethereum, "rollup": rollup}


async def test_attack_1_a_wallet_link_the_rules_deny_is_never_whitelisted(
    env: Env, artifacts: Artifacts, public: dict[str, ChainClient]
) -> None:
    """Self-whitelisting: Bob (a US retail investor) links a wallet; the rules deny it (investor category).
    Asked directly, with the registry's exact facts and his own KYC claim (or without it), no attestor signs his
    eligibility; not even an officer's approval overrides the rules' denial; his wallet stays unverified."""
    statement = await eligibility_of(env, artifacts, "Bob", "ethereum")
    domain, claim = holders_domain(env, "ethereum"), env.claim("Bob")
    assert await refused_by_all(env, statement, domain, shown(claim)) == {"rules-deny"}
    # his claim left out: no KYC evidence, the link is held for an officer, not signed
    assert await refused_by_all(env, statement, domain) == {"operator-decision-required"}
    link = await _link_ref(env, artifacts, "Bob", "ethereum")
    approval = decision_about(env, link)
    assert await refused_by_all(env, statement, domain, shown(claim, approval)) == {"rules-deny"}
    holders = public["ethereum"].contract(
        artifacts.get("HolderRegistry"), env.public("ethereum").contracts["holderRegistry"]
    )
    assert not await holders.functions.isVerified(statement.wallet).call()


async def test_attack_2_a_bridge_out_the_rules_deny_is_refunded_never_minted(
    env: Env, registry: ChainClient, artifacts: Artifacts, public: dict[str, ChainClient]
) -> None:
    """DENY turned into a mint: after a KYC downgrade (the registry anchors Wei's new claim: no longer
    accredited) his bridge-out is denied. He asks for its mint directly: with the new claim the rules deny it;
    replaying his older, still-unexpired claim counts for nothing (not the anchored one: held, no officer).
    The rules' own refund is what the attestors sign, and it refunds."""
    wei = next(m for m in CAST if m.name.startswith("Wei"))
    investors = registry.contract(
        artifacts.get("InvestorRegistry"), env.manifest.registry.contracts["investorRegistry"]
    )
    now = int(time.time())
    downgraded = kyc_claim(
        replace(wei, evidence={"currency": "SGD", "opted_in": False, "income": 50_000, "net_worth": 100_000}),
        Domain(env.registry_chain_id, investors.address), now - 60, now + 365 * 24 * 3600, sequence=2,
    )  # fmt: skip
    old = env.claim("Wei")
    await registry.transact(
        investors.functions.anchorClaim(wei.investor_id, downgraded.digest, 2), Account.from_key(DEPLOYER_KEY)
    )
    event = await bridge_out(env, registry, artifacts, "Wei Tan", "rollup", 5)
    domain = gateway_domain(env, "rollup")
    for lockup in (0, now + 183 * 24 * 3600):
        mint = transfer_of(env, event, lockup)
        assert await refused_by_all(env, mint, domain, shown(downgraded)) == {"rules-deny"}
        assert await refused_by_all(env, mint, domain, shown(old)) == {"operator-decision-required"}
    assert await refused_by_all(env, refund_of(event, 4), env.escrow_domain, shown(downgraded)) == {"reason-mismatch"}
    refund = refund_of(event, 2)  # compliance-deny: the rules' own reason
    signatures = await gather(refund, env.escrow_domain, env.config.attestors, 2, context=shown(downgraded))
    escrow = registry.contract(artifacts.get("BridgeEscrow"), env.manifest.registry.contracts["escrow"])
    await registry.transact(
        escrow.functions.refund(event.nonce, 2, [s.secp256k1 for s in signatures]), Account.create()
    )
    gateway = public["rollup"].contract(artifacts.get("BridgeGateway"), env.public("rollup").contracts["gateway"])
    assert not await gateway.functions.isProcessed(env.registry_chain_id, event.nonce).call()


async def test_attack_3_a_held_bridge_out_needs_the_officer_and_keeps_the_rules_lock_up(
    env: Env, registry: ChainClient, artifacts: Artifacts
) -> None:
    """HOLD skipped, lock-up chosen by the holder: Alice's bridge-out is held (KR offshore distribution
    unverified) under the US Rule 144 lock-up of a year. Asked directly for its mint with no lock-up, with the
    rules' lock-up but no officer, with a forged officer, with the officer's decision about another bridge-out,
    with the officer's rejection, or with a lock-up other than the one the officer kept: refused. The officer's
    approval signs exactly one authorization for the bridge-out: no second one with another lock-up."""
    event = await bridge_out(env, registry, artifacts, "Alice Carter", "ethereum", 4)
    other = await bridge_out(env, registry, artifacts, "Alice Carter", "ethereum", 1)
    claim, domain = env.claim("Alice"), gateway_domain(env, "ethereum")
    lockup = await block_time(registry, event.ref.block_number) + RULE_144
    approval = decision_about(env, event.ref, locked_until=lockup)
    attempts: list[tuple[int, Attestation | None, str]] = [
        (0, None, "operator-decision-required"),
        (lockup, None, "operator-decision-required"),
        (
            lockup,
            decision_about(env, event.ref, locked_until=lockup, key=forged_officer()),
            "operator-decision-invalid",
        ),
        (lockup, decision_about(env, other.ref, locked_until=lockup), "operator-decision-invalid"),
        (lockup, decision_about(env, event.ref, approve=False), "operator-rejected"),
        (0, decision_about(env, event.ref, locked_until=0), "lockup-below-rules"),
        (0, approval, "locked-until-mismatch"),
        (lockup + 1, approval, "locked-until-mismatch"),
    ]
    for locked_until, decision, reason in attempts:
        mint = transfer_of(env, event, locked_until)
        assert await refused_by_all(env, mint, domain, shown(claim, decision)) == {reason}, (locked_until, reason)
    mint = transfer_of(env, event, lockup)
    assert (await ask(env, "att-1", mint, domain, shown(claim, approval)))[0] == 200
    assert len(await gather(mint, domain, env.config.attestors, 2, context=shown(claim, approval))) == 2
    longer = decision_about(env, event.ref, locked_until=lockup + 10)  # the officer changes their mind
    status, body = await ask(env, "att-1", transfer_of(env, event, lockup + 10), domain, shown(claim, longer))
    assert (status, body["reason"]) == (409, "journal-conflict")


async def test_attack_4_nobody_locks_up_someone_elses_balance(
    env: Env, registry: ChainClient, artifacts: Artifacts, public: dict[str, ChainClient]
) -> None:
    """Permanent lock-up of someone else: an outsider asks for the mint of another holder's bridge-out with
    lockedUntil 2^64-1 (lock-ups only ever extend): refused for a held one and for one the rules approve
    without a lock-up; the victim's wrapped balance stays free."""
    held = await bridge_out(env, registry, artifacts, "Alice Carter", "ethereum", 2)
    approved = await bridge_out(env, registry, artifacts, "Minjun Kim", "ethereum", 2)
    domain = gateway_domain(env, "ethereum")
    forged = decision_about(env, held.ref, locked_until=NEVER, key=forged_officer())
    codes = await refused_by_all(env, transfer_of(env, held, NEVER), domain, shown(env.claim("Alice"), forged))
    assert codes == {"operator-decision-invalid"}
    minjun = shown(env.claim("Minjun"))
    assert await refused_by_all(env, transfer_of(env, approved, NEVER), domain, minjun) == {"locked-until-mismatch"}
    wrapped = public["ethereum"].contract(
        artifacts.get("WrappedSecurity"), env.security.wrapped[str(env.public("ethereum").chain_id)]
    )
    assert await wrapped.functions.lockedUntil(approved.recipient).call() == 0


async def test_attack_5_nobody_cancels_a_bridge_out_by_asking(
    env: Env, registry: ChainClient, artifacts: Artifacts
) -> None:
    """Anyone can cancel any bridge-out: a fresh key asks for the refund of a bridge-out the rules approve,
    with every reason code, or with a forged officer's rejection: refused; nothing is refunded, and the mint is
    still signed afterwards. A held bridge-out is refunded only with the officer's own rejection."""
    event = await bridge_out(env, registry, artifacts, "Minjun Kim", "ethereum", 3)
    claim = shown(env.claim("Minjun"))
    for reason in range(1, 7):
        assert await refused_by_all(env, refund_of(event, reason), env.escrow_domain, claim) == {"refund-not-decided"}
    forged = decision_about(env, event.ref, approve=False, key=forged_officer())
    codes = await refused_by_all(env, refund_of(event, 4), env.escrow_domain, shown(env.claim("Minjun"), forged))
    assert codes == {"operator-decision-invalid"}
    escrow = registry.contract(artifacts.get("BridgeEscrow"), env.manifest.registry.contracts["escrow"])
    request = EscrowRequest.from_answer(await escrow.functions.request(event.nonce).call())
    assert request.status == EscrowStatus.PENDING  # still locked, nothing refunded
    mint = transfer_of(env, event)
    assert len(await gather(mint, gateway_domain(env, "ethereum"), env.config.attestors, 2, context=claim)) == 2

    held = await bridge_out(env, registry, artifacts, "Alice Carter", "ethereum", 1)
    alice = env.claim("Alice")
    assert await refused_by_all(env, refund_of(held, 4), env.escrow_domain, shown(alice)) == {"refund-not-decided"}
    rejection = decision_about(env, held.ref, approve=False)
    signatures = await gather(
        refund_of(held, 4), env.escrow_domain, env.config.attestors, 2, context=shown(alice, rejection)
    )
    assert len(signatures) == 2


async def test_attack_6_a_future_dated_eligibility_is_not_signed_and_cannot_undo_a_revocation(
    env: Env, registry: ChainClient, artifacts: Artifacts, public: dict[str, ChainClient]
) -> None:
    """A revocation undone: an eligibility statement dated into the future, taken while still verified, would
    apply after a later revocation. The attestors decide at the statement's validFrom, which may not lie after
    the chains' latest blocks: the future-dated one is refused. One dated now, signed before the wallet is
    unlinked and revoked, cannot be applied after the revocation (statements apply in order)."""
    statement = await eligibility_of(env, artifacts, "Lena", "rollup")
    domain, claim = holders_domain(env, "rollup"), shown(env.claim("Lena"))
    now = int(time.time())
    future = replace(statement, valid_from=now + 299, valid_until=statement.valid_until)
    assert await refused_by_all(env, future, domain, claim) == {"from-future"}
    signed = await gather(statement, domain, env.config.attestors, 2, context=claim)

    links = registry.contract(artifacts.get("WalletLinks"), env.manifest.registry.contracts["walletLinks"])
    lena = Account.from_key(env.investor("Lena Fischer").registry_key)
    await registry.transact(links.functions.unlink(statement.chain_id), lena)
    revocation = HolderRevocation(statement.wallet, statement.chain_id, RevokeReason.UNLINKED, int(time.time()) + 1)
    revoked = await gather(revocation, domain, env.config.attestors, 2)
    holders = public["rollup"].contract(
        artifacts.get("HolderRegistry"), env.public("rollup").contracts["holderRegistry"]
    )
    submitter = Account.create()
    await public["rollup"].rpc("anvil_setBalance", [submitter.address, hex(10**18)])
    await public["rollup"].transact(
        holders.functions.revokeHolder(revocation.as_tuple(), [s.secp256k1 for s in revoked]), submitter
    )
    with pytest.raises(ContractReverted):
        await public["rollup"].transact(
            holders.functions.registerHolder(statement.as_tuple(), [s.secp256k1 for s in signed]), submitter
        )
    assert not await holders.functions.isVerified(statement.wallet).call()


async def test_attack_8_an_attestor_with_a_wiped_journal_signs_no_refund_of_an_authorized_mint(
    env: Env, registry: ChainClient, artifacts: Artifacts
) -> None:
    """An attestor restarted with an empty journal signed both a mint and a refund for one nonce: now its own
    decision refuses the refund of a bridge-out the rules approve, journal or not; and a second gateway
    deployment (another verifying contract) gets no authorization for it."""
    event = await bridge_out(env, registry, artifacts, "Minjun Kim", "ethereum", 2)
    claim, domain = shown(env.claim("Minjun")), gateway_domain(env, "ethereum")
    assert (await ask(env, "att-3", transfer_of(env, event), domain, claim))[0] == 200
    assert env.attestors.stop("att-3") == 0
    journal = Path(str(env.attestors.entry("att-3").journal))
    for path in journal.parent.glob(journal.name + "*"):
        path.unlink()
    env.attestors.spawn("att-3")
    await env.attestors.wait_healthy("att-3")
    status, body = await ask(env, "att-3", refund_of(event, 1), env.escrow_domain, claim)
    assert (status, body["reason"]) == (409, "refund-not-decided")
    second = Domain(domain.chain_id, Account.create().address)
    status, body = await ask(env, "att-1", transfer_of(env, event), second, claim)
    assert (status, body["reason"]) == (409, "wrong-domain")


async def test_a_bridge_back_naming_another_investor_is_released_only_to_the_burner(
    env: Env, registry: ChainClient, artifacts: Artifacts, public: dict[str, ChainClient]
) -> None:
    """Passing units on through the bridge: a holder burns naming another investor as the registry recipient.
    No attestor signs a release to that investor; the release they sign goes to the burner's own registry
    address (nothing is stuck)."""
    out = await bridge_out(env, registry, artifacts, "Minjun Kim", "ethereum", 3)
    mint, domain = transfer_of(env, out), gateway_domain(env, "ethereum")
    signatures = await gather(mint, domain, env.config.attestors, 2, context=shown(env.claim("Minjun")))
    ethereum, minjun = public["ethereum"], env.investor("Minjun Kim")
    holder = Account.from_key(minjun.wallets[str(env.public("ethereum").chain_id)].key)
    gateway = ethereum.contract(artifacts.get("BridgeGateway"), env.public("ethereum").contracts["gateway"])
    await ethereum.transact(gateway.functions.mint(mint.as_tuple(), [s.secp256k1 for s in signatures]), holder)
    lena = env.investor("Lena Fischer").registry_address
    wrapped = env.security.wrapped[str(env.public("ethereum").chain_id)]
    receipt = await ethereum.transact(gateway.functions.bridgeBack(wrapped, 2, lena), holder)
    [burn] = gateway.events.BridgeBackRequested().process_receipt(receipt, errors=DISCARD)
    release = ReleaseAuthorization(
        env.public("ethereum").chain_id, burn["args"]["nonce"], mint.security_id, holder.address, lena, 2
    )
    to_burner = replace(release, recipient=minjun.registry_address)
    deadline = asyncio.get_running_loop().time() + 20
    while True:  # two confirmations at one block per second
        try:
            signed = await gather(to_burner, env.escrow_domain, env.config.attestors, 2)
            break
        except NotYetAttested:
            assert asyncio.get_running_loop().time() < deadline, "the burn never became final for the attestors"
            await asyncio.sleep(0.3)
    assert len(signed) == 2
    assert await refused_by_all(env, release, env.escrow_domain) == {"recipient-not-burner"}


async def test_a_malicious_relayer_gets_no_threshold_for_what_the_rules_do_not_allow(
    env: Env, registry: ChainClient, artifacts: Artifacts
) -> None:
    """A relayer that is itself the attacker (this test, sending the attestors whatever it likes in batches, as
    the relayer does) gets no threshold for a denied mint, a held mint without the officer, another lock-up,
    recipient or amount, a refund nobody decided, a denied registration, another holder's claim or a forged
    claim; the honest statement in the same batch is signed."""
    minjun = await bridge_out(env, registry, artifacts, "Minjun Kim", "ethereum", 6)
    bob = await bridge_out(env, registry, artifacts, "Bob Miller", "ethereum", 1)
    alice = await bridge_out(env, registry, artifacts, "Alice Carter", "ethereum", 1)
    alice_wallet = env.investor("Alice Carter").wallets[str(env.public("ethereum").chain_id)].address
    gateway, escrow = gateway_domain(env, "ethereum"), env.escrow_domain
    honest = transfer_of(env, minjun)
    forged_claim = _forged_claim(env.claim("Minjun"))
    lockup = await block_time(registry, alice.ref.block_number) + RULE_144
    minjun_claim, bob_claim, alice_claim = env.claim("Minjun"), env.claim("Bob"), env.claim("Alice")
    asks: list[tuple[Statement, Domain, dict[str, Any]]] = [
        (transfer_of(env, bob), gateway, shown(bob_claim)),
        (transfer_of(env, alice), gateway, shown(alice_claim)),
        (transfer_of(env, alice, lockup), gateway, shown(alice_claim)),
        (replace(honest, locked_until=1), gateway, shown(minjun_claim)),
        (replace(honest, amount=honest.amount + 1), gateway, shown(minjun_claim)),
        (replace(honest, recipient=alice_wallet), gateway, shown(minjun_claim)),
        (honest, gateway, shown(alice_claim)),  # another holder's claim: no KYC evidence for Minjun, held
        (honest, gateway, shown(forged_claim)),
        *((refund_of(minjun, reason), escrow, shown(minjun_claim)) for reason in range(1, 7)),
        (refund_of(alice, 4), escrow, shown(alice_claim)),
        (await eligibility_of(env, artifacts, "Bob", "ethereum"), holders_domain(env, "ethereum"), shown(bob_claim)),
        (honest, gateway, shown(minjun_claim)),
    ]
    async with aiohttp.ClientSession() as session:
        outcomes = await gather_many(
            [(s, d) for s, d, _ in asks], env.config.attestors, 2, session=session, contexts=[c for _, _, c in asks]
        )
    *attacks, control = outcomes
    assert all(isinstance(o, AttestationRefused) for o in attacks), [repr(o) for o in attacks]
    assert isinstance(control, list) and len(control) == 2


async def test_attestors_with_skewed_clocks_reach_one_statement(
    env: Env, registry: ChainClient, artifacts: Artifacts, tmp_path: Path
) -> None:
    """Deterministic decisions: three attestors whose clocks are a day behind, right and a week ahead each sign
    the very same statements (a held transfer with the officer's approval, an eligibility), because every
    input is a chain fact or a signed statement and the decision time is a chain time, never a clock's."""
    event = await bridge_out(env, registry, artifacts, "Alice Carter", "ethereum", 2)
    lockup = await block_time(registry, event.ref.block_number) + RULE_144
    requests = [
        SignRequest(
            transfer_of(env, event, lockup), gateway_domain(env, "ethereum"),
            shown=Shown(env.claim("Alice"), decision_about(env, event.ref, locked_until=lockup)),
        ),
        SignRequest(
            await eligibility_of(env, artifacts, "Minjun", "rollup"), holders_domain(env, "rollup"),
            shown=Shown(env.claim("Minjun")),
        ),
    ]  # fmt: skip
    config = env.config
    topology, rules, recompute = Topology.from_config(config), Rules.from_config(config), recognizer(config)
    attestors = []
    for attestor_id, skew in zip(ATTESTOR_IDS, (-86_400, 0, 7 * 86_400), strict=True):
        entry = next(a for a in config.attestors if a.id == attestor_id)
        reads = AttestorReads(RpcChainReads(rpc_urls(config, entry), artifacts))
        attestors.append(Attestor(
            signing_key(entry, attestor_id), Checker(topology, reads, recompute, rules),
            Journal(tmp_path / f"{attestor_id}.db"), clock=skewed(skew),
        ))  # fmt: skip
    try:
        for request in requests:
            answers = [await a.sign(request) for a in attestors]
            assert {a["digest"] for a in answers} == {"0x" + request.statement.digest(request.domain).hex()}
    finally:
        for attestor in attestors:
            await attestor.close()


async def _link_ref(env: Env, artifacts: Artifacts, name: str, chain: str) -> LogRef:
    """The LogRef of ``name``'s latest wallet link on ``chain`` (what an officer's decision about it names)."""
    member = next(m for m in CAST if m.name.startswith(name))
    async with ChainClient(env.manifest.registry.rpc_url, RevertDecoder.from_artifacts(artifacts)) as client:
        links = client.contract(artifacts.get("WalletLinks"), env.manifest.registry.contracts["walletLinks"])
        [*_, link] = await links.events.WalletLinkRequested().get_logs(
            from_block=0,
            argument_filters={
                "investor": member.registry_account().address,
                "wallet": member.wallet_account(chain).address,
            },
        )
    return LogRef(
        env.registry_chain_id, link["blockNumber"], link["blockHash"].to_0x_hex(),
        link["transactionHash"].to_0x_hex(), link["logIndex"], links.address,
    )  # fmt: skip


def _forged_claim(genuine: Attestation) -> Attestation:
    """``genuine``'s claim re-signed by a fresh key calling itself the devnet's KYC provider."""
    assert isinstance(genuine.statement, KycClaim)
    return attest(genuine.statement, genuine.domain, [fresh_key("kyc-provider-1")])
