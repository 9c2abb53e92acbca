"""The facts a decision rests on, read through the `ContractReads` port at the source event's block time.

The relayer's decide stage and every attestor read them with these same functions (each over its own chain
connections, each with the KYC claims it has verified itself), so both decide over the same facts with the
same pure functions (`relayer.core.decisions`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from adapters.types import Security
from relayer.core.decisions import RegistrationFacts, TransferFacts
from relayer.core.kyc import KycRecord
from relayer.core.ports import ContractReads
from relayer.core.signed import current_record

KycLookup = Callable[[bytes], KycRecord | None]  # holder id -> the record its claim states, if any


@dataclass(frozen=True)
class SourceBlock:
    """The block of a decision's source event: its time is the decision time."""

    chain_id: int
    number: int


async def current_kyc(views: ContractReads, kyc: KycLookup, holder_id: bytes, now: int) -> KycRecord | None:
    """The holder's KYC record if its claim counts at ``now`` (`relayer.core.signed.current_record`)."""
    record = kyc(holder_id)
    if record is None:
        return None
    return current_record(record, holder_id, await views.claim_anchor(holder_id), now)


async def bridge_out_facts(
    views: ContractReads, kyc: KycLookup, block: SourceBlock, *, security: tuple[bytes, Security] | None,
    dest_chain_id: int, destination_known: bool, recipient: str, amount: int,
) -> TransferFacts:  # fmt: skip
    """A bridge-out's facts (``security``: its id and terms, None if it is not listed); an unlisted security or
    an unknown destination needs none from the chains (the decision is a rejection)."""
    now, eligible, holder_id, record = 0, False, None, None
    if destination_known and security is not None:
        now, eligible, holder = await asyncio.gather(
            views.block_time(block.chain_id, block.number),
            views.eligible(dest_chain_id, recipient, security[0]),
            views.holder(dest_chain_id, recipient),
        )
        holder_id = "0x" + holder.holder_id.hex()
        record = await current_kyc(views, kyc, holder.holder_id, now)
    return TransferFacts(
        now=now, security=None if security is None else security[1], destination_known=destination_known,
        recipient=recipient, amount=amount, recipient_eligible=eligible, holder_id=holder_id, kyc=record,
    )  # fmt: skip


async def registration_facts(
    views: ContractReads, kyc: KycLookup, now: int, *, investor: str, wallet: str, chain_id: int
) -> RegistrationFacts:
    """The facts of ``investor``'s link of ``wallet`` on ``chain_id``, at decision time ``now`` (the relayer:
    the block time of the event that asks for the registration; an attestor: the statement's ``validFrom``,
    which it bounds by chain facts itself)."""
    record, linked, frozen, entry = await asyncio.gather(
        views.investor(investor), views.linked_wallet(investor, chain_id), views.frozen(investor),
        views.holder(chain_id, wallet),
    )  # fmt: skip
    return RegistrationFacts(
        now=now, investor_verified=record.verified, still_linked=linked.lower() == wallet.lower(),
        holder_id="0x" + record.investor_id.hex(), country=record.country, investor_class=record.investor_class,
        kyc_expiry=record.kyc_expiry, kyc=await current_kyc(views, kyc, record.investor_id, now), frozen=frozen,
        last_statement=entry.updated_at,
    )  # fmt: skip
