"""The end-to-end story (SPEC section 9) on a running devnet, narrated step by step.

Each step acts through the same surfaces users have: the chains (investors' own keys), the relayer's
HTTP API (an operator's bearer token), and the verifiers of `attestations/` (a DeFi integrator or a
regulator checking what Dari signed). Any broken promise raises `StoryFailed`.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from eth_account import Account
from eth_account.signers.local import LocalAccount
from rich.console import Console
from rich.table import Table
from web3.logs import DISCARD

from attestations.attestation import Attestation
from attestations.kinds import RecognitionRecord
from attestations.log import ConsistencyProof, InclusionProof, SignedTreeHead
from attestations.trust import TrustList
from attestations.verify import verify
from relayer.core.config import load_config
from relayer.core.errors import DariError
from relayer.devtools.devnet.holders import officer_approval
from relayer.devtools.devnet.manifest import InvestorEntry, Manifest, WalletEntry
from relayer.edges.evm.artifacts import load_artifacts
from relayer.edges.evm.client import ChainClient, ContractReverted, RevertDecoder

STEP_TIMEOUT = 90.0


class StoryFailed(DariError):
    """The devnet did not behave as the story promises."""


@dataclass
class Summary:
    minted: list[str] = field(default_factory=list)
    refunded: list[str] = field(default_factory=list)
    released: list[str] = field(default_factory=list)
    escalated: list[str] = field(default_factory=list)
    recognition_records: int = 0
    reconciliation: str = "not run"
    log_size: int = 0
    log_root: str = ""
    elapsed: float = 0.0

    def table(self) -> Table:
        table = Table(title="Dari demo: summary")
        table.add_column("what")
        table.add_column("result")
        table.add_row("bridge-outs minted", ", ".join(self.minted))
        table.add_row("escalated, approved by an operator", ", ".join(self.escalated))
        table.add_row("refunded (ineligible recipient)", ", ".join(self.refunded))
        table.add_row("bridge-backs released", ", ".join(self.released))
        table.add_row("recognition records verified", str(self.recognition_records))
        table.add_row("reconciliation", self.reconciliation)
        table.add_row("transparency log", f"{self.log_size} entries, root {self.log_root}")
        table.add_row("time", f"{self.elapsed:.1f} s")
        return table


class Story:
    def __init__(self, root: Path, console: Console) -> None:
        self.root = root
        self.console = console
        self.manifest = Manifest.read(root / "devnet.json")
        self.config = load_config(root / "dari.toml")
        if self.manifest.api_url is None:
            raise StoryFailed("the devnet runs no relayer (started with --no-relayer?)")
        self.api = self.manifest.api_url
        self.artifacts = load_artifacts()
        self.clients: dict[int, ChainClient] = {}
        self.summary = Summary()
        self._stack = AsyncExitStack()
        self.http: aiohttp.ClientSession
        self.first_head: SignedTreeHead | None = None

    async def __aenter__(self) -> Story:
        decoder = RevertDecoder.from_artifacts(self.artifacts)
        for chain in (self.manifest.registry, *self.manifest.public):
            self.clients[chain.chain_id] = await self._stack.enter_async_context(ChainClient(chain.rpc_url, decoder))
        self.http = await self._stack.enter_async_context(
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        )
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self._stack.aclose()

    # --- plumbing ---------------------------------------------------------------------------------

    async def get(self, path: str) -> Any:
        async with self.http.get(self.api + path) as response:
            body = await response.json()
            if response.status != 200:
                raise StoryFailed(f"GET {path}: {response.status} {body}")
            return body

    async def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        token = self.config.api.token.read() if self.config.api.token else ""
        async with self.http.post(self.api + path, json=body, headers={"Authorization": f"Bearer {token}"}) as response:
            answer = await response.json()
            if response.status != 200:
                raise StoryFailed(f"POST {path}: {response.status} {answer}")
            return answer

    async def until(self, what: str, check: Callable[[], Awaitable[bool]], timeout: float = STEP_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while not await check():
            if time.monotonic() > deadline:
                raise StoryFailed(f"timed out waiting until {what}")
            await asyncio.sleep(0.3)

    async def state(self, transfer_id: str) -> str | None:
        async with self.http.get(f"{self.api}/v1/transfers/{transfer_id}") as response:
            return str((await response.json())["state"]) if response.status == 200 else None

    async def reach(self, transfer_id: str, *states: str) -> None:
        async def done() -> bool:
            return await self.state(transfer_id) in states

        await self.until(f"{transfer_id} is {' or '.join(states)}", done)

    def investor(self, name: str) -> InvestorEntry:
        return next(i for i in self.manifest.investors if i.name.startswith(name))

    def chain(self, name: str) -> int:
        return next(c.chain_id for c in self.manifest.public if c.name == name)

    def contract(self, name: str, chain_id: int, address: str) -> Any:
        return self.clients[chain_id].contract(self.artifacts.get(name), address)

    async def bridge_out(self, who: str, amount: int, chain: str) -> str:
        investor = self.investor(who)
        account: LocalAccount = Account.from_key(investor.registry_key)
        registry = self.manifest.registry
        security = self.manifest.securities[0]
        token = self.contract("SecurityToken", registry.chain_id, security.registry_token)
        escrow = self.contract("BridgeEscrow", registry.chain_id, registry.contracts["escrow"])
        client = self.clients[registry.chain_id]
        await client.transact(token.functions.approve(escrow.address, amount), account)
        recipient = investor.wallets[str(self.chain(chain))].address
        receipt = await client.transact(
            escrow.functions.bridgeOut(token.address, amount, self.chain(chain), recipient), account
        )
        [event] = escrow.events.BridgeOutRequested().process_receipt(receipt, errors=DISCARD)
        return f"{registry.chain_id}-{event['args']['nonce']}"

    # --- the story --------------------------------------------------------------------------------

    async def run(self) -> Summary:
        started = time.monotonic()
        self.first_head = SignedTreeHead.from_json(await self.get("/v1/log/sth"))
        steps: list[tuple[str, Callable[[], Awaitable[str]]]] = [
            ("securities issued on the registry", self.securities),
            ("wallets linked; eligible holders whitelisted by attested eligibility", self.whitelisting),
            ("bridge-outs mint wrapped tokens on both public chains", self.mints),
            ("an escalated transfer waits for an operator, who approves it", self.escalation),
            ("a transfer between whitelisted holders works; one to an outsider reverts", self.holder_transfers),
            ("an ineligible request is refunded", self.refund),
            ("a bridge-back releases units on the registry", self.release),
            ("recognition records are listed and verified", self.recognition),
            ("reconciliation balances", self.reconciliation),
            ("the transparency log verifies", self.transparency),
        ]
        for number, (title, step) in enumerate(steps, 1):
            with self.console.status(f"[{number}/{len(steps)}] {title}"):
                outcome = await step()
            self.console.print(f"[green]✓[/green] [{number}/{len(steps)}] {title}: {outcome}", highlight=False)
        self.summary.elapsed = time.monotonic() - started
        return self.summary

    async def securities(self) -> str:
        return ", ".join(f"{s.isin} ({s.asset_class})" for s in self.manifest.securities)

    async def whitelisting(self) -> str:
        outcomes = []
        for investor in self.manifest.investors:
            for chain_id, wallet in investor.wallets.items():
                holders = self.contract(
                    "HolderRegistry",
                    int(chain_id),
                    next(c.contracts["holderRegistry"] for c in self.manifest.public if c.chain_id == int(chain_id)),
                )

                async def settled(h: Any = holders, w: WalletEntry = wallet) -> bool:
                    verified: bool = await h.functions.isVerified(w.address).call()
                    return verified == w.eligible

                await self.until(f"{investor.name}'s wallet on {chain_id} is settled", settled)
                outcomes.append(f"{investor.name.split()[0]}@{chain_id}={'yes' if wallet.eligible else 'no'}")
        return "; ".join(outcomes)

    async def mints(self) -> str:
        ids = [await self.bridge_out("Minjun", 25, "ethereum"), await self.bridge_out("Minjun", 15, "rollup")]
        for transfer_id in ids:
            await self.reach(transfer_id, "confirmed")
        self.summary.minted += ids
        return ", ".join(ids)

    async def escalation(self) -> str:
        transfer_id = await self.bridge_out("Lena", 10, "ethereum")
        await self.reach(transfer_id, "held")
        held = await self.get(f"/v1/transfers/{transfer_id}")
        reason = held["reason"]
        await self.post(f"/v1/transfers/{transfer_id}/approve", officer_approval(self.config, held, "demo review"))
        await self.reach(transfer_id, "confirmed")
        self.summary.escalated.append(transfer_id)
        self.summary.minted.append(transfer_id)
        return f"{transfer_id} held ({reason}), approved by the officer's signed decision, minted"

    async def holder_transfers(self) -> str:
        ethereum = self.chain("ethereum")
        wrapped = self.contract("WrappedSecurity", ethereum, self.manifest.securities[0].wrapped[str(ethereum)])
        kim = Account.from_key(self.investor("Minjun").wallets[str(ethereum)].key)
        lena = self.investor("Lena").wallets[str(ethereum)].address
        bob = self.investor("Bob").wallets[str(ethereum)].address
        await self.clients[ethereum].transact(wrapped.functions.transfer(lena, 5), kim)
        try:
            await self.clients[ethereum].transact(wrapped.functions.transfer(bob, 1), kim)
        except ContractReverted as exc:
            return f"Kim -> Lena 5 units ok; Kim -> Bob reverted with {exc.error}"
        raise StoryFailed("a transfer to a non-whitelisted wallet went through")

    async def refund(self) -> str:
        transfer_id = await self.bridge_out("Bob", 10, "ethereum")
        await self.reach(transfer_id, "refunded")
        self.summary.refunded.append(transfer_id)
        return f"{transfer_id} refunded: {(await self.get(f'/v1/transfers/{transfer_id}'))['reason']}"

    async def release(self) -> str:
        ethereum = self.chain("ethereum")
        investor = self.investor("Minjun")
        account = Account.from_key(investor.wallets[str(ethereum)].key)
        gateway = self.contract(
            "BridgeGateway",
            ethereum,
            next(c.contracts["gateway"] for c in self.manifest.public if c.chain_id == ethereum),
        )
        wrapped = self.manifest.securities[0].wrapped[str(ethereum)]
        receipt = await self.clients[ethereum].transact(
            gateway.functions.bridgeBack(wrapped, 8, investor.registry_address), account
        )
        [event] = gateway.events.BridgeBackRequested().process_receipt(receipt, errors=DISCARD)
        transfer_id = f"{ethereum}-{event['args']['nonce']}"
        await self.reach(transfer_id, "confirmed")
        self.summary.released.append(transfer_id)
        return f"{transfer_id} released 8 units to {investor.name}"

    async def trust(self) -> TrustList:
        return TrustList.parse(await self.get("/v1/attestors"))

    async def recognition(self) -> str:
        trust = await self.trust()

        async def published() -> bool:
            records = (await self.get("/v1/recognition"))["records"]
            return len(records) >= len(self.manifest.securities) * 8

        await self.until("recognition records are published", published)
        statuses: dict[str, int] = {}
        for document in (await self.get("/v1/recognition"))["records"]:
            record = verify(document, trust, now=int(time.time()), kind=RecognitionRecord)
            statuses[record.status] = statuses.get(record.status, 0) + 1
        self.summary.recognition_records = sum(statuses.values())
        return ", ".join(f"{n} {status}" for status, n in sorted(statuses.items()))

    async def reconciliation(self) -> str:
        process = await asyncio.create_subprocess_exec(
            *RECONCILE, "--config", str(self.root / "dari.toml"), "--json",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _out, err = await process.communicate()
        if process.returncode != 0:
            raise StoryFailed(f"reconciliation exit {process.returncode}: {err.decode()[-500:]}")
        latest = await self.get("/v1/reconciliation/latest")
        trust = await self.trust()
        for document in latest["reports"]:
            verify(document, trust)
        self.summary.reconciliation = f"balanced ({len(latest['reports'])} signed reports)"
        return self.summary.reconciliation

    async def transparency(self) -> str:
        trust = await self.trust()
        if trust.log_key is None:
            raise StoryFailed("the trust list names no log key")
        head = SignedTreeHead.from_json(await self.get("/v1/log/sth"))
        head.verify(trust.log_key)
        transfers = [*self.summary.minted, *self.summary.refunded, *self.summary.released]
        checked = 0
        for transfer_id in transfers:
            for digest in (await self.get(f"/v1/transfers/{transfer_id}"))["attestations"]:
                proof = InclusionProof.from_json(
                    await self.get(f"/v1/log/proof/inclusion?digest={digest}&tree_size={head.tree_size}")
                )
                proof.verify(bytes.fromhex(digest[2:]), head)
                Attestation.parse(await self.get(f"/v1/attestations/{digest}"))
                checked += 1
        first = self.first_head
        if first is not None and 0 < first.tree_size < head.tree_size:
            path = f"/v1/log/proof/consistency?first={first.tree_size}&second={head.tree_size}"
            ConsistencyProof.from_json(await self.get(path)).verify(first, head)
        self.summary.log_size, self.summary.log_root = head.tree_size, "0x" + head.root_hash.hex()[:16] + "…"
        grown = f", consistent with the head of {first.tree_size} taken before the story" if first else ""
        return f"tree head of {head.tree_size} entries verified, {checked} inclusion proofs verified{grown}"


RECONCILE = [sys.executable, "-m", "relayer", "reconcile"]


async def tell(root: Path, console: Console) -> Summary:
    async with Story(root, console) as story:
        return await story.run()
