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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from web3.exceptions import ContractCustomError, ContractLogicError, TransactionNotFound
from web3.types import BlockIdentifier, Nonce

from attestations.attestation import Attestation
from attestations.keys import recover_address
from relayer.config import ChainConfig, Config
from relayer.errors import DariError
from relayer.evm.artifacts import Artifacts
from relayer.evm.client import ChainClient, ContractReverted, RevertDecoder
from relayer.finality import is_final
from relayer.schema import submissions
from relayer.store import Operation, as_utc, now_utc
from relayer.transfer_state import Kind, State

GAS_HEADROOM = 1.25
PRICE_BUMP = 1.15  # replacement transactions pay at least 10% more (node rule); 15% to be safe


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
        self.escrow = client.contract(artifacts.get("BridgeEscrow"), c["escrow"]) if "escrow" in c else None
        self.gateway = client.contract(artifacts.get("BridgeGateway"), c["gateway"]) if "gateway" in c else None
        self.holders = (
            client.contract(artifacts.get("HolderRegistry"), c["holderRegistry"]) if "holderRegistry" in c else None
        )

    # --- what is already done on chain -------------------------------------------------------

    async def delivered(self, op: Operation, attestation: Attestation, block: BlockIdentifier = "latest") -> bool:
        """Whether the chain's state at ``block`` shows ``op`` delivered (by us before a crash, or by anyone)."""
        kind = purpose(op)
        if kind == "mint" and self.gateway is not None:
            fn = self.gateway.functions.isProcessed(op.source.chain_id, op.source_nonce)
            return bool(await fn.call(block_identifier=block))
        if kind == "release" and self.escrow is not None:
            fn = self.escrow.functions.isReleased(op.source.chain_id, op.source_nonce)
            return bool(await fn.call(block_identifier=block))
        if kind == "refund" and self.escrow is not None:
            request = await self.escrow.functions.request(op.source_nonce).call(block_identifier=block)
            return int(request[1]) == 2  # RequestStatus.Refunded
        if kind in ("register", "revoke") and self.holders is not None:
            entry = await self.holders.functions.holder(op.recipient).call(block_identifier=block)
            return bytes(entry[7]) == attestation.digest
        return False

    async def head(self) -> int:
        return int(await self.client.w3.eth.block_number)

    def final_block(self, head: int) -> int | Literal["latest"]:
        return final_block(head, self.chain.confirmations)

    async def settled(self, receipt: Receipt, head: int) -> bool | None:
        """Whether a mined ``receipt`` counts at ``head``: True when its block is canonical and
        ``confirmations`` deep (at once with zero confirmations), None while shallower, False when its
        block is no longer canonical."""
        if self.chain.confirmations == 0:
            return True
        if receipt.block_number is None or receipt.block_hash is None:
            return False
        block = await self.client.rpc("eth_getBlockByNumber", [hex(receipt.block_number), False])
        canonical = str(block["hash"]).lower() if isinstance(block, dict) else None
        return is_final(receipt.block_number, receipt.block_hash, canonical, head, self.chain.confirmations)

    # --- building and sending -------------------------------------------------------------------

    def call_for(self, deliveries: Sequence[tuple[Operation, Attestation]]) -> Any:
        """The contract call delivering ``deliveries`` (several only for mints: ``mintBatch``)."""
        op, attestation = deliveries[0]
        kind = purpose(op)
        if kind == "mint" and self.gateway is not None:
            if len(deliveries) == 1:
                return self.gateway.functions.mint(attestation.statement.as_tuple(), ordered_signatures(attestation))
            return self.gateway.functions.mintBatch(
                [a.statement.as_tuple() for _, a in deliveries], [ordered_signatures(a) for _, a in deliveries]
            )
        if kind == "release" and self.escrow is not None:
            return self.escrow.functions.release(attestation.statement.as_tuple(), ordered_signatures(attestation))
        if kind == "refund" and self.escrow is not None:
            reason = attestation.statement.as_tuple()[4]
            return self.escrow.functions.refund(op.source_nonce, reason, ordered_signatures(attestation))
        if kind == "register" and self.holders is not None:
            return self.holders.functions.registerHolder(
                attestation.statement.as_tuple(), ordered_signatures(attestation)
            )
        if kind == "revoke" and self.holders is not None:
            return self.holders.functions.revokeHolder(
                attestation.statement.as_tuple(), ordered_signatures(attestation)
            )
        raise DariError(f"chain {self.chain.chain_id} has no contract to {kind}")

    async def _gas_price(self, floor: int = 0) -> int:
        if self.chain.confirmations == 0 and floor == 0:
            price = int(await self.client.w3.eth.gas_price)
        else:
            price = max(int(int(await self.client.w3.eth.gas_price) * GAS_HEADROOM), floor)
        cap = int(self.config.relayer.max_gas_price_gwei * 10**9) if self.config.relayer else price
        return min(price, cap)

    async def send(self, call: Any, operation_ids: list[str], kind: str) -> str:
        """Estimates, signs, records and broadcasts; `DeliveryRefused` when the contract would revert."""
        try:
            gas = int(await call.estimate_gas({"from": self.signer.address}))
        except ContractCustomError as exc:
            raise DeliveryRefused(self._decoder.decode(str(exc.data))) from None
        except ContractLogicError as exc:
            raise DeliveryRefused(ContractReverted("Error", (str(exc),))) from None
        nonce = int(await self.client.w3.eth.get_transaction_count(self.signer.address, "pending"))
        price = await self._gas_price()
        tx = await call.build_transaction(
            {"from": self.signer.address, "nonce": Nonce(nonce), "gas": int(gas * GAS_HEADROOM) + 50_000,
             "gasPrice": price, "chainId": self.chain.chain_id}
        )  # fmt: skip
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
        await self.client.w3.eth.send_raw_transaction(signed.raw_transaction)
        return tx_hash

    async def receipt(self, tx_hash: str) -> Receipt:
        """Whether ``tx_hash`` is mined (in which block) and succeeded."""
        try:
            found = await self.client.w3.eth.get_transaction_receipt(HexBytes(tx_hash))
        except TransactionNotFound:
            return Receipt(tx_hash, mined=False, success=False)
        block_hash = HexBytes(found["blockHash"]).to_0x_hex().lower()
        return Receipt(tx_hash, True, found["status"] == 1, int(found["blockNumber"]), block_hash)

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
        until final (`_recheck`)."""
        rows = await self.pending(("pending", "mined"))
        if not rows:
            return
        head = await self.head()
        confirmed_nonce = int(await self.client.w3.eth.get_transaction_count(self.signer.address, "latest"))
        for row in rows:
            result = await self.receipt(row["tx_hash"])
            if row["status"] == "mined":
                await self._recheck(result, head)
                continue
            if result.mined:
                final = result.success and await self.settled(result, head)
                await self._mark(row["tx_hash"], ("final" if final else "mined") if result.success else "failed")
                continue
            if row["nonce"] < confirmed_nonce:
                await self._mark(row["tx_hash"], "replaced")  # its nonce went to another transaction
                continue
            created = as_utc(row["created_at"])
            if created is not None and (now_utc() - created).total_seconds() > stuck_after:
                await self._replace(row)

    async def _recheck(self, result: Receipt, head: int) -> None:
        """A mined submission becomes final once deep enough; if a reorg took its transaction away, it
        is pending again while the node still holds it, else reorged (its operations are not in flight)."""
        if result.mined:
            if not result.success:
                await self._mark(result.tx_hash, "failed")  # re-included after a reorg, and reverted
            elif await self.settled(result, head):
                await self._mark(result.tx_hash, "final")
            return
        try:
            await self.client.w3.eth.get_transaction(HexBytes(result.tx_hash))
        except TransactionNotFound:
            await self._mark(result.tx_hash, "reorged")
            return
        await self._mark(result.tx_hash, "pending")

    async def _replace(self, row: dict[str, Any]) -> None:
        """Re-sends a stuck transaction with the same nonce and a higher gas price."""
        try:
            original = await self.client.w3.eth.get_transaction(HexBytes(row["tx_hash"]))
        except TransactionNotFound:
            await self._mark(row["tx_hash"], "replaced")  # dropped by the node: the operations retry
            return
        price = await self._gas_price(floor=int(int(row["gas_price"]) * PRICE_BUMP) + 1)
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

    async def _mark(self, tx_hash: str, status: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(update(submissions).where(submissions.c.tx_hash == tx_hash).values(status=status))
