"""The raw baseline: the relayer's own mints replayed by a minimal loop — sign each mint as its own
transaction, send it, and wait until the last one is final (mined and ``confirmations`` deep, as the
relayer counts a mint confirmed). No relayer, no database, no batching."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount

from relayer.devtools.bench.rpc import Rpc

MINT_GAS = 300_000  # above a first mint to a new holder (175,023 gas, docs/performance.md)


@dataclass(frozen=True)
class RawRun:
    transfers: int
    seconds: float
    tx_hashes: list[str]

    @property
    def rate(self) -> float:
        return self.transfers / self.seconds


async def send_mints(
    rpc: Rpc, chain_id: int, gateway: str, calls: Sequence[bytes], sender: LocalAccount, confirmations: int
) -> RawRun:
    """Sends one ``gateway`` transaction per calldata in ``calls``, in nonce order, then waits until
    all are mined and the last is ``confirmations`` deep; timed from the first signature to then."""
    price = int(await rpc.call("eth_gasPrice"), 16) * 2
    first = await rpc.nonce(sender.address, "pending")
    hashes = []
    started = time.perf_counter()
    for offset, data in enumerate(calls):
        tx: dict[str, Any] = {"to": gateway, "data": data, "gas": MINT_GAS, "gasPrice": price, "nonce": first + offset,
              "chainId": chain_id, "value": 0}  # fmt: skip
        hashes.append(await rpc.send_raw(sender.sign_transaction(tx).raw_transaction))
    mined, last = await rpc.wait_receipt(hashes[-1], timeout=60 + len(calls) / 10) if hashes else (started, None)
    finished = mined
    if confirmations and last is not None:
        finished = await rpc.wait_block(int(last["blockNumber"], 16) + confirmations, timeout=60 + confirmations * 5)
    return RawRun(len(calls), finished - started, hashes)
