"""The seeded holders' registrations, through the relayer: once it has decided every seeded wallet link, the
devnet's compliance officer approves each one the rules hold (a foreign holder whose jurisdiction's rules
call for a review) with a decision signed by the officer's own key and posted to the relayer's API, as
`dari transfers approve` would; then waits until each is registered on its chain. The devnet thus starts
with every eligible holder registered through the attestors and no registration left held."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from relayer.core.config import Config, load_config
from relayer.core.signed import decisions_domain, signed_decision
from relayer.devtools.devnet.cast import CAST, officer_key
from relayer.devtools.errors import DevnetError

SEED_REASON = "devnet seed: the cast's KYC provider verified this holder"
DECIDED = {"held", "approved", "attested", "submitted", "confirmed", "rejected", "stalled"}


@dataclass(frozen=True)
class _Source:
    chain_id: int
    tx_hash: str
    log_index: int


def officer_approval(config: Config, op: Mapping[str, Any], reason: str) -> dict[str, Any]:
    """The body of ``POST /v1/transfers/{id}/approve`` for the operation ``op`` (as the API shows it): the
    devnet officer's signed approval, keeping the lock-up the rules set."""
    source = _Source(op["sourceChainId"], op["sourceTxHash"], op["sourceLogIndex"])
    decision = signed_decision(
        officer_key(), decisions_domain(config), source, approve=True, locked_until=op["lockedUntil"] or 0,
        reason=reason, now=int(time.time()),
    )  # fmt: skip
    return {"decision": decision.to_json()}


def _api(config: Config) -> str:
    return f"http://{config.api.host}:{config.api.port}"


async def _registrations(session: aiohttp.ClientSession, api: str) -> list[dict[str, Any]]:
    async with session.get(f"{api}/v1/transfers", params={"kind": "holder-register", "limit": "1000"}) as response:
        if response.status != 200:
            raise DevnetError(f"GET {api}/v1/transfers answered {response.status}: {await response.text()}")
        found: list[dict[str, Any]] = (await response.json())["transfers"]
        return found


async def approve_seeded_holders(root: Path, timeout: float = 90.0) -> list[str]:
    """Approves the held registrations of the seeded wallet links of ``root``'s devnet (whose relayer runs);
    returns their ids once they are confirmed. `DevnetError` if that takes longer than ``timeout``."""
    config = load_config(root / "dari.toml")
    api, links = _api(config), sum(len(m.wallets) for m in CAST)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    approved: set[str] = set()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        while True:
            ops = await _registrations(session, api)
            decided = [op for op in ops if op["state"] in DECIDED]
            if len(decided) >= links:
                break
            if loop.time() > deadline:
                raise DevnetError(f"the relayer decided {len(decided)} of {links} seeded wallet links in {timeout} s")
            await asyncio.sleep(0.2)
        for op in (op for op in ops if op["state"] == "held"):
            url = f"{api}/v1/transfers/{op['id']}/approve"
            async with session.post(url, json=officer_approval(config, op, SEED_REASON)) as response:
                if response.status != 200:
                    raise DevnetError(f"POST {url} answered {response.status}: {await response.text()}")
            approved.add(op["id"])
        while True:
            states = {op["id"]: op["state"] for op in await _registrations(session, api) if op["id"] in approved}
            if all(state == "confirmed" for state in states.values()):
                return sorted(approved)
            if loop.time() > deadline:
                raise DevnetError(f"approved seeded registrations not registered after {timeout} s: {states}")
            await asyncio.sleep(0.2)
