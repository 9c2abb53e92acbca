"""Delivers attested operations on their destination chain, exactly once (`relayer.core.ports.Submitter`).

Exactly once rests on three things: the contracts refuse a second mint, release or refund of the same
source event; before sending, the deliver stage asks the chain which operations are already done (a
crash may have left a transaction mined but unrecorded); and every transaction is recorded in
``submissions`` before it is broadcast, so after a restart a pending one is awaited, not duplicated.

A delivery counts only once final: its block canonical and ``confirmations`` deep. A submission's status
follows `relayer.core.transfer_state.SUBMISSION_TRANSITIONS`, decided by `relayer.core.disposition.settle`:
``pending`` → ``mined`` → ``final`` (at once with zero confirmations), or ``failed`` (reverted) or
``replaced`` (its nonce went to another transaction, or the node dropped it). A reorg may take a ``mined``
transaction away: the submission is ``pending`` again while the node still holds the transaction, else
``reorged``, and its operations are delivered again (replay protection on chain keeps that exactly once).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3.exceptions import TransactionNotFound

from attestations.attestation import Attestation
from attestations.keys import recover_address
from relayer.core.config import ChainConfig, RelayerConfig
from relayer.core.constants import EscrowStatus
from relayer.core.disposition import Receipt, settle
from relayer.core.errors import DariError, DeliveryRefused, RpcUnavailable
from relayer.core.finality import is_final
from relayer.core.model import Operation
from relayer.core.ports import Block, Delivery
from relayer.core.records import EscrowRequest, HolderEntry
from relayer.core.transfer_state import Purpose, SubmissionStatus, purpose
from relayer.edges.db.store import now_utc
from relayer.edges.db.submissions import Submission, SubmissionStore
from relayer.edges.evm.abi import abi_of
from relayer.edges.evm.artifacts import Artifacts
from relayer.edges.evm.client import ChainClient, RevertDecoder, RpcError, View, quantity

GAS_HEADROOM = 1.25
PRICE_BUMP = 1.15  # replacement transactions pay at least 10% more (node rule); 15% to be safe
GAS_PROBE = "eth_createAccessList"  # executes a call once and reports its gasUsed
RECEIPT = "eth_getTransactionReceipt"
UNSUPPORTED = (-32601, -32602)  # JSON-RPC "method not found", "invalid params"


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


def ordered_signatures(attestation: Attestation) -> list[bytes]:
    """secp256k1 signatures in strictly increasing signer order, as the contracts require."""
    digest = attestation.digest
    signed = [(int(recover_address(digest, s.secp256k1), 16), s.secp256k1) for s in attestation.signatures]
    return [sig for _, sig in sorted(signed)]


class ChainSubmitter:
    """One destination chain, one sending key (the lease guarantees a single active sender)."""

    def __init__(
        self, settings: RelayerConfig, chain: ChainConfig, client: ChainClient, artifacts: Artifacts,
        signer: LocalAccount, submissions: SubmissionStore,
    ) -> None:  # fmt: skip
        self.settings, self.chain, self.client, self.signer = settings, chain, client, signer
        self.submissions = submissions
        self._decoder = RevertDecoder.from_artifacts(artifacts)
        c = chain.contracts
        self.escrow, self.gateway, self.holders = c.get("escrow"), c.get("gateway"), c.get("holderRegistry")
        self._escrow = abi_of(artifacts, "BridgeEscrow")
        self._gateway = abi_of(artifacts, "BridgeGateway")
        self._holders = abi_of(artifacts, "HolderRegistry")

    @property
    def chain_id(self) -> int:
        return self.chain.chain_id

    @property
    def confirmations(self) -> int:
        return self.chain.confirmations

    # --- what is already done on chain -------------------------------------------------------

    def _done_view(self, op: Operation) -> View:
        """The read that tells whether ``op`` was delivered (see `_is_done`)."""
        kind = purpose(op.kind, op.state)
        if kind == Purpose.MINT and self.gateway is not None:
            return View(self.gateway, self._gateway["isProcessed"], (op.source.chain_id, op.source_nonce))
        if kind == Purpose.RELEASE and self.escrow is not None:
            return View(self.escrow, self._escrow["isReleased"], (op.source.chain_id, op.source_nonce))
        if kind == Purpose.REFUND and self.escrow is not None:
            return View(self.escrow, self._escrow["request"], (op.source_nonce,))
        if kind in (Purpose.REGISTER, Purpose.REVOKE) and self.holders is not None:
            return View(self.holders, self._holders["holder"], (op.recipient,))
        raise DariError(f"chain {self.chain.chain_id} has no contract to {kind}")

    @staticmethod
    def _is_done(op: Operation, attestation: Attestation, answer: Any) -> bool:
        kind = purpose(op.kind, op.state)
        if kind == Purpose.REFUND:
            return EscrowRequest.from_answer(answer).status == EscrowStatus.REFUNDED
        if kind in (Purpose.REGISTER, Purpose.REVOKE):  # the holder's last applied statement
            return HolderEntry.from_answer(answer).attestation == attestation.digest
        return bool(answer)

    async def delivered_many(self, deliveries: Sequence[Delivery], block: Block = "latest") -> list[bool]:
        """Whether the chain's state at ``block`` shows each of ``deliveries`` delivered (by us before a crash,
        or by anyone), read in one JSON-RPC batch."""
        if not deliveries:
            return []
        answers = await self.client.views([self._done_view(op) for op, _ in deliveries], block)
        return [self._is_done(op, a, answer) for (op, a), answer in zip(deliveries, answers, strict=True)]

    async def head(self) -> int:
        [number] = await self.client.batch_results([("eth_blockNumber", [])])
        return quantity("eth_blockNumber", number)

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

    def _call_for(self, deliveries: Sequence[Delivery], kind: Purpose) -> tuple[str, bytes]:
        """The contract and calldata delivering ``deliveries`` (several only for mints: ``mintBatch``)."""
        op, attestation = deliveries[0]
        if kind == Purpose.MINT and self.gateway is not None:
            if len(deliveries) == 1:
                return self.gateway, self._gateway["mint"].encode(
                    attestation.statement.as_tuple(), ordered_signatures(attestation)
                )
            return self.gateway, self._gateway["mintBatch"].encode(
                [a.statement.as_tuple() for _, a in deliveries], [ordered_signatures(a) for _, a in deliveries]
            )
        if kind == Purpose.RELEASE and self.escrow is not None:
            return self.escrow, self._escrow["release"].encode(
                attestation.statement.as_tuple(), ordered_signatures(attestation)
            )
        if kind == Purpose.REFUND and self.escrow is not None:
            reason = attestation.statement.as_tuple()[4]
            return self.escrow, self._escrow["refund"].encode(op.source_nonce, reason, ordered_signatures(attestation))
        if kind in (Purpose.REGISTER, Purpose.REVOKE) and self.holders is not None:
            function = self._holders["registerHolder" if kind == Purpose.REGISTER else "revokeHolder"]
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
            raise DeliveryRefused(reverted.error, str(reverted))

    def _price(self, quoted: int, floor: int = 0) -> int:
        """The gas price to pay for a node's ``quoted`` price: with headroom on a public chain, at least
        ``floor`` (a replacement), at most the configured cap."""
        price = quoted if self.chain.confirmations == 0 and floor == 0 else max(int(quoted * GAS_HEADROOM), floor)
        return min(price, int(self.settings.max_gas_price_gwei * 10**9))

    async def send(self, deliveries: Sequence[Delivery], kind: Purpose) -> str:
        """Measures, signs, records and broadcasts the transaction delivering ``deliveries``;
        `DeliveryRefused` when the contract would revert. The gas probe, the pending nonce and the gas
        price are read in one batch."""
        to, data = self._call_for(deliveries, kind)
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
        await self.submissions.record(tx_hash, self.signer.address, nonce, [op.id for op, _ in deliveries], kind, price)
        await self.client.batch_results([("eth_sendRawTransaction", ["0x" + signed.raw_transaction.hex()])])
        return tx_hash

    async def receipts(self, hashes: Iterable[str]) -> dict[str, Receipt]:
        """Whether each of ``hashes`` is mined (in which block) and succeeded, read in one batch."""
        ordered = sorted(set(hashes))
        answers = await self.client.batch_results([("eth_getTransactionReceipt", [h]) for h in ordered])
        return {h: _receipt(h, answer) for h, answer in zip(ordered, answers, strict=True)}

    async def in_flight(self) -> set[str]:
        return await self.submissions.in_flight()

    async def settle_pending(self, stuck_after: float) -> None:
        """Resolves the recorded submissions still watched (pending or mined), each as
        `relayer.core.disposition.settle` says; stuck ones are re-priced (same nonce)."""
        rows = await self.submissions.watched()
        if not rows:
            return
        head_answer, nonce_answer = await self.client.batch_results(
            [("eth_blockNumber", []), ("eth_getTransactionCount", [self.signer.address, "latest"])]
        )
        head = quantity("eth_blockNumber", head_answer)
        confirmed_nonce = quantity("eth_getTransactionCount", nonce_answer)
        receipts = await self.receipts(row.tx_hash for row in rows)
        final = await self.settled(receipts.values(), head)
        marks: dict[str, tuple[SubmissionStatus, SubmissionStatus]] = {}
        for row in rows:
            step = settle(
                row.status, receipts[row.tx_hash], final.get(row.tx_hash), nonce_consumed=row.nonce < confirmed_nonce,
                stuck=(now_utc() - row.created_at).total_seconds() > stuck_after,
            )  # fmt: skip
            if step == "ask-node":
                held = await self._known(row.tx_hash)
                marks[row.tx_hash] = (row.status, SubmissionStatus.PENDING if held else SubmissionStatus.REORGED)
            elif step == "replace":
                await self._replace(row)
            elif step is not None:
                marks[row.tx_hash] = (row.status, step)
        await self.submissions.mark_many(marks)

    async def _known(self, tx_hash: str) -> bool:
        """Whether the node still holds ``tx_hash`` (mined or in its pool)."""
        try:
            await self.client.w3.eth.get_transaction(HexBytes(tx_hash))
        except TransactionNotFound:
            return False
        return True

    async def _replace(self, row: Submission) -> None:
        """Re-sends a stuck transaction with the same nonce and a higher gas price."""
        try:
            original = await self.client.w3.eth.get_transaction(HexBytes(row.tx_hash))
        except TransactionNotFound:  # dropped by the node: the operations retry
            await self.submissions.mark_many({row.tx_hash: (row.status, SubmissionStatus.REPLACED)})
            return
        quoted = int(await self.client.w3.eth.gas_price)
        price = self._price(quoted, floor=int(row.gas_price * PRICE_BUMP) + 1)
        tx: dict[str, Any] = {
            "to": original["to"], "data": original["input"], "gas": original["gas"], "value": original["value"],
            "nonce": original["nonce"], "gasPrice": price, "chainId": self.chain.chain_id,
        }  # fmt: skip
        signed = self.signer.sign_transaction(tx)
        await self.submissions.record(
            signed.hash.to_0x_hex(), row.sender, row.nonce, row.operation_ids, row.purpose, price, replacing=row.tx_hash
        )
        await self.client.w3.eth.send_raw_transaction(signed.raw_transaction)
