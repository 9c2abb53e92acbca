"""Real attestor processes on a devnet for the attestor's integration tests: a copy of the devnet's config with
their own ports and journals (the devnet's own attestors keep running; no relayer acts on the tests' events),
and helpers that make real bridge-outs and ask the attestors directly, as anyone may, showing the signed
statements (KYC claims, officers' decisions) a request carries."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import tomllib
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import tomli_w
from eth_account import Account
from eth_account.signers.local import LocalAccount

from adapters.rulepack import DEFAULT_DIRECTORY, load_packs
from attestations.attestation import Attestation
from attestations.eip712 import Domain
from attestations.kinds import HolderEligibility, KycClaim, RefundAuthorization, Statement, TransferAuthorization
from attestations.signing import AttestorKey
from attestations.trust import TrustList
from relayer.core.config import AttestorConfig, Config, load_config
from relayer.core.constants import BRIDGE_OUT
from relayer.core.events import BridgeOut, LogRef
from relayer.core.signed import signed_decision
from relayer.devtools.devnet import control
from relayer.devtools.devnet.anvil import free_port
from relayer.devtools.devnet.cast import ATTESTOR_IDS, CAST, COUNTRY_NUMERIC, INVESTOR_CLASSES, officer_key
from relayer.devtools.devnet.manifest import ChainEntry, InvestorEntry, Manifest, SecurityEntry
from relayer.edges.attestor_client import sign_request
from relayer.edges.evm.artifacts import Artifacts
from relayer.edges.evm.client import ChainClient, RevertDecoder
from relayer.edges.evm.logs import decode_log

START_TIMEOUT = 20.0
ZERO32 = b"\0" * 32


# --- attestor processes ------------------------------------------------------------------------------------


@dataclass
class Attestors:
    """Attestor processes run from ``config_path`` (a copy of the devnet config with their own ports)."""

    config_path: Path
    config: Config
    logs: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def entry(self, attestor_id: str) -> AttestorConfig:
        return next(a for a in self.config.attestors if a.id == attestor_id)

    def url(self, attestor_id: str) -> str:
        return self.entry(attestor_id).url

    def spawn(self, attestor_id: str) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        with (self.logs / f"{attestor_id}.log").open("ab") as log:
            self.procs[attestor_id] = subprocess.Popen(
                [sys.executable, "-m", "relayer", "attestor", "--config", str(self.config_path), "--id", attestor_id],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )  # fmt: skip

    async def wait_healthy(self, *ids: str) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=1)) as session:
            for attestor_id in ids:
                while True:
                    if self.procs[attestor_id].poll() is not None:
                        log = (self.logs / f"{attestor_id}.log").read_text()
                        raise RuntimeError(f"attestor {attestor_id} exited:\n{log}")
                    try:
                        async with session.get(self.url(attestor_id) + "/healthz") as response:
                            if response.status == 200:
                                break
                    except (aiohttp.ClientError, TimeoutError):
                        pass
                    if loop.time() > deadline:
                        raise RuntimeError(f"attestor {attestor_id} did not become healthy")
                    await asyncio.sleep(0.05)

    def stop(self, attestor_id: str) -> int:
        """Stops one attestor with SIGTERM; returns its exit code."""
        proc = self.procs.pop(attestor_id)
        proc.terminate()
        try:
            return proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()

    def stop_all(self) -> None:
        for attestor_id in list(self.procs):
            self.stop(attestor_id)


@dataclass(frozen=True)
class Env:
    root: Path
    manifest: Manifest
    attestors: Attestors

    @property
    def config(self) -> Config:
        return self.attestors.config

    @property
    def registry_chain_id(self) -> int:
        return self.manifest.registry.chain_id

    @property
    def escrow_domain(self) -> Domain:
        return Domain(self.registry_chain_id, self.manifest.registry.contracts["escrow"])

    def public(self, name: str) -> ChainEntry:
        return next(c for c in self.manifest.public if c.name == name)

    def investor(self, name: str) -> InvestorEntry:
        return next(i for i in self.manifest.investors if i.name == name)

    @property
    def security(self) -> SecurityEntry:
        return self.manifest.securities[0]

    def claim(self, name: str) -> Attestation:
        """The investor's KYC claim as the devnet's KYC provider signed it and the registry anchored it."""
        member = next(m for m in CAST if m.name.startswith(name))
        for raw in json.loads((self.root / "claims.json").read_text()):
            claim = Attestation.parse(raw)
            if isinstance(claim.statement, KycClaim) and claim.statement.holder_id == member.investor_id:
                return claim
        raise AssertionError(f"no claim for {name}")

    def trust(self) -> TrustList:
        return TrustList.parse(
            {
                "epoch": self.config.trust.epoch,
                "threshold": self.config.trust.threshold,
                "attestors": [{"id": a.id, "ed25519": a.ed25519, "address": a.address} for a in self.config.attestors],
            }
        )


def _test_config(root: Path) -> Path:
    raw = tomllib.loads((root / "dari.toml").read_text())
    for entry in raw["attestors"]:
        entry["url"] = f"http://127.0.0.1:{free_port()}"
        entry["journal"] = str(root / "test-journals" / f"{entry['id']}.db")
    path = root / "attestors-test.toml"
    path.write_text(tomli_w.dumps(raw))
    return path


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    root = tmp_path_factory.mktemp("attestor-devnet")
    attestors: Attestors | None = None
    try:
        manifest = asyncio.run(control.up(root, relayer=False))
        config_path = _test_config(root)
        attestors = Attestors(config_path, load_config(config_path), root / "test-logs")
        for attestor_id in ATTESTOR_IDS:
            attestors.spawn(attestor_id)
        asyncio.run(attestors.wait_healthy(*ATTESTOR_IDS))
        yield Env(root, manifest, attestors)
    finally:
        if attestors is not None:
            attestors.stop_all()
        control.down(root)


# --- chain and HTTP helpers ----------------------------------------------------------------------------------


@pytest.fixture
async def registry(env: Env, artifacts: Artifacts) -> AsyncIterator[ChainClient]:
    async with ChainClient(env.manifest.registry.rpc_url, RevertDecoder.from_artifacts(artifacts)) as client:
        yield client


async def raw_logs(chain: ChainClient, tx_hash: str) -> list[dict[str, Any]]:
    receipt = await chain.rpc("eth_getTransactionReceipt", [tx_hash])
    return list(receipt["logs"])


async def bridge_out(
    env: Env, chain: ChainClient, artifacts: Artifacts, investor: str, dest: str, amount: int, recipient: str = ""
) -> BridgeOut:
    """A real bridge-out by ``investor`` to their wallet on ``dest`` (or ``recipient``)."""
    member = env.investor(investor)
    public = env.public(dest)
    account: LocalAccount = Account.from_key(member.registry_key)
    token = chain.contract(artifacts.get("SecurityToken"), env.security.registry_token)
    escrow = chain.contract(artifacts.get("BridgeEscrow"), env.manifest.registry.contracts["escrow"])
    await chain.transact(token.functions.approve(escrow.address, amount), account)
    to = recipient or member.wallets[str(public.chain_id)].address
    receipt = await chain.transact(escrow.functions.bridgeOut(token.address, amount, public.chain_id, to), account)
    for log in await raw_logs(chain, receipt["transactionHash"].to_0x_hex()):
        event = decode_log(env.registry_chain_id, log)
        if isinstance(event, BridgeOut):
            return event
    raise AssertionError(f"no {BRIDGE_OUT} in the bridge-out receipt")


def transfer_of(env: Env, event: BridgeOut, locked_until: int = 0) -> TransferAuthorization:
    return TransferAuthorization(
        env.registry_chain_id, event.nonce, bytes.fromhex(env.security.id[2:]), event.sender, event.recipient,
        event.amount, locked_until,
    )  # fmt: skip


def shown(claim: Attestation | None = None, decision: Attestation | None = None) -> dict[str, Any]:
    """A sign request's context showing ``claim`` and ``decision``."""
    found = {"claim": claim, "decision": decision}
    return {k: v.to_json() for k, v in found.items() if v is not None}


def decision_about(
    env: Env, ref: LogRef, approve: bool = True, locked_until: int = 0, key: AttestorKey | None = None
) -> Attestation:
    """The devnet officer's (or ``key``'s) signed decision about the held item the event at ``ref`` started."""
    return signed_decision(
        key or officer_key(), env.escrow_domain, ref, approve=approve, locked_until=locked_until, reason="reviewed",
        now=int(time.time()),
    )  # fmt: skip


async def block_time(chain: ChainClient, number: int) -> int:
    return int((await chain.w3.eth.get_block(number))["timestamp"])


def refund_of(event: BridgeOut, reason: int = 1) -> RefundAuthorization:
    return RefundAuthorization(event.nonce, event.token, event.sender, event.amount, reason)


def gateway_domain(env: Env, chain: str) -> Domain:
    public = env.public(chain)
    return Domain(public.chain_id, public.contracts["gateway"])


def holders_domain(env: Env, chain: str) -> Domain:
    public = env.public(chain)
    return Domain(public.chain_id, public.contracts["holderRegistry"])


async def post(url: str, body: bytes | dict[str, Any]) -> tuple[int, Any]:
    """Status and JSON body of ``POST url``; every answer must be JSON."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=data, headers={"Content-Type": "application/json"}) as response,
    ):
        return response.status, await response.json(content_type=None)


async def ask(
    env: Env, attestor_id: str, statement: Statement, domain: Domain, context: Mapping[str, Any] | None = None
) -> tuple[int, Any]:
    body = sign_request(statement, domain)
    if context:
        body["context"] = dict(context)
    return await post(env.attestors.url(attestor_id) + "/v1/sign", body)


async def eligibility_of(env: Env, artifacts: Artifacts, name: str, chain: str) -> HolderEligibility:
    """The eligibility statement the rules derive for ``name``'s linked wallet on ``chain``, worked out here from
    the chains' own answers: the registry's facts, valid from the link's block time (after the wallet's last
    statement) for a year at most and never beyond the KYC expiry, under the holder's jurisdiction's rule pack."""
    member = next(m for m in CAST if m.name.startswith(name))
    public = env.public(chain)
    wallet = member.wallet_account(chain).address
    decoder = RevertDecoder.from_artifacts(artifacts)
    async with (
        ChainClient(env.manifest.registry.rpc_url, decoder) as registry,
        ChainClient(public.rpc_url, decoder) as destination,
    ):
        links = registry.contract(artifacts.get("WalletLinks"), env.manifest.registry.contracts["walletLinks"])
        [*_, link] = await links.events.WalletLinkRequested().get_logs(
            from_block=0, argument_filters={"investor": member.registry_account().address, "wallet": wallet}
        )
        investors = registry.contract(
            artifacts.get("InvestorRegistry"), env.manifest.registry.contracts["investorRegistry"]
        )
        expiry = await investors.functions.kycExpiry(member.registry_account().address).call()
        holders = destination.contract(artifacts.get("HolderRegistry"), public.contracts["holderRegistry"])
        last = (await holders.functions.holder(wallet).call())[5]
        valid_from = max(await block_time(registry, link["blockNumber"]), last + 1)
    packs = load_packs(DEFAULT_DIRECTORY)
    pack = next(p for p in packs.values() if member.country in p.countries)
    return HolderEligibility(
        member.investor_id, wallet, public.chain_id, COUNTRY_NUMERIC[member.country],
        INVESTOR_CLASSES[member.investor_class], ZERO32, bytes.fromhex(pack.content_hash[2:]), valid_from,
        min(expiry, valid_from + 365 * 24 * 3600),
    )  # fmt: skip
