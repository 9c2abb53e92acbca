"""What an attestor checks before it signs, per statement kind, against chain reads behind the small
`ChainReads` protocol (the service implements it over its own RPC connections, `attestor.reads`; tests
may fake it).

A check returns the `Claim` the journal records, or raises `Refused` (the statement contradicts the chain:
permanent), `NotFinal` (the event is not found or not final yet: ask again) or `ChainUnavailable`
(transient read failure). The comparisons are pure; the clock is passed in (``now``).

- TransferAuthorization (domain: a public chain's gateway): a final BridgeOutRequested(nonce) with this
  sender, recipient, amount and destination, not refunded; securityId of its token; the recipient eligible
  on that chain; and the rules' decision (`attestor.decisions`) mints it with this lock-up.
- RefundAuthorization (domain: the registry escrow): a final BridgeOutRequested(nonce) with this token, sender
  and amount, not minted on its destination; and the rules (or an officer) reject it with this reason.
- ReleaseAuthorization (domain: the registry escrow): a final BridgeBackRequested(nonce) on the source
  chain's gateway with this holder and amount; securityId of its token; the recipient is the burner's own
  registry address (the investor of the latest wallet link naming the holder), whatever the burn names.
- HolderEligibility (domain: the public chain's holder registry): a final WalletLinkRequested for the wallet,
  still linked; the investor verified, with this id, country and class; the window within its KYC; and the
  rules (or an officer) register the wallet with exactly these fields, decided at validFrom (never before the
  link, never after the chains' latest blocks: no signer's clock).
- HolderRevocation (domain: the public chain's holder registry): the wallet's investor (latest link) has
  unlinked it or is no longer verified.
- ReconciliationReport (domain: the registry escrow): recomputed by `relayer.edges.evm.supply` at the request's
  context blocks, each of which must be final for this attestor; every field (detailsHash included) must
  equal the attestor's own computation, else ``report-mismatch``.

The transfer-vs-refund exclusion is the journal's (``Claim.excludes``), checked when the signature is
recorded. A checker without rules refuses the decided kinds (``no-rules``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from attestations.eip712 import DOMAIN_NAME, DOMAIN_VERSION, Domain
from attestations.kinds import (
    HolderEligibility,
    HolderRevocation,
    RecognitionRecord,
    ReconciliationReport,
    RefundAuthorization,
    ReleaseAuthorization,
    Statement,
    TransferAuthorization,
)
from attestor.decisions import NOTHING_SHOWN, Rules, Shown
from attestor.errors import ChainUnavailable, NotFinal, Refused
from attestor.topology import PublicChain, Topology
from relayer.core.constants import BRIDGE_BACK, BRIDGE_OUT, MAX_CLOCK_SKEW, REFUNDED, WALLET_LINKED, EscrowStatus
from relayer.core.events import BridgeBack, BridgeOut, ChainEvent, Refunded, WalletLinked
from relayer.core.ports import ChainReads
from relayer.core.reconcile import BadBlocks, BlocksNotFinal
from relayer.core.records import EscrowRequest
from relayer.edges.evm.logs import E, EventDecodeError, address_topic, events_of, uint_topic
from relayer.edges.evm.supply import recompute

SIGNABLE_KINDS: tuple[type[Statement], ...] = (
    TransferAuthorization,
    RefundAuthorization,
    ReleaseAuthorization,
    HolderEligibility,
    HolderRevocation,
    ReconciliationReport,
    RecognitionRecord,
)


@dataclass(frozen=True)
class Claim:
    """What a checked statement is about, for the journal: the source chain and nonce of its event (holder
    statements: the public chain, no nonce), and the kind it excludes for that same event."""

    source_chain_id: int
    nonce: int | None
    excludes: str | None = None


def _same_address(a: str, b: str) -> bool:
    return a.lower() == b.lower()


def _expect(code: str, field: str, stated: object, actual: object) -> None:
    equal = _same_address(stated, actual) if isinstance(stated, str) and isinstance(actual, str) else stated == actual
    if not equal:
        shown = [("0x" + v.hex()) if isinstance(v, bytes) else v for v in (stated, actual)]
        raise Refused(code, f"{field}: statement says {shown[0]}, chain says {shown[1]}")


def _expect_domain(domain: Domain, chain_id: int, contract: str, what: str) -> None:
    if domain.chain_id != chain_id or not _same_address(domain.verifying_contract, contract):
        raise Refused(
            "wrong-domain",
            f"domain is ({domain.chain_id}, {domain.verifying_contract}), expected {what} ({chain_id}, {contract})",
        )


def _bridge_outs_and_refunds(
    chain_id: int, escrow: str, logs: Sequence[Mapping[str, Any]]
) -> tuple[list[BridgeOut], set[int]]:
    """The not-removed BridgeOutRequested events of ``escrow``, oldest first, and the nonces it refunded;
    `EventDecodeError` on a malformed log."""
    return events_of(chain_id, logs, BridgeOut, escrow), {e.nonce for e in events_of(chain_id, logs, Refunded, escrow)}


def _differences(stated: Mapping[str, Any], computed: Mapping[str, Any]) -> list[str]:
    return [f"{k}: statement says {stated[k]}, attestor computed {v}" for k, v in computed.items() if stated[k] != v]


Recognizer = Callable[[RecognitionRecord], RecognitionRecord | None]
RECOGNITION_MAX_AGE = 3600  # seconds: records are signed when published, not backdated


class Checker:
    """Runs the per-kind checks for one attestor."""

    def __init__(
        self, topology: Topology, view: ChainReads, recognizer: Recognizer | None = None, rules: Rules | None = None
    ) -> None:
        """``recognizer``: the attestor's own computation of a recognition record (from its rule packs)
        for the statement's security, jurisdiction and time, None when the attestor signs no records; ``rules``:
        what transfers, refunds and registrations are decided by, None when it signs none."""
        self.topology = topology
        self.view = view
        self.recognizer = recognizer
        self.rules = rules
        self._security_ids: dict[tuple[int, str], bytes] = {}  # immutable in the contracts
        self._bridge_outs: dict[int, tuple[list[BridgeOut], int]] = {}  # nonce -> (events, head), see `prefetch`
        self._refunded: dict[int, bool] = {}  # nonce -> refunded on the registry, see `prefetch`

    def for_batch(self, view: ChainReads) -> Checker:
        """A checker over ``view`` (one batch's), sharing this one's knowledge of immutable facts."""
        checker = Checker(self.topology, view, self.recognizer, self.rules)
        checker._security_ids = self._security_ids
        return checker

    async def prefetch(self, statements: Sequence[Statement]) -> None:
        """Reads the bridge-outs that the transfers and refunds among ``statements`` are about, and their
        refunds, with one ``eth_getLogs`` (their checks then read none each). Use on a Checker made for
        one batch; a failed or undecodable read leaves each check to read its own."""
        nonces = {s.source_nonce for s in statements if isinstance(s, TransferAuthorization)}
        nonces |= {s.nonce for s in statements if isinstance(s, RefundAuthorization)}
        if len(nonces) < 2:
            return
        topo = self.topology
        topics = [[BRIDGE_OUT, REFUNDED], [uint_topic(n) for n in sorted(nonces)]]
        try:
            head = await self.view.head(topo.registry_chain_id)
            logs = await self.view.logs(topo.registry_chain_id, topo.escrow, topics, head)
            found = _bridge_outs_and_refunds(topo.registry_chain_id, topo.escrow, logs)
        except (ChainUnavailable, EventDecodeError, ValueError):
            return
        events, refunded = found
        self._bridge_outs = {n: ([e for e in events if e.nonce == n], head) for n in nonces}
        self._refunded = {n: n in refunded for n in nonces}

    async def check(
        self, statement: Statement, domain: Domain, now: int, blocks: Mapping[int, int] | None = None,
        shown: Shown = NOTHING_SHOWN,
    ) -> Claim:  # fmt: skip
        """The claim to record if ``statement`` under ``domain`` may be signed at time ``now`` (``blocks``: a
        report's context; ``shown``: the signed statements a decided kind's request shows)."""
        if (domain.name, domain.version) != (DOMAIN_NAME, DOMAIN_VERSION):
            raise Refused("wrong-domain", f"domain {domain.name!r} version {domain.version!r} is not Dari/1")
        if isinstance(statement, TransferAuthorization):
            return await self._transfer(statement, domain, shown)
        if isinstance(statement, RefundAuthorization):
            return await self._refund(statement, domain, shown)
        if isinstance(statement, ReleaseAuthorization):
            return await self._release(statement, domain)
        if isinstance(statement, HolderEligibility):
            return await self._eligibility(statement, domain, shown)
        if isinstance(statement, HolderRevocation):
            return await self._revocation(statement, domain, now)
        if isinstance(statement, ReconciliationReport):
            return await self._reconciliation(statement, domain, now, blocks)
        if isinstance(statement, RecognitionRecord):
            return self._recognition(statement, domain, now)
        raise Refused("unsupported-kind", f"attestors do not sign {statement.KIND}")

    # --- the kinds -------------------------------------------------------------------------------------

    def _rules(self) -> Rules:
        if self.rules is None:
            raise Refused("no-rules", "this attestor has no rules to decide transfers, refunds and registrations by")
        return self.rules

    async def _transfer(self, s: TransferAuthorization, domain: Domain, shown: Shown) -> Claim:
        topo = self.topology
        public = topo.public.get(domain.chain_id)
        if public is None:
            raise Refused("wrong-domain", f"chain {domain.chain_id} is not a configured public chain")
        _expect_domain(domain, public.chain_id, public.gateway, "the gateway")
        _expect("wrong-source-chain", "sourceChainId", s.source_chain_id, topo.registry_chain_id)
        event = await self._bridge_out(s.source_nonce)
        _expect("sender-mismatch", "sender", s.sender, event.sender)
        _expect("recipient-mismatch", "recipient", s.recipient, event.recipient)
        _expect("amount-mismatch", "amount", s.amount, event.amount)
        _expect("destination-mismatch", "destChainId", domain.chain_id, event.dest_chain_id)
        security_id, refunded, eligible = await asyncio.gather(
            self._security_id(topo.registry_chain_id, "SecurityToken", event.token),
            self._is_refunded(s.source_nonce),
            self.view.call(
                public.chain_id, "HolderRegistry", public.holder_registry, "isEligible", s.recipient, s.security_id
            ),
        )  # independent reads, in one round trip per chain
        _expect("security-mismatch", "securityId", s.security_id, security_id)
        if refunded:  # defence in depth: the journal already excludes our own refund
            raise Refused("already-refunded", f"bridge-out {s.source_nonce} was refunded on the registry")
        if not eligible:
            raise Refused("recipient-not-eligible", f"{s.recipient} is not eligible on chain {public.chain_id}")
        await self._rules().transfer(self.view, s, event, shown)
        return Claim(topo.registry_chain_id, s.source_nonce, excludes=RefundAuthorization.KIND)

    async def _refund(self, s: RefundAuthorization, domain: Domain, shown: Shown) -> Claim:
        topo = self.topology
        _expect_domain(domain, topo.registry_chain_id, topo.escrow, "the escrow")
        event = await self._bridge_out(s.nonce)
        _expect("token-mismatch", "token", s.token, event.token)
        _expect("sender-mismatch", "sender", s.sender, event.sender)
        _expect("amount-mismatch", "amount", s.amount, event.amount)
        destination = topo.public.get(event.dest_chain_id)
        if destination is None:
            raise Refused("unknown-destination", f"destination chain {event.dest_chain_id} is not configured")
        minted = await self.view.call(
            destination.chain_id, "BridgeGateway", destination.gateway, "isProcessed", topo.registry_chain_id, s.nonce
        )
        if minted:
            raise Refused("already-minted", f"nonce {s.nonce} was minted on chain {destination.chain_id}")
        security_id = await self._security_id(topo.registry_chain_id, "SecurityToken", event.token)
        await self._rules().refund(self.view, s, event, security_id, shown)
        return Claim(topo.registry_chain_id, s.nonce, excludes=TransferAuthorization.KIND)

    async def _release(self, s: ReleaseAuthorization, domain: Domain) -> Claim:
        topo = self.topology
        _expect_domain(domain, topo.registry_chain_id, topo.escrow, "the escrow")
        public = topo.public.get(s.source_chain_id)
        if public is None:
            raise Refused("wrong-source-chain", f"chain {s.source_chain_id} is not a configured public chain")
        event = await self._final_event(
            public.chain_id, public.confirmations, public.gateway, [BRIDGE_BACK, uint_topic(s.source_nonce)],
            BridgeBack, f"bridge-back {s.source_nonce} on chain {public.chain_id}",
        )  # fmt: skip
        _expect("holder-mismatch", "holder", s.holder, event.holder)
        _expect("amount-mismatch", "amount", s.amount, event.amount)
        security_id, link = await asyncio.gather(
            self._security_id(public.chain_id, "WrappedSecurity", event.token),
            self._latest_link(public.chain_id, s.holder),
        )
        _expect("security-mismatch", "securityId", s.security_id, security_id)
        if link is None:
            raise Refused("burner-not-linked", f"no investor linked {s.holder} on chain {public.chain_id}")
        _expect("recipient-not-burner", "recipient", s.recipient, link.investor)  # whomever the burn names
        return Claim(public.chain_id, s.source_nonce)

    async def _eligibility(self, s: HolderEligibility, domain: Domain, shown: Shown) -> Claim:
        topo = self.topology
        public = self._holder_domain(domain, s.chain_id)
        link = await self._latest_link(public.chain_id, s.wallet)
        if link is None:
            raise Refused("wallet-not-linked", f"no investor linked {s.wallet} on chain {public.chain_id}")
        await self._require_final(topo.registry_chain_id, topo.registry_confirmations, link, "the wallet link")
        investor = link.investor
        linked, verified, holder_id, country, investor_class, kyc_expiry = await asyncio.gather(
            self.view.call(topo.registry_chain_id, "WalletLinks", topo.wallet_links, "linkedWallet", investor,
                           public.chain_id),
            self._investor("isVerified", investor),
            self._investor("investorIdOf", investor),
            self._investor("investorCountry", investor),
            self._investor("investorClass", investor),
            self._investor("kycExpiry", investor),
        )  # fmt: skip
        _expect("wallet-unlinked", "linked wallet", s.wallet, linked)
        if not verified:
            raise Refused("investor-unverified", f"investor {investor} is not verified on the registry")
        if await self._frozen(investor):
            raise Refused("investor-frozen", f"investor {investor} is frozen on a bridged security")
        _expect("holder-id-mismatch", "holderId", s.holder_id, holder_id)
        _expect("country-mismatch", "country", s.country, country)
        _expect("class-mismatch", "investorClass", s.investor_class, investor_class)
        if s.valid_until > kyc_expiry:
            raise Refused("beyond-kyc-expiry", f"validUntil {s.valid_until} is after the KYC expiry {kyc_expiry}")
        if s.valid_from >= s.valid_until:
            raise Refused("empty-window", f"validFrom {s.valid_from} is not before validUntil {s.valid_until}")
        await self._rules().registration(self.view, s, link, shown)  # validFrom: bounded by chain time there
        return Claim(public.chain_id, None)

    async def _frozen(self, investor: str) -> bool:
        """Whether an agent froze ``investor`` on any bridged security's registry token."""
        topo = self.topology
        frozen = await asyncio.gather(
            *(
                self.view.call(topo.registry_chain_id, "SecurityToken", t, "isFrozen", investor)
                for t in topo.registry_tokens
            )
        )
        return any(bool(f) for f in frozen)

    async def _revocation(self, s: HolderRevocation, domain: Domain, now: int) -> Claim:
        topo = self.topology
        public = self._holder_domain(domain, s.chain_id)
        link = await self._latest_link(public.chain_id, s.wallet)
        if link is None:
            raise Refused("wallet-not-linked", f"no investor ever linked {s.wallet} on chain {public.chain_id}")
        linked, verified = await asyncio.gather(
            self.view.call(
                topo.registry_chain_id, "WalletLinks", topo.wallet_links, "linkedWallet", link.investor, public.chain_id
            ),
            self._investor("isVerified", link.investor),
        )
        if _same_address(linked, s.wallet) and verified and not await self._frozen(link.investor):
            raise Refused("still-eligible", f"{s.wallet} is still linked by verified investor {link.investor}")
        if s.issued_at > now + MAX_CLOCK_SKEW:
            raise Refused("from-future", f"issuedAt {s.issued_at} is ahead of the attestor's clock ({now})")
        return Claim(public.chain_id, None)

    def _recognition(self, s: RecognitionRecord, domain: Domain, now: int) -> Claim:
        topo = self.topology
        _expect_domain(domain, topo.registry_chain_id, topo.escrow, "the escrow")
        if self.recognizer is None:
            raise Refused("unsupported-kind", "this attestor has no rule packs to recompute recognition records")
        if s.valid_from > now + MAX_CLOCK_SKEW:
            raise Refused("from-future", f"validFrom {s.valid_from} is ahead of the attestor's clock ({now})")
        if s.valid_from < now - RECOGNITION_MAX_AGE:
            raise Refused("stale-record", f"validFrom {s.valid_from} is older than {RECOGNITION_MAX_AGE} s")
        ours = self.recognizer(s)
        if ours is None:
            raise Refused(
                "unknown-security", f"no configured security {s.security_id.hex()} or jurisdiction {s.jurisdiction}"
            )
        differing = _differences(s.to_message(), ours.to_message())
        if differing:
            raise Refused("record-mismatch", "; ".join(differing))
        return Claim(topo.registry_chain_id, None)

    async def _reconciliation(
        self, s: ReconciliationReport, domain: Domain, now: int, blocks: Mapping[int, int] | None
    ) -> Claim:
        topo = self.topology
        _expect_domain(domain, topo.registry_chain_id, topo.escrow, "the escrow")
        if blocks is None:
            raise Refused("missing-context", "a ReconciliationReport is checked at the blocks of its context")
        if s.observed_at > now + MAX_CLOCK_SKEW:
            raise Refused("from-future", f"observedAt {s.observed_at} is ahead of the attestor's clock ({now})")
        _expect("report-mismatch", "registryBlock", s.registry_block, blocks.get(topo.registry_chain_id))
        try:
            ours = (await recompute(topo.layout(), self.view, s.security_id, blocks)).report(s.observed_at).to_message()
        except BlocksNotFinal as exc:
            raise NotFinal("not-final", str(exc)) from None
        except BadBlocks as exc:
            raise Refused("report-mismatch", str(exc)) from None
        except EventDecodeError as exc:
            raise Refused("undecodable-event", str(exc)) from None
        differing = _differences(s.to_message(), ours)
        if differing:
            raise Refused("report-mismatch", "; ".join(differing))
        return Claim(topo.registry_chain_id, None)

    # --- chain reads -----------------------------------------------------------------------------------

    def _holder_domain(self, domain: Domain, chain_id: int) -> PublicChain:
        public = self.topology.public.get(chain_id)
        if public is None:
            raise Refused("wrong-domain", f"chain {chain_id} is not a configured public chain")
        _expect_domain(domain, public.chain_id, public.holder_registry, "the holder registry")
        return public

    async def _investor(self, function: str, investor: str) -> Any:
        topo = self.topology
        return await self.view.call(
            topo.registry_chain_id, "InvestorRegistry", topo.investor_registry, function, investor
        )

    async def _security_id(self, chain_id: int, contract: str, token: str) -> bytes:
        key = (chain_id, token.lower())
        cached = self._security_ids.get(key)
        if cached is None:
            cached = bytes(await self.view.call(chain_id, contract, token, "securityId"))
            self._security_ids[key] = cached
        return cached

    async def _is_refunded(self, nonce: int) -> bool:
        """Whether bridge-out ``nonce`` was refunded on the registry (from `prefetch` if it read it)."""
        if nonce in self._refunded:
            return self._refunded[nonce]
        topo = self.topology
        request = await self.view.call(topo.registry_chain_id, "BridgeEscrow", topo.escrow, "request", nonce)
        return EscrowRequest.from_answer(request).status == EscrowStatus.REFUNDED

    async def _bridge_out(self, nonce: int) -> BridgeOut:
        topo = self.topology
        what = f"bridge-out {nonce}"
        if nonce in self._bridge_outs:
            events, head = self._bridge_outs[nonce]
            return await self._only_final(topo.registry_chain_id, topo.registry_confirmations, events, head, what)
        return await self._final_event(
            topo.registry_chain_id, topo.registry_confirmations, topo.escrow, [BRIDGE_OUT, uint_topic(nonce)],
            BridgeOut, what,
        )  # fmt: skip

    async def _events(
        self, chain_id: int, address: str, topics: Sequence[str | Sequence[str] | None], kind: type[E]
    ) -> tuple[list[E], int]:
        """The decoded, not-removed events of ``kind`` matching ``topics``, oldest first, and the head."""
        head = await self.view.head(chain_id)
        try:
            return events_of(chain_id, await self.view.logs(chain_id, address, topics, head), kind, address), head
        except EventDecodeError as exc:
            raise Refused("undecodable-event", str(exc)) from None

    async def _final_event(
        self, chain_id: int, confirmations: int, address: str, topics: Sequence[str | None], kind: type[E], what: str
    ) -> E:
        events, head = await self._events(chain_id, address, topics, kind)
        return await self._only_final(chain_id, confirmations, events, head, what)

    async def _only_final(self, chain_id: int, confirmations: int, events: list[E], head: int, what: str) -> E:
        """The one event of ``events``, final at ``head``; `NotFinal` or `Refused` otherwise."""
        if not events:
            raise NotFinal("not-found", f"{what} not found (yet) up to block {head}")
        if len(events) > 1:
            raise Refused("ambiguous-event", f"{what} appears {len(events)} times")
        await self._require_final(chain_id, confirmations, events[0], what, head)
        return events[0]

    async def _require_final(
        self, chain_id: int, confirmations: int, event: ChainEvent, what: str, head: int | None = None
    ) -> None:
        if head is None:
            head = await self.view.head(chain_id)
        block = event.ref.block_number
        if head - block < confirmations:
            raise NotFinal(
                "not-final", f"{what} in block {block}: {max(head - block, 0)} of {confirmations} confirmations"
            )
        canonical = await self.view.block_hash(chain_id, block)
        if canonical is None or canonical.lower() != event.ref.block_hash.lower():
            raise NotFinal("reorged", f"{what}: block {block} is no longer {event.ref.block_hash}")

    async def _latest_link(self, chain_id: int, wallet: str) -> WalletLinked | None:
        topo = self.topology
        topics = [WALLET_LINKED, None, uint_topic(chain_id), address_topic(wallet)]
        events, _head = await self._events(topo.registry_chain_id, topo.wallet_links, topics, WalletLinked)
        return events[-1] if events else None
