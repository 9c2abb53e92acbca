"""Delivers attested operations on their destination chain, exactly once.

Exactly once rests on three things: the contracts refuse a second mint, release or refund of the same
source event; before sending, the submitter asks the chain which operations are already done (a
crash may have left a transaction mined but unrecorded); and every transaction is recorded in
``submissions`` before it is broadcast, so after a restart a pending one is awaited, not duplicated.

A delivery counts only once final: its block canonical and ``confirmations`` deep. A submission's
status goes ``pending`` → ``mined`` → ``final`` (at once with zero confirmations), or ``failed``
(reverted) or ``replaced`` (its nonce went to another transaction, or the node dropped it). A reorg
may take a ``mined`` transaction away: the submission is ``pending`` again while the node still holds
the transaction, else ``reorged``, and its operations are delivered again (replay protection on
chain keeps that exactly once).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from web3.exceptions import TransactionNotFound
from web3.types import BlockIdentifier

from attestations.attestation import Attestation
from attestations.keys import recover_address
from relayer.config import ChainConfig, Config
from relayer.errors import DariError
from relayer.evm.abi import abi_of
from relayer.evm.artifacts import Artifacts
from relayer.evm.client import ChainClient, ContractReverted, RevertDecoder, RpcError, RpcUnavailable, View, quantity
from relayer.finality import is_final
from relayer.schema import submissions
from relayer.store import Operation, as_utc, now_utc
from relayer.transfer_state import Kind, State

GAS_HEADROOM = 1.25
PRICE_BUMP = 1.15  # replacement transactions pay at least 10% more (node rule); 15% to be safe
ESCROW_REFUNDED = 2  # BridgeEscrow.RequestStatus.Refunded
GAS_PROBE = "eth_createAccessList"  # executes a call once and reports its gasUsed
RECEIPT = "eth_getTransactionReceipt"
UNSUPPORTED = (-32601, -32602)  # JSON-RPC "method not found", "invalid params"


class DeliveryRefused(DariError):
    """The destination contract refuses the delivery (estimate reverted) for ``error``."""

    def __init__(self, error: ContractReverted) -> None:
        self.error = error
        super().__init__(str(error))


@dataclass(frozen=True)
class Receipt:
    """A transaction's receipt as the node has it now (``block_*`` only when mined)."""

    tx_hash: str
    mined: bool
    success: bool
    block_number: int | None = None
    block_hash: str | None = None


def final_block(head: int, confirmations: int) -> int | Literal["latest"]:
    """The newest block whose state is final at ``head``: ``"latest"`` with zero confirmations."""
    return "latest" if confirmations == 0 else max(head - confirmations, 0)


def _receipt(tx_hash: str, raw: Any) -> Receipt:
    """A receipt from an ``eth_getTransactionReceipt`` answer (None: not mined)."""
    if raw is None:
        return Receipt(tx_hash, mined=False, success=False)
    if not isinstance(raw, dict) or not isinstance(raw.get("blockHash"), str):
        raise RpcUnavailable(RECEIPT, f"not a receipt: {raw!r}")
    return Receipt(
        tx_hash,
        True,
        quantity(RECEIPT, raw.get("status")) == 1,
        quantity(RECEIPT, raw.get("blockNumber")),
        raw["blockHash"].lower(),
    )


def purpose(op: Operation) -> str:
    if op.kind == Kind.BRIDGE_OUT:
        return "refund" if op.state in (State.REFUND_ATTESTED, State.REFUND_SUBMITTED) else "mint"
    return {Kind.BRIDGE_BACK: "release", Kind.HOLDER_REGISTER: "register", Kind.HOLDER_REVOKE: "revoke"}[op.kind]


def ordered_signatures(attestation: Attestation) -> list[bytes]:
    """secp256k1 signatures in strictly increasing signer order, as the contracts require."""
    digest = attestation.digest
    signed = [(int(recover_address(digest, s.secp256k1), 16), s.secp256k1) for s in attestation.signatures]
    return [sig for _, sig in sorted(signed)]


class ChainSubmitter:
    """One destination chain, one sending key (the lease guarantees a single active sender)."""

    def __init__(
        self, config: Config, chain: ChainConfig, client: ChainClient, artifacts: Artifacts, signer: LocalAccount,
        engine: AsyncEngine,
    ) -> None:  # fmt: skip
        self.config, self.chain, self.client, self.signer, self._engine = config, chain, client, signer, engine
        self._decoder = RevertDecoder.from_artifacts(artifacts)
        c = chain.contracts
        self.escrow, self.gateway, self.holders = c.get("escrow"), c.get("gateway"), c.get("holderRegistry")
        self._escrow = abi_of(artifacts, "BridgeEscrow")
        self._gateway = abi_of(artifacts, "BridgeGateway")
        self._holders = abi_of(artifacts, "HolderRegistry")

    # --- what is already done on chain -------------------------------------------------------

    def _done_view(self, op: Operation) -> View:
        """The read that tells whether ``op`` was delivered (see `_is_done`)."""
        kind = purpose(op)
        if kind == "mint" and self.gateway is not None:
            return View(self.gateway, self._gateway["isProcessed"], (op.source.chain_id, op.source_nonce))
        if kind == "release" and self.escrow is not None:
            return View(self.escrow, self._escrow["isReleased"], (op.source.chain_id, op.source_nonce))
        if kind == "refund" and self.escrow is not None:
            return View(self.escrow, self._escrow["request"], (op.source_nonce,))
        if kind in ("register", "revoke") and self.holders is not None:
            return View(self.holders, self._holders["holder"], (op.recipient,))
        raise DariError(f"chain {self.chain.chain_id} has no contract to {kind}")

    @staticmethod
    def _is_done(op: Operation, attestation: Attestation, answer: Any) -> bool:
        kind = purpose(op)
        if kind == "refund":
            return int(answer[1]) == ESCROW_REFUNDED
        if kind in ("register", "revoke"):
            return bytes(answer[7]) == attestation.digest  # the holder's last applied statement
        return bool(answer)

    async def delivered_many(
        self, deliveries: Sequence[tuple[Operation, Attestation]], block: BlockIdentifier = "latest"
    ) -> list[bool]:
        """Whether the chain's state at ``block`` shows each of ``deliveries`` delivered (by us before a crash,
        or by anyone), read in one JSON-RPC batch."""
        if not deliveries:
            return []
        answers = await self.client.views([self._done_view(op) for op, _ in deliveries], block)
        return [self._is_done(op, a, answer) for (op, a), answer in zip(deliveries, answers, strict=True)]

    async def head(self) -> int:
        [number] = await self.client.batch_results([("eth_blockNumber", [])])
        return quantity("eth_blockNumber", number)

    def final_block(self, head: int) -> int | Literal["latest"]:
        return final_block(head, self.chain.confirmations)

    async def settled(self, receipts: Iterable[Receipt], head: int) -> dict[str, bool | None]:
        """For each mined, successful receipt, whether it counts at ``head``: True when its block is
        canonical and ``confirmations`` deep (at once with zero confirmations), None while shallower,
        False when its block is no longer canonical. The blocks are read in one batch."""
        mined = [r for r in receipts if r.mined and r.success]
        if self.chain.confirmations == 0:
            return {r.tx_hash: True for r in mined}
        numbers = sorted({r.block_number for r in mined if r.block_number is not None})
        blocks = await self.client.batch_results([("eth_getBlockByNumber", [hex(n), False]) for n in numbers])
        canonical = {
            n: str(b["hash"]).lower() if isinstance(b, dict) else None for n, b in zip(numbers, blocks, strict=True)
        }
        return {
            r.tx_hash: False
            if r.block_number is None or r.block_hash is None
            else is_final(r.block_number, r.block_hash, canonical[r.block_number], head, self.chain.confirmations)
            for r in mined
        }

    # --- building and sending -------------------------------------------------------------------

    def call_for(self, deliveries: Sequence[tuple[Operation, Attestation]]) -> tuple[str, bytes]:
        """The contract and calldata delivering ``deliveries`` (several only for mints: ``mintBatch``)."""
        op, attestation = deliveries[0]
        kind = purpose(op)
        if kind == "mint" and self.gateway is not None:
            if len(deliveries) == 1:
                return self.gateway, self._gateway["mint"].encode(
                    attestation.statement.as_tuple(), ordered_signatures(attestation)
                )
            return self.gateway, self._gateway["mintBatch"].encode(
                [a.statement.as_tuple() for _, a in deliveries], [ordered_signatures(a) for _, a in deliveries]
            )
        if kind == "release" and self.escrow is not None:
            return self.escrow, self._escrow["release"].encode(
                attestation.statement.as_tuple(), ordered_signatures(attestation)
            )
        if kind == "refund" and self.escrow is not None:
            reason = attestation.statement.as_tuple()[4]
            return self.escrow, self._escrow["refund"].encode(op.source_nonce, reason, ordered_signatures(attestation))
        if kind in ("register", "revoke") and self.holders is not None:
            function = self._holders["registerHolder" if kind == "register" else "revokeHolder"]
            return self.holders, function.encode(attestation.statement.as_tuple(), ordered_signatures(attestation))
        raise DariError(f"chain {self.chain.chain_id} has no contract to {kind}")

    async def _gas(self, request: dict[str, Any], probe: Any) -> int:
        """The gas ``request`` uses, from the answer to `GAS_PROBE` (one execution), else from
        ``eth_estimateGas`` (a binary search: ten times slower on a large batch) where the node cannot
        probe or reports a revert without its data; `DeliveryRefused` when it reverts."""
        if isinstance(probe, dict) and isinstance(probe.get("gasUsed"), str) and not probe.get("error"):
            return quantity(GAS_PROBE, probe["gasUsed"])
        if isinstance(probe, RpcError):
            self._refuse(probe)
            if probe.code not in UNSUPPORTED:
                raise probe.unavailable()
        [estimate] = await self.client.batch([("eth_estimateGas", [request])])
        if isinstance(estimate, RpcError):
            self._refuse(estimate)
            raise estimate.unavailable()
        return quantity("eth_estimateGas", estimate)

    def _refuse(self, error: RpcError) -> None:
        """`DeliveryRefused` if ``error`` reports a revert."""
        reverted = self._decoder.revert(error)
        if reverted is not None:
            raise DeliveryRefused(reverted)

    def _price(self, quoted: int, floor: int = 0) -> int:
        """The gas price to pay for a node's ``quoted`` price: with headroom on a public chain, at least
        ``floor`` (a replacement), at most the configured cap."""
        price = quoted if self.chain.confirmations == 0 and floor == 0 else max(int(quoted * GAS_HEADROOM), floor)
        cap = int(self.config.relayer.max_gas_price_gwei * 10**9) if self.config.relayer else price
        return min(price, cap)

    async def send(self, call: tuple[str, bytes], operation_ids: list[str], kind: str) -> str:
        """Measures, signs, records and broadcasts ``call`` (contract, calldata); `DeliveryRefused` when
        the contract would revert. The gas probe, the pending nonce and the gas price are read in one batch."""
        to, data = call
        request = {"from": self.signer.address, "to": to, "data": "0x" + data.hex()}
        probe, pending, quoted = await self.client.batch([
            (GAS_PROBE, [request, "latest"]), ("eth_getTransactionCount", [self.signer.address, "pending"]),
            ("eth_gasPrice", []),
        ])  # fmt: skip
        for answer in (pending, quoted):
            if isinstance(answer, RpcError):
                raise answer.unavailable()
        gas = await self._gas(request, probe)
        nonce = quantity("eth_getTransactionCount", pending)
        price = self._price(quantity("eth_gasPrice", quoted))
        tx: dict[str, Any] = {
            "to": to, "data": data, "nonce": nonce, "gas": int(gas * GAS_HEADROOM) + 50_000, "gasPrice": price,
            "chainId": self.chain.chain_id, "value": 0,
        }  # fmt: skip
        signed = self.signer.sign_transaction(tx)
        tx_hash = signed.hash.to_0x_hex()
        async with self._engine.begin() as conn:
            await conn.execute(
                submissions.insert().values(
                    tx_hash=tx_hash, chain_id=self.chain.chain_id, sender=self.signer.address, nonce=nonce,
                    operation_ids=json.dumps(operation_ids), purpose=kind, gas_price=str(price), status="pending",
                    created_at=now_utc(),
                )
            )  # fmt: skip
        await self.client.batch_results([("eth_sendRawTransaction", ["0x" + signed.raw_transaction.hex()])])
        return tx_hash

    async def receipts(self, hashes: Iterable[str]) -> dict[str, Receipt]:
        """Whether each of ``hashes`` is mined (in which block) and succeeded, read in one batch."""
        ordered = sorted(set(hashes))
        answers = await self.client.batch_results([("eth_getTransactionReceipt", [h]) for h in ordered])
        return {h: _receipt(h, answer) for h, answer in zip(ordered, answers, strict=True)}

    async def pending(self, statuses: Sequence[str] = ("pending",)) -> list[dict[str, Any]]:
        """This chain's recorded submissions in ``statuses`` (by default the still pending ones)."""
        query = select(submissions).where(
            submissions.c.chain_id == self.chain.chain_id, submissions.c.status.in_(statuses)
        )
        async with self._engine.connect() as conn:
            return [dict(r) for r in (await conn.execute(query)).mappings()]

    async def in_flight(self) -> set[str]:
        """Operation ids inside pending submissions (never resent while their transaction may mine)."""
        return {op_id for row in await self.pending() for op_id in json.loads(row["operation_ids"])}

    async def settle_pending(self, stuck_after: float) -> None:
        """Resolves recorded submissions: pending ones that mined are marked mined (final at once with
        zero confirmations) or failed; ones the node no longer knows while the nonce was consumed are
        marked replaced; ones pending too long are re-priced (same nonce). Mined ones are checked again
        until final: if a reorg took the transaction away, the submission is pending again while the node
        still holds it, else reorged (its operations are no longer in flight)."""
        rows = await self.pending(("pending", "mined"))
        if not rows:
            return
        head_answer, nonce_answer = await self.client.batch_results(
            [("eth_blockNumber", []), ("eth_getTransactionCount", [self.signer.address, "latest"])]
        )
        head = quantity("eth_blockNumber", head_answer)
        confirmed_nonce = quantity("eth_getTransactionCount", nonce_answer)
        receipts = await self.receipts(row["tx_hash"] for row in rows)
        final = await self.settled(receipts.values(), head)
        marks: dict[str, str] = {}
        for row in rows:
            tx_hash = row["tx_hash"]
            result = receipts[tx_hash]
            if result.mined:
                status = ("final" if final[tx_hash] else "mined") if result.success else "failed"
                if status != row["status"]:
                    marks[tx_hash] = status
            elif row["status"] == "mined":  # a reorg took it away
                marks[tx_hash] = "pending" if await self._known(tx_hash) else "reorged"
            elif row["nonce"] < confirmed_nonce:
                marks[tx_hash] = "replaced"  # its nonce went to another transaction
            elif (now_utc() - (as_utc(row["created_at"]) or now_utc())).total_seconds() > stuck_after:
                await self._replace(row)
        await self._mark_many(marks)

    async def _known(self, tx_hash: str) -> bool:
        """Whether the node still holds ``tx_hash`` (mined or in its pool)."""
        try:
            await self.client.w3.eth.get_transaction(HexBytes(tx_hash))
        except TransactionNotFound:
            return False
        return True

    async def _replace(self, row: dict[str, Any]) -> None:
        """Re-sends a stuck transaction with the same nonce and a higher gas price."""
        try:
            original = await self.client.w3.eth.get_transaction(HexBytes(row["tx_hash"]))
        except TransactionNotFound:
            await self._mark_many({row["tx_hash"]: "replaced"})  # dropped by the node: the operations retry
            return
        quoted = int(await self.client.w3.eth.gas_price)
        price = self._price(quoted, floor=int(int(row["gas_price"]) * PRICE_BUMP) + 1)
        tx: dict[str, Any] = {
            "to": original["to"], "data": original["input"], "gas": original["gas"], "value": original["value"],
            "nonce": original["nonce"], "gasPrice": price, "chainId": self.chain.chain_id,
        }  # fmt: skip
        signed = self.signer.sign_transaction(tx)
        async with self._engine.begin() as conn:
            await conn.execute(
                update(submissions).where(submissions.c.tx_hash == row["tx_hash"]).values(status="replaced")
            )
            await conn.execute(
                submissions.insert().values(
                    tx_hash=signed.hash.to_0x_hex(), chain_id=row["chain_id"], sender=row["sender"], nonce=row["nonce"],
                    operation_ids=row["operation_ids"], purpose=row["purpose"], gas_price=str(price), status="pending",
                    created_at=now_utc(),
                )
            )  # fmt: skip
        await self.client.w3.eth.send_raw_transaction(signed.raw_transaction)

    async def _mark_many(self, statuses: dict[str, str]) -> None:
        """Sets each submission's status (by transaction hash) in one database transaction."""
        if not statuses:
            return
        async with self._engine.begin() as conn:
            await conn.execute(
                update(submissions)
                .where(submissions.c.tx_hash == bindparam("b_hash"))
                .values(status=bindparam("b_status")),
                [{"b_hash": h, "b_status": status} for h, status in statuses.items()],
            )
