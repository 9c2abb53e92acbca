"""The attestor (`dari attestor`, SPEC section 4): real attestor processes, each reading a real devnet
through its own RPC connections, sign only what the chain shows and is final and what their own decision
allows (the attacks on that decision: tests/attestor/test_attacks.py); a forged statement gets a refusal or
"not final", never a signature; the journal keeps transfer and refund of one bridge-out mutually exclusive
across restarts; `gather` verifies each signature before counting it; a batch (``/v1/sign-batch``,
`gather_many`) answers each of its requests as ``/v1/sign`` would.

The devnet's own attestors keep running; the processes under test use a copy of its config with their own
ports and journals, and the relayer is not started (nothing else acts on the test's bridge-outs)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from eth_account import Account
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attestations.attestation import Attestation
from attestations.eip712 import Domain, digest
from attestations.keys import Secp256k1Signer, sign_ordered
from attestations.kinds import (
    HolderEligibility,
    HolderRevocation,
    RefundAuthorization,
    ReleaseAuthorization,
    TransferAuthorization,
)
from attestations.verify import verify
from attestor.checks import Checker
from attestor.errors import BadRequest, NotFinal, Refused
from attestor.journal import Journal, JournalEntry
from attestor.requests import MAX_BATCH, MAX_BATCH_BYTES, parse_sign_request
from attestor.topology import PublicChain, Topology
from relayer.core.config import AttestorConfig
from relayer.core.constants import BRIDGE_BACK, WALLET_LINKED
from relayer.core.errors import AttestationRefused, NotYetAttested
from relayer.core.events import BridgeBack, BridgeOut
from relayer.devtools.devnet.cast import (
    ATTESTOR_IDS,
    COUNTRY_NUMERIC,
    attestor_account,
    attestor_key,
)
from relayer.edges.attestor_client import check_signature, gather, gather_many, sign_request
from relayer.edges.evm.artifacts import Artifacts
from relayer.edges.evm.client import ChainClient, RevertDecoder
from relayer.edges.evm.logs import decode_log
from tests.support.attestors import (
    Env,
    ask,
    block_time,
    bridge_out,
    decision_about,
    eligibility_of,
    gateway_domain,
    holders_domain,
    post,
    raw_logs,
    refund_of,
    shown,
    transfer_of,
)

RULE_144 = 365 * 24 * 3600  # the US lock-up of a non-reporting issuer's security (docs/jurisdictions)


async def minjun_eligibility(env: Env, artifacts: Artifacts) -> dict[str, Any]:
    """A sign request the attestors accept: Minjun's eligibility on ethereum, his KYC claim shown."""
    statement = await eligibility_of(env, artifacts, "Minjun", "ethereum")
    return {**sign_request(statement, holders_domain(env, "ethereum")), "context": shown(env.claim("Minjun"))}


# --- against the devnet ----------------------------------------------------------------------------------------


@pytest.mark.integration
async def test_identity_and_health(env: Env) -> None:
    async with aiohttp.ClientSession() as session:
        for entry in env.config.attestors:
            async with session.get(entry.url + "/healthz") as response:
                assert (response.status, await response.json()) == (200, {"status": "ok"})
            async with session.get(entry.url + "/v1/identity") as response:
                assert await response.json() == {"id": entry.id, "ed25519": entry.ed25519, "address": entry.address}


@pytest.mark.integration
async def test_a_real_bridge_out_is_attested_and_the_signatures_mint(
    env: Env, registry: ChainClient, artifacts: Artifacts
) -> None:
    """INV-007: two attestors, each checking the escrow's event itself and deciding it with the holder's KYC
    claim, sign a transfer authorization that verifies against the trust list and that the gateway accepts."""
    event = await bridge_out(env, registry, artifacts, "Minjun Kim", "ethereum", 11)
    statement, domain = transfer_of(env, event), gateway_domain(env, "ethereum")
    signatures = await gather(
        statement, domain, env.config.attestors, env.config.trust.threshold, context=shown(env.claim("Minjun"))
    )
    assert len(signatures) == 2
    assert [int(env.attestors.entry(s.attestor).address, 16) for s in signatures] == sorted(
        int(env.attestors.entry(s.attestor).address, 16) for s in signatures
    )
    attestation = Attestation(statement, domain, tuple(signatures))
    assert verify(attestation.to_json(), env.trust(), domain=domain, kind=TransferAuthorization) == statement

    ethereum = env.public("ethereum")
    async with ChainClient(ethereum.rpc_url, RevertDecoder.from_artifacts(artifacts)) as chain:
        gateway = chain.contract(artifacts.get("BridgeGateway"), ethereum.contracts["gateway"])
        wrapped = chain.contract(artifacts.get("WrappedSecurity"), env.security.wrapped[str(ethereum.chain_id)])
        before = await chain.call(wrapped.functions.balanceOf(event.recipient))
        submitter = Account.create()
        await chain.rpc("anvil_setBalance", [submitter.address, hex(10**18)])
        await chain.transact(gateway.functions.mint(statement.as_tuple(), [s.secp256k1 for s in signatures]), submitter)
        assert await chain.call(wrapped.functions.balanceOf(event.recipient)) == before + 11
    # minted: no attestor refunds it now, whatever its journal says, even an officer's rejection shown
    rejection = decision_about(env, event.ref, approve=False)
    status, body = await ask(env, "att-3", refund_of(event, reason=4), env.escrow_domain, shown(decision=rejection))
    assert (status, body["reason"]) == (409, "already-minted")


@pytest.mark.integration
async def test_forged_transfer_statements_get_no_signature(
    env: Env, registry: ChainClient, artifacts: Artifacts
) -> None:
    """A compromised relayer cannot obtain a signature for an event that did not happen as stated."""
    event = await bridge_out(env, registry, artifacts, "Lena Fischer", "ethereum", 5)
    real, domain = transfer_of(env, event), gateway_domain(env, "ethereum")
    other_wallet = env.investor("Alice Carter").wallets[str(env.public("ethereum").chain_id)].address
    rollup = env.public("rollup")
    forgeries: list[tuple[TransferAuthorization, Domain, int, str]] = [
        (replace(real, amount=500), domain, 409, "amount-mismatch"),
        (replace(real, recipient=other_wallet), domain, 409, "recipient-mismatch"),
        (replace(real, sender=other_wallet), domain, 409, "sender-mismatch"),
        (replace(real, security_id=b"\x07" * 32), domain, 409, "security-mismatch"),
        (replace(real, source_chain_id=1), domain, 409, "wrong-source-chain"),
        (replace(real, source_nonce=10**9), domain, 425, "not-found"),
        (real, Domain(domain.chain_id, rollup.contracts["holderRegistry"]), 409, "wrong-domain"),
        (real, Domain(rollup.chain_id, rollup.contracts["gateway"]), 409, "destination-mismatch"),
        (real, replace(domain, name="Evil"), 409, "wrong-domain"),
    ]
    answers = await asyncio.gather(*(ask(env, "att-2", s, d) for s, d, _, _ in forgeries))
    for (statement, forged_domain, status, reason), (got, body) in zip(forgeries, answers, strict=True):
        assert (got, body.get("reason")) == (status, reason), (statement, forged_domain, body)
        assert "secp256k1" not in body
    with pytest.raises(AttestationRefused) as refused:
        await gather(replace(real, amount=500), domain, env.config.attestors, 2)
    assert len(refused.value.reasons) >= 2  # two refusals already rule out a threshold of two
    assert refused.value.reason.startswith("amount-mismatch")
    with pytest.raises(NotYetAttested):
        await gather(replace(real, source_nonce=10**9), domain, env.config.attestors, 2)


@pytest.mark.integration
async def test_transfer_and_refund_exclude_each_other_across_a_restart(
    env: Env, registry: ChainClient, artifacts: Artifacts
) -> None:
    """INV-002: one attestor never signs both the transfer and the refund of one bridge-out, even when shown an
    officer's approval and a (contradicting) rejection of it; its journal keeps that across a restart (and a
    graceful SIGTERM exits 0)."""
    first = await bridge_out(env, registry, artifacts, "Alice Carter", "ethereum", 3)
    second = await bridge_out(env, registry, artifacts, "Alice Carter", "ethereum", 4)
    claim, domain = env.claim("Alice"), gateway_domain(env, "ethereum")

    async def approved(event: BridgeOut) -> tuple[TransferAuthorization, dict[str, Any]]:
        lockup = await block_time(registry, event.ref.block_number) + RULE_144
        return transfer_of(env, event, lockup), shown(claim, decision_about(env, event.ref, locked_until=lockup))

    def rejected(event: BridgeOut) -> tuple[RefundAuthorization, dict[str, Any]]:
        return refund_of(event, reason=4), shown(claim, decision_about(env, event.ref, approve=False))

    transfer, context = await approved(first)
    assert (await ask(env, "att-1", transfer, domain, context))[0] == 200
    status, body = await ask(env, "att-1", rejected(first)[0], env.escrow_domain, rejected(first)[1])
    assert (status, body["reason"]) == (409, "journal-conflict")
    assert (await ask(env, "att-1", rejected(second)[0], env.escrow_domain, rejected(second)[1]))[0] == 200
    transfer, context = await approved(second)
    status, body = await ask(env, "att-1", transfer, domain, context)
    assert (status, body["reason"]) == (409, "journal-conflict")

    assert env.attestors.stop("att-1") == 0
    env.attestors.spawn("att-1")
    await env.attestors.wait_healthy("att-1")
    status, body = await ask(env, "att-1", rejected(first)[0], env.escrow_domain, rejected(first)[1])
    assert (status, body["reason"]) == (409, "journal-conflict")
    status, body = await ask(env, "att-1", transfer, domain, context)
    assert (status, body["reason"]) == (409, "journal-conflict")
    transfer, context = await approved(first)
    assert (await ask(env, "att-1", transfer, domain, context))[0] == 200  # the same statement again
    # another attestor, with its own journal, may still sign the refund (the contracts need a threshold)
    assert (await ask(env, "att-2", rejected(first)[0], env.escrow_domain, rejected(first)[1]))[0] == 200
    bigger = refund_of(replace(first, amount=first.amount + 1), reason=4)
    status, body = await ask(env, "att-2", bigger, env.escrow_domain, rejected(first)[1])
    assert (status, body["reason"]) == (409, "amount-mismatch")


@pytest.mark.integration
async def test_an_attested_refund_is_usable_and_then_no_transfer_is_signed(
    env: Env, registry: ChainClient, artifacts: Artifacts
) -> None:
    """INV-008: a bridge-out the attestors' own rules reject (the recipient is not a verified holder) gets refund
    signatures, with that reason code only, from two attestors, which refund on the escrow; afterwards even an
    attestor that never signed the refund refuses the transfer (the escrow says refunded)."""
    event = await bridge_out(env, registry, artifacts, "Bob Miller", "ethereum", 2)
    status, body = await ask(env, "att-2", refund_of(event, reason=7), env.escrow_domain)
    assert (status, body["reason"]) == (409, "reason-mismatch")
    refund = refund_of(event, reason=1)  # recipient-not-verified
    others = [env.attestors.entry("att-2"), env.attestors.entry("att-3")]
    signatures = await gather(refund, env.escrow_domain, others, 2)
    escrow = registry.contract(artifacts.get("BridgeEscrow"), env.manifest.registry.contracts["escrow"])
    token = registry.contract(artifacts.get("SecurityToken"), env.security.registry_token)
    before = await registry.call(token.functions.balanceOf(event.sender))
    await registry.transact(
        escrow.functions.refund(event.nonce, 1, [s.secp256k1 for s in signatures]), Account.create()
    )
    assert await registry.call(token.functions.balanceOf(event.sender)) == before + 2
    status, body = await ask(env, "att-1", transfer_of(env, event), gateway_domain(env, "ethereum"))
    assert (status, body["reason"]) == (409, "already-refunded")


@pytest.mark.integration
async def test_release_of_a_real_bridge_back_is_signed_and_a_fake_one_refused(env: Env, artifacts: Artifacts) -> None:
    """INV-003: a release is signed only for a final burn on the stated gateway, for its holder and amount, to
    the burner's own registry address."""
    rollup = env.public("rollup")
    member = env.investor("Wei Tan")
    wallet = member.wallets[str(rollup.chain_id)]
    security_id = bytes.fromhex(env.security.id[2:])
    async with ChainClient(rollup.rpc_url, RevertDecoder.from_artifacts(artifacts)) as chain:
        gateway = chain.contract(artifacts.get("BridgeGateway"), rollup.contracts["gateway"])
        token = env.security.wrapped[str(rollup.chain_id)]
        mint = TransferAuthorization(env.registry_chain_id, 2_000_000, security_id, member.registry_address,
                                     wallet.address, 9, 0)  # fmt: skip
        signers = [Secp256k1Signer(attestor_account(a).key) for a in ATTESTOR_IDS[:2]]
        seed = sign_ordered(digest(mint.KIND, gateway_domain(env, "rollup"), mint.to_message()), signers)
        await chain.transact(gateway.functions.mint(mint.as_tuple(), seed), Account.from_key(wallet.key))
        receipt = await chain.transact(
            gateway.functions.bridgeBack(token, 6, member.registry_address), Account.from_key(wallet.key)
        )
        logs = await raw_logs(chain, receipt["transactionHash"].to_0x_hex())
    burn = next(e for e in (decode_log(rollup.chain_id, log) for log in logs) if isinstance(e, BridgeBack))
    assert burn.amount == 6, BRIDGE_BACK
    release = ReleaseAuthorization(rollup.chain_id, burn.nonce, security_id, wallet.address, member.registry_address, 6)
    status, body = await ask(env, "att-3", release, env.escrow_domain)
    assert status in (200, 425), body  # two confirmations at one block per second
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 15
    while True:
        try:
            signatures = await gather(release, env.escrow_domain, env.config.attestors, 2)
            break
        except NotYetAttested:
            assert loop.time() < deadline, "the burn never became final for the attestors"
            await asyncio.sleep(0.3)
    attestation = Attestation(release, env.escrow_domain, tuple(signatures))
    assert verify(attestation, env.trust(), domain=env.escrow_domain, kind=ReleaseAuthorization) == release

    fakes: list[tuple[ReleaseAuthorization, int, str]] = [
        (replace(release, amount=60), 409, "amount-mismatch"),
        (replace(release, recipient=wallet.address), 409, "recipient-not-burner"),
        (replace(release, recipient=env.investor("Minjun Kim").registry_address), 409, "recipient-not-burner"),
        (replace(release, holder=member.registry_address), 409, "holder-mismatch"),
        (replace(release, security_id=b"\x07" * 32), 409, "security-mismatch"),
        (replace(release, source_chain_id=env.public("ethereum").chain_id), 425, "not-found"),
        (replace(release, source_nonce=10**9), 425, "not-found"),
        (replace(release, source_chain_id=env.registry_chain_id), 409, "wrong-source-chain"),
    ]
    for fake, status, reason in fakes:
        got, body = await ask(env, "att-1", fake, env.escrow_domain)
        assert (got, body.get("reason")) == (status, reason), (fake, body)
    got, body = await ask(env, "att-1", release, gateway_domain(env, "rollup"))
    assert (got, body["reason"]) == (409, "wrong-domain")


@pytest.mark.integration
async def test_holder_statements_follow_the_registry(env: Env, registry: ChainClient, artifacts: Artifacts) -> None:
    """INV-004/INV-006: eligibility is signed for a linked, verified investor's wallet with the registry's facts
    and exactly the window and rule pack the rules derive; an unlinked wallet, other facts, another window or
    rule pack, or no KYC claim shown are refused; a revocation only once the link ended."""
    now = int(time.time())
    eligible = await eligibility_of(env, artifacts, "Yuki", "rollup")
    domain, context = holders_domain(env, "rollup"), shown(env.claim("Yuki"))
    signatures = await gather(eligible, domain, env.config.attestors, 2, context=context)
    assert (
        verify(Attestation(eligible, domain, tuple(signatures)), env.trust(), now=now + 1, kind=HolderEligibility)
        == eligible
    )

    stranger = Account.create().address
    refusals: list[tuple[HolderEligibility, Domain, str]] = [
        (replace(eligible, wallet=stranger), domain, "wallet-not-linked"),
        (replace(eligible, country=COUNTRY_NUMERIC["US"]), domain, "country-mismatch"),
        (replace(eligible, investor_class=3), domain, "class-mismatch"),
        (replace(eligible, holder_id=b"\x05" * 32), domain, "holder-id-mismatch"),
        (replace(eligible, valid_until=now + 10 * 365 * 24 * 3600), domain, "beyond-kyc-expiry"),
        (replace(eligible, valid_from=now + 3600), domain, "from-future"),
        (replace(eligible, valid_from=now + 200), domain, "from-future"),  # within the clock skew, not the chain
        (replace(eligible, valid_from=eligible.valid_from - 10**6), domain, "before-link"),
        (replace(eligible, valid_until=eligible.valid_until - 1), domain, "statement-mismatch"),
        (replace(eligible, rule_pack_hash=b"\x01" * 32), domain, "statement-mismatch"),
        (eligible, holders_domain(env, "ethereum"), "wrong-domain"),
    ]
    for statement, statement_domain, reason in refusals:
        status, body = await ask(env, "att-2", statement, statement_domain, context)
        assert (status, body.get("reason")) == (409, reason), (statement, body)
    status, body = await ask(env, "att-2", eligible, domain)  # no claim shown: no KYC evidence, held
    assert (status, body.get("reason")) == (409, "operator-decision-required")

    revocation = HolderRevocation(eligible.wallet, eligible.chain_id, 1, now)
    status, body = await ask(env, "att-2", revocation, domain)
    assert (status, body["reason"]) == (409, "still-eligible")
    status, body = await ask(env, "att-2", replace(revocation, wallet=stranger), domain)
    assert (status, body["reason"]) == (409, "wallet-not-linked")

    links = registry.contract(artifacts.get("WalletLinks"), env.manifest.registry.contracts["walletLinks"])
    yuki = Account.from_key(env.investor("Yuki Sato").registry_key)
    await registry.transact(links.functions.unlink(eligible.chain_id), yuki)
    signatures = await gather(revocation, domain, env.config.attestors, 2)
    assert len(signatures) == 2
    status, body = await ask(env, "att-2", eligible, domain, context)
    assert (status, body["reason"]) == (409, "wallet-unlinked")


@pytest.mark.integration
async def test_bad_requests_are_4xx_json_never_500(env: Env, artifacts: Artifacts) -> None:
    url = env.attestors.url("att-1")
    good = await minjun_eligibility(env, artifacts)
    bad_bodies: list[bytes | dict[str, Any]] = [
        b"",
        b"not json",
        b"\xff\xfe",
        b"[]",
        b"[" * 20_000 + b"]" * 20_000,
        {"kind": "TransferAuthorization"},
        {**good, "extra": 1},
        {**good, "kind": "RecognitionRecord"},
        {**good, "kind": "Nonsense"},
        {**good, "kind": 7},
        {**good, "domain": {**good["domain"], "chainId": "31337"}},
        {**good, "domain": {**good["domain"], "chainId": True}},
        {**good, "domain": {**good["domain"], "verifyingContract": "0x1234"}},
        {**good, "domain": []},
        {**good, "message": {**good["message"], "wallet": "0xnothex"}},
        {**good, "message": {**good["message"], "chainId": -1}},
        {**good, "message": {**good["message"], "country": 70_000}},
        {**good, "message": {**good["message"], "validFrom": 1.5}},
        {**good, "message": {**good["message"], "holderId": "0x12"}},
        {**good, "message": {k: v for k, v in good["message"].items() if k != "scope"}},
        {**good, "message": "x"},
        {**good, "context": {"claim": "x"}},
        {**good, "context": {"claim": {**good["context"]["claim"], "digest": "0x" + "00" * 32}}},
        {**good, "context": {"decision": good["context"]["claim"]}},  # a claim is no officer's decision
        {**good, "context": {"blocks": {"1": 1}}},
        {**good, "context": []},
    ]
    for body in bad_bodies:
        status, answer = await post(url + "/v1/sign", body)
        assert status == 400, (body, answer)
        assert answer["error"] == "malformed"
    status, answer = await post(url + "/v1/sign", b"{" + b" " * (70 * 1024) + b"}")
    assert (status, answer["error"]) == (413, "too-large")
    async with aiohttp.ClientSession() as session:
        async with session.get(url + "/v1/sign") as response:
            assert response.status == 405
            assert (await response.json())["error"]
        async with session.get(url + "/nowhere") as response:
            assert response.status == 404
            assert (await response.json())["error"]
    assert (await post(url + "/v1/sign", good))[0] == 200  # still serving


@pytest.mark.integration
async def test_gather_reaches_the_threshold_with_one_attestor_down_not_two(env: Env, artifacts: Artifacts) -> None:
    statement = await eligibility_of(env, artifacts, "Minjun", "ethereum")
    domain, context = holders_domain(env, "ethereum"), shown(env.claim("Minjun"))
    try:
        assert env.attestors.stop("att-3") == 0
        signatures = await gather(statement, domain, env.config.attestors, 2, timeout=3, context=context)
        assert sorted(s.attestor for s in signatures) == ["att-1", "att-2"]
        env.attestors.stop("att-2")
        with pytest.raises(NotYetAttested):
            await gather(statement, domain, env.config.attestors, 2, timeout=3, context=context)
    finally:
        for attestor_id in ("att-2", "att-3"):
            if attestor_id not in env.attestors.procs:
                env.attestors.spawn(attestor_id)
        await env.attestors.wait_healthy("att-2", "att-3")


# --- batches against the devnet ----------------------------------------------------------------------------------


@pytest.mark.integration
async def test_a_batch_answers_each_request_in_order_as_sign_would(
    env: Env, registry: ChainClient, artifacts: Artifacts
) -> None:
    """One ``/v1/sign-batch``: the real transfer is signed (a signature that verifies), a forged amount refused,
    a malformed item 400, an unknown nonce not final, and the refund of the transfer (which the rules approve)
    refused, as it is asked alone afterwards."""
    event = await bridge_out(env, registry, artifacts, "Minjun Kim", "ethereum", 7)
    transfer, domain = transfer_of(env, event), gateway_domain(env, "ethereum")
    context = shown(env.claim("Minjun"))
    requests = [
        {**sign_request(transfer, domain), "context": context},
        {**sign_request(replace(transfer, amount=700), domain), "context": context},
        {**sign_request(transfer, domain), "kind": "Nonsense"},
        sign_request(replace(transfer, source_nonce=10**9), domain),
        {**sign_request(refund_of(event), env.escrow_domain), "context": context},
    ]
    status, body = await post(env.attestors.url("att-1") + "/v1/sign-batch", {"requests": requests})
    assert status == 200, body
    answers = body["answers"]
    assert [a["status"] for a in answers] == [200, 409, 400, 425, 409]
    assert [answers[i]["body"]["reason"] for i in (1, 3, 4)] == ["amount-mismatch", "not-found", "refund-not-decided"]
    assert answers[2]["body"]["error"] == "malformed"
    signature = check_signature(env.attestors.entry("att-1"), transfer.digest(domain), answers[0]["body"])
    assert signature.attestor == "att-1"
    status, single = await ask(env, "att-1", refund_of(event), env.escrow_domain, context)
    assert (status, single["reason"]) == (409, "refund-not-decided")


@pytest.mark.integration
async def test_a_body_that_is_not_a_batch_is_refused_whole(env: Env, artifacts: Artifacts) -> None:
    """Not an object of exactly ``requests``, or 0 or more than `MAX_BATCH` of them: 400; too long: 413."""
    url = env.attestors.url("att-2") + "/v1/sign-batch"
    good = await minjun_eligibility(env, artifacts)
    bodies: list[bytes | dict[str, Any]] = [
        b"not json", json.dumps([good]).encode(), {"requests": good}, {"requests": []},
        {"requests": [good] * (MAX_BATCH + 1)},
    ]  # fmt: skip
    for bad in bodies:
        status, answer = await post(url, bad)
        assert (status, answer["error"]) == (400, "malformed"), bad
    status, answer = await post(url, b'{"requests": [' + b" " * MAX_BATCH_BYTES + b"]}")
    assert (status, answer["error"]) == (413, "too-large")
    status, answer = await post(url, {"requests": [good]})
    assert (status, [a["status"] for a in answer["answers"]]) == (200, [200])


@pytest.mark.integration
async def test_gather_many_decides_each_statement(env: Env, registry: ChainClient, artifacts: Artifacts) -> None:
    """Per statement: ``threshold`` signatures by increasing signer address that verify as an attestation, a
    refusal, or not yet attested (not final; or, for all of them, too few attestors running)."""
    event = await bridge_out(env, registry, artifacts, "Minjun Kim", "ethereum", 6)
    transfer, domain = transfer_of(env, event), gateway_domain(env, "ethereum")
    requests = [
        (transfer, domain),
        (replace(transfer, amount=60), domain),
        (replace(transfer, source_nonce=10**9), domain),
    ]
    contexts = [shown(env.claim("Minjun"))] * 3
    threshold = env.config.trust.threshold
    async with aiohttp.ClientSession() as session:
        signed, refused, unknown = await gather_many(
            requests, env.config.attestors, threshold, session=session, contexts=contexts
        )
        assert isinstance(signed, list) and len(signed) == threshold
        addresses = [int(env.attestors.entry(s.attestor).address, 16) for s in signed]
        assert addresses == sorted(addresses)
        attestation = Attestation(transfer, domain, tuple(signed))
        assert verify(attestation.to_json(), env.trust(), domain=domain, kind=TransferAuthorization) == transfer
        assert isinstance(refused, AttestationRefused) and refused.reason.startswith("amount-mismatch")
        assert isinstance(unknown, NotYetAttested)
        try:
            env.attestors.stop("att-2")
            env.attestors.stop("att-3")
            outcomes = await gather_many(
                requests, env.config.attestors, 2, session=session, timeout=3, contexts=contexts
            )
            assert all(isinstance(o, NotYetAttested) for o in outcomes), outcomes
        finally:
            for attestor_id in ("att-2", "att-3"):
                if attestor_id not in env.attestors.procs:
                    env.attestors.spawn(attestor_id)
            await env.attestors.wait_healthy("att-2", "att-3")


# --- without a devnet --------------------------------------------------------------------------------------------


def test_journal_excludes_the_other_kind_and_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    journal = Journal(path)
    transfer = JournalEntry("TransferAuthorization", 820001, 2**64 - 1, b"\x01" * 32, 100)
    journal.record(transfer, excludes="RefundAuthorization")
    journal.record(transfer, excludes="RefundAuthorization")  # asking again is fine
    journal.record(JournalEntry("HolderEligibility", 31337, None, b"\x03" * 32, 100))
    journal.close()
    reopened = Journal(path)
    with pytest.raises(Refused) as refused:
        reopened.record(JournalEntry("RefundAuthorization", 820001, 2**64 - 1, b"\x02" * 32, 101),
                        excludes="TransferAuthorization")  # fmt: skip
    assert refused.value.code == "journal-conflict"
    assert reopened.entries(820001) == [transfer]
    reopened.record(JournalEntry("RefundAuthorization", 820001, 5, b"\x04" * 32, 102), excludes="TransferAuthorization")
    assert [e.nonce for e in reopened.entries(820001)] == [2**64 - 1, 5]
    reopened.close()


def test_one_authorization_per_source_event(tmp_path: Path) -> None:
    """Attack: several different authorizations for one bridge-out (another lock-up, another destination,
    another gateway deployment) all got signed. The journal keys an authorization by its source event: once
    one is signed, a different one of the same kind for the same event is refused; the same one again is
    fine; statements about no event (holder statements) are not affected."""
    journal = Journal(tmp_path / "journal.db")
    first = JournalEntry("TransferAuthorization", 820001, 7, b"\x01" * 32, 100)
    journal.record(first, excludes="RefundAuthorization")
    journal.record(first, excludes="RefundAuthorization")
    for other in (b"\x02" * 32, b"\x03" * 32):  # e.g. lockedUntil 0 instead of the rules' lock-up, or 2**64-1
        with pytest.raises(Refused) as refused:
            journal.record(JournalEntry("TransferAuthorization", 820001, 7, other, 101), excludes="RefundAuthorization")
        assert refused.value.code == "journal-conflict"
    journal.record(JournalEntry("TransferAuthorization", 820001, 8, b"\x02" * 32, 102), excludes="RefundAuthorization")
    release = JournalEntry("ReleaseAuthorization", 31337, 7, b"\x04" * 32, 103)
    journal.record(release)
    with pytest.raises(Refused):
        journal.record(JournalEntry("ReleaseAuthorization", 31337, 7, b"\x05" * 32, 104))
    for n in range(3):  # many eligibility statements for one wallet over time
        journal.record(JournalEntry("HolderEligibility", 31337, None, bytes([n]) * 32, 105 + n))
    assert [e.digest for e in journal.entries(820001)] == [b"\x01" * 32, b"\x02" * 32]
    journal.close()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
_KINDS = ["TransferAuthorization", "RefundAuthorization", "ReleaseAuthorization", "HolderEligibility",
          "HolderRevocation", "RecognitionRecord"]  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(_KINDS) | st.text(max_size=10),
    domain=json_values,
    message=json_values
    | st.dictionaries(st.sampled_from(["nonce", "token", "sender", "amount", "reason"]), json_values),
    raw=st.binary(max_size=64),
)
def test_parsing_a_sign_request_raises_only_bad_request(kind: str, domain: Any, message: Any, raw: bytes) -> None:
    for body in (json.dumps({"kind": kind, "domain": domain, "message": message}).encode(), raw):
        with contextlib.suppress(BadRequest):
            parse_sign_request(body)


class FakeChain:
    """A `ChainReads` over canned logs, heads and block hashes."""

    def __init__(self, logs: list[dict[str, Any]], head: int, hashes: dict[int, str]) -> None:
        self._logs, self._head, self._hashes = logs, head, hashes

    async def head(self, chain_id: int) -> int:
        return self._head

    async def block_hash(self, chain_id: int, number: int) -> str | None:
        return self._hashes.get(number)

    async def block_time(self, chain_id: int, number: int) -> int | None:
        return 1_700_000_000 + number if number in self._hashes else None

    async def logs(self, chain_id: int, address: str, topics: Any, to_block: int) -> list[Mapping[str, Any]]:
        def matches(log: Mapping[str, Any]) -> bool:
            found = log["topics"]
            return log["address"].lower() == address.lower() and all(
                want is None or (i < len(found) and found[i] == want) for i, want in enumerate(topics)
            )

        return [log for log in self._logs if matches(log)]

    async def call(
        self, chain_id: int, contract: str, address: str, function: str, *args: Any, block: int | None = None
    ) -> Any:
        return {"securityId": b"\x09" * 32, "isProcessed": False}[function]


GATEWAY = "0x" + "22" * 20
TOKEN = "0x" + "33" * 20
HOLDER = "0x" + "44" * 20
WALLET_LINKS = "0x" + "12" * 20


def _word(value: int) -> str:
    return "0x" + value.to_bytes(32, "big").hex()


def _link_log(chain_id: int, wallet: str) -> dict[str, Any]:
    """WalletLinks.WalletLinkRequested: ``wallet`` linked on ``chain_id`` by the investor ``wallet`` (as a burner's
    own registry address)."""
    return {
        "address": WALLET_LINKS, "blockNumber": hex(3), "blockHash": "0x" + "cd" * 32,
        "transactionHash": "0x" + "ef" * 32, "logIndex": "0x0", "removed": False,
        "topics": [WALLET_LINKED, _word(int(wallet, 16)), _word(chain_id), _word(int(wallet, 16))], "data": "0x",
    }  # fmt: skip


def _burn_log(nonce: int, block: int, block_hash: str, removed: bool = False) -> dict[str, Any]:
    word = _word
    return {
        "address": GATEWAY, "blockNumber": hex(block), "blockHash": block_hash, "transactionHash": "0x" + "ab" * 32,
        "logIndex": "0x0", "removed": removed,
        "topics": [BRIDGE_BACK, word(nonce), word(int(TOKEN, 16)), word(int(HOLDER, 16))],
        "data": "0x" + (6).to_bytes(32, "big").hex() + word(int(HOLDER, 16))[2:],
    }  # fmt: skip


@pytest.mark.parametrize(
    ("head", "hashes", "removed", "outcome"),
    [
        (12, {10: "0xaa"}, False, None),
        (11, {10: "0xaa"}, False, "not-final"),
        (12, {10: "0xbb"}, False, "reorged"),
        (12, {10: "0xaa"}, True, "not-found"),
    ],
)
async def test_release_needs_a_final_canonical_burn(
    head: int, hashes: dict[int, str], removed: bool, outcome: str | None
) -> None:
    topology = Topology(1, 0, "0x" + "11" * 20, WALLET_LINKS, "0x" + "13" * 20,
                        {5: PublicChain(5, 2, GATEWAY, "0x" + "14" * 20)})  # fmt: skip
    logs = [_burn_log(7, 10, "0xaa", removed), _link_log(5, HOLDER)]
    checker = Checker(topology, FakeChain(logs, head, hashes))
    release = ReleaseAuthorization(5, 7, b"\x09" * 32, HOLDER, HOLDER, 6)
    domain = Domain(1, topology.escrow)
    if outcome is None:
        claim = await checker.check(release, domain, now=0)
        assert (claim.source_chain_id, claim.nonce, claim.excludes) == (5, 7, None)
    else:
        with pytest.raises(NotFinal) as info:
            await checker.check(release, domain, now=0)
        assert info.value.code == outcome


async def test_gather_does_not_count_a_signature_it_cannot_verify() -> None:
    """A signature by another key, or over another digest, is not counted towards the threshold."""
    impostor = attestor_key("att-3")

    async def sign(request: web.Request) -> web.Response:
        parsed = parse_sign_request(await request.read())
        signature = impostor.sign(parsed.statement.digest(parsed.domain))
        return web.json_response({**signature.to_json(), "attestor": "att-1",
                                  "digest": "0x" + parsed.statement.digest(parsed.domain).hex()})  # fmt: skip

    app = web.Application()
    app.router.add_post("/v1/sign", sign)
    honest = attestor_key("att-1").public()
    async with TestServer(app) as server:
        entry = AttestorConfig(id="att-1", url=str(server.make_url("/")).rstrip("/"), ed25519=honest["ed25519"],
                               address=honest["address"])  # fmt: skip
        statement = HolderRevocation("0x" + "44" * 20, 5, 1, 0)
        with pytest.raises(NotYetAttested) as info:
            await gather(statement, Domain(5, "0x" + "14" * 20), [entry], 1)
        assert "invalid answer" in str(info.value)
