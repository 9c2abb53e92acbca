"""What the rules let an attestor sign. It decides each transfer, refund and registration again itself, with
the relayer's own fact readers and pure decisions (`relayer.core.facts`, `relayer.core.decisions`), over its
own chain reads and the signed statements the request shows (`Shown`): the holder's KYC claim and, for a
held item, a compliance officer's decision, each verified here (`relayer.core.signed`). Every input is a chain
fact or a signed statement and the decision time is the source event's block time, so independent attestors
reach the same decision whatever their clocks.

- a transfer is signed when the rules approve it with exactly its lock-up, or hold it and an officer approved
  it keeping at least the rules' lock-up (the statement carries the officer's); a rejection is never minted;
- a refund, when the rules reject the bridge-out with exactly its reason code, or an officer rejected it
  (reason ``operator-rejected``); never on request alone;
- an eligibility statement, when the rules approve the wallet link (or hold it and an officer approved) with
  exactly the statement fields they derive at its ``validFrom`` (the relayer's: the block time of the event
  that asked for it), which is never before the link nor after the chains' latest blocks.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from adapters.registry import Adapters
from adapters.sanctions import SanctionsList
from attestations.attestation import Attestation
from attestations.eip712 import Domain
from attestations.kinds import HolderEligibility, OperatorDecision, RefundAuthorization, TransferAuthorization
from attestor.errors import AttestorError, ChainUnavailable, Refused
from relayer.core.compliance import load_adapters, load_sanctions, to_security
from relayer.core.config import Config, SecurityConfig
from relayer.core.decisions import REFUND_REASONS, Outcome, decide_bridge_out, decide_registration
from relayer.core.errors import DariError, RpcUnavailable
from relayer.core.events import BridgeOut, WalletLinked
from relayer.core.facts import KycLookup, SourceBlock, bridge_out_facts, registration_facts
from relayer.core.kyc import KycRecord
from relayer.core.ports import ChainReads
from relayer.core.signed import (
    NotCounted,
    SourceEvent,
    claim_record,
    claims_domain,
    decisions_domain,
    trust_of,
    verified_claim,
    verified_decision,
)
from relayer.core.transfer_state import Event
from relayer.edges.evm.views import ContractViews

T = TypeVar("T")
VERIFIED_CLAIMS = 10_000  # verified KYC claims kept (by digest and signatures): holders bridge again and again


@dataclass(frozen=True)
class Shown:
    """The signed statements a sign request shows (its ``context``): the KYC claim a decision rests on, and an
    officer's decision on a held item."""

    claim: Attestation | None = None
    decision: Attestation | None = None


NOTHING_SHOWN = Shown()


async def _reading(read: Awaitable[T]) -> T:
    """``read``'s answer, a failed chain read turned into the attestor's own answer."""
    try:
        return await read
    except AttestorError:
        raise
    except RpcUnavailable as exc:
        raise ChainUnavailable(str(exc)) from None
    except DariError as exc:
        raise Refused("view-failed", str(exc)) from None


class Rules:
    """One attestor's rules: its adapters and sanctions list, the listed securities, the claim issuers and
    compliance officers it trusts."""

    def __init__(self, config: Config, adapters: Adapters, sanctions: SanctionsList | None) -> None:
        self.config, self.adapters, self.sanctions = config, adapters, sanctions
        self.securities: Mapping[bytes, SecurityConfig] = {bytes.fromhex(s.id[2:]): s for s in config.securities}
        self._listed = [to_security(s) for s in config.securities]
        self._public = frozenset(c.chain_id for c in config.public)
        self._issuers = trust_of(config.claim_issuers) if config.claim_issuers else None
        self._officers = trust_of(config.officers) if config.officers else None
        self._claims: Domain = claims_domain(config)
        self._decisions: Domain = decisions_domain(config)
        self._verified: OrderedDict[bytes, KycRecord] = OrderedDict()

    @classmethod
    def from_config(cls, config: Config) -> Rules:
        return cls(config, load_adapters(config), load_sanctions(config))

    # --- the kinds -------------------------------------------------------------------------------------

    async def transfer(self, reads: ChainReads, s: TransferAuthorization, event: BridgeOut, shown: Shown) -> None:
        """`Refused` unless the rules (or an officer, for a held bridge-out) allow minting ``s``."""
        outcome = await self._bridge_out(reads, event, s.security_id, shown)
        if outcome.event == Event.REJECTED:
            raise Refused("rules-deny", f"the rules reject bridge-out {event.nonce} ({outcome.reason})")
        locked_until = outcome.locked_until or 0
        if outcome.event == Event.ESCALATED:
            decision = self._decision(shown, event.ref, f"bridge-out {event.nonce} is held ({outcome.reason})")
            if not decision.approve:
                raise Refused("operator-rejected", f"officer {decision.officer} rejected bridge-out {event.nonce}")
            if decision.locked_until < locked_until:
                raise Refused(
                    "lockup-below-rules",
                    f"officer {decision.officer} kept lockedUntil {decision.locked_until}, rules {locked_until}",
                )
            locked_until = decision.locked_until
        if s.locked_until != locked_until:
            raise Refused("locked-until-mismatch", f"lockedUntil: statement {s.locked_until}, rules {locked_until}")

    async def refund(
        self, reads: ChainReads, s: RefundAuthorization, event: BridgeOut, security_id: bytes, shown: Shown
    ) -> None:
        """`Refused` unless an officer rejected the bridge-out (reason ``operator-rejected``) or the rules reject
        it with ``s``'s reason (an officer's earlier approval shown does not stand in their way)."""
        if shown.decision is not None and not self._decision(shown, event.ref, "").approve:
            _reason(s, REFUND_REASONS["operator-rejected"])
            return
        outcome = await self._bridge_out(reads, event, security_id, shown)
        if outcome.event != Event.REJECTED:
            held = "hold" if outcome.event == Event.ESCALATED else "approve"
            raise Refused(
                "refund-not-decided",
                f"the rules {held} bridge-out {event.nonce}: a refund needs their rejection or an officer's",
            )
        _reason(s, outcome.reason_code)

    async def registration(self, reads: ChainReads, s: HolderEligibility, link: WalletLinked, shown: Shown) -> None:
        """`Refused` unless the rules (or an officer, for a held link) register the wallet with ``s``'s fields,
        decided at ``s``'s ``validFrom``: never before the link, never after the latest block of the registry
        and of the chain it applies on."""
        registry = self.config.registry.chain_id
        linked_at, *latest = await asyncio.gather(
            _reading(_block_time(reads, registry, link.ref.block_number)),
            _reading(_latest_time(reads, registry)), _reading(_latest_time(reads, s.chain_id)),
        )  # fmt: skip
        if s.valid_from < linked_at:
            raise Refused("before-link", f"validFrom {s.valid_from} is before the wallet link ({linked_at})")
        if s.valid_from > max(latest):
            raise Refused("from-future", f"validFrom {s.valid_from} is after the chains' latest blocks ({max(latest)})")
        facts = await _reading(
            registration_facts(
                ContractViews(reads, self.config), self._kyc(shown), s.valid_from, investor=link.investor,
                wallet=s.wallet, chain_id=s.chain_id,
            )
        )  # fmt: skip
        outcome = decide_registration(facts, self.adapters, self.sanctions, self._listed)
        if outcome.event == Event.REJECTED:
            raise Refused("rules-deny", f"the rules reject the link of {s.wallet} ({outcome.reason})")
        if outcome.event == Event.ESCALATED:
            decision = self._decision(shown, link.ref, f"the link of {s.wallet} is held ({outcome.reason})")
            if not decision.approve:
                raise Refused("operator-rejected", f"officer {decision.officer} rejected the link of {s.wallet}")
        differing = _differences(s, outcome.decision or {})
        if differing:
            raise Refused("statement-mismatch", "; ".join(differing))

    # --- facts and signed statements -------------------------------------------------------------------

    async def _bridge_out(self, reads: ChainReads, event: BridgeOut, security_id: bytes, shown: Shown) -> Outcome:
        entry = self.securities.get(security_id)
        facts = await _reading(
            bridge_out_facts(
                ContractViews(reads, self.config), self._kyc(shown), SourceBlock(event.ref.chain_id,
                event.ref.block_number), security=None if entry is None else (security_id, to_security(entry)),
                dest_chain_id=event.dest_chain_id, destination_known=event.dest_chain_id in self._public,
                recipient=event.recipient.lower(), amount=event.amount,
            )
        )  # fmt: skip
        return decide_bridge_out(facts, self.adapters, self.sanctions)

    def _kyc(self, shown: Shown) -> KycLookup:
        """The KYC record the shown claim states, for whichever holder it is about (`relayer.core.facts` counts
        it only for its own holder, anchored, unexpired); `Refused` if no configured issuer signed it."""
        record = None if shown.claim is None else self._verified_record(shown.claim)
        return lambda holder_id: record

    def _verified_record(self, claim: Attestation) -> KycRecord:
        key = claim.digest + b"".join(s.ed25519 + s.secp256k1 for s in claim.signatures)
        record = self._verified.get(key)
        if record is not None:
            self._verified.move_to_end(key)
            return record
        if self._issuers is None:
            raise Refused("kyc-claim-invalid", "this attestor trusts no claim issuers")
        try:
            record = claim_record(verified_claim(claim, self._issuers, self._claims))
        except NotCounted as exc:
            raise Refused(exc.code, str(exc)) from None
        self._verified[key] = record
        if len(self._verified) > VERIFIED_CLAIMS:
            self._verified.popitem(last=False)
        return record

    def _decision(self, shown: Shown, source: SourceEvent, held: str) -> OperatorDecision:
        """The officer's decision shown about the item ``source`` started; `Refused` if none counts."""
        if shown.decision is None:
            raise Refused("operator-decision-required", f"{held}: signed only with a compliance officer's decision")
        if self._officers is None:
            raise Refused("operator-decision-invalid", "this attestor trusts no compliance officers")
        try:
            return verified_decision(shown.decision, self._officers, self._decisions, source)
        except NotCounted as exc:
            raise Refused(exc.code, str(exc)) from None


async def _block_time(reads: ChainReads, chain_id: int, number: int) -> int:
    found = await reads.block_time(chain_id, number)
    if found is None:
        raise ChainUnavailable(f"chain {chain_id} has no block {number} (yet)")
    return found


async def _latest_time(reads: ChainReads, chain_id: int) -> int:
    return await _block_time(reads, chain_id, await reads.head(chain_id))


def _reason(s: RefundAuthorization, expected: int | None) -> None:
    if s.reason != expected:
        raise Refused("reason-mismatch", f"reason: statement says {s.reason}, the decision {expected}")


def _differences(s: HolderEligibility, derived: Mapping[str, Any]) -> list[str]:
    """How ``s`` differs from the statement fields the rules derived."""
    ours: dict[str, Any] = {
        "holderId": derived.get("holderId"), "country": derived.get("country"),
        "investorClass": derived.get("investorClass"), "validFrom": derived.get("validFrom"),
        "validUntil": derived.get("validUntil"), "rulePackHash": derived.get("rulePackHash"), "scope": "0x" + "00" * 32,
    }  # fmt: skip
    stated: dict[str, Any] = {
        "holderId": "0x" + s.holder_id.hex(), "country": s.country, "investorClass": s.investor_class,
        "validFrom": s.valid_from, "validUntil": s.valid_until, "rulePackHash": "0x" + s.rule_pack_hash.hex(),
        "scope": "0x" + s.scope.hex(),
    }  # fmt: skip
    return [
        f"{k}: statement says {stated[k]}, rules derive {v}"
        for k, v in ours.items()
        if str(stated[k]).lower() != str(v).lower()
    ]
