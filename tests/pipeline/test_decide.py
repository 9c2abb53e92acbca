"""The decide stage (`relayer.pipeline.decide.Decide`) over the in-memory store and contract reads, with the
shipped jurisdiction adapters and the devnet cast's KYC evidence: every kind of finalized operation approved,
rejected (with its refund reason code) or held, with its decision record and lock-up; reads that fail
transiently retried on the operation's persisted backoff, a fatal failure raised."""

from __future__ import annotations

import shutil
import tomllib
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
import tomli_w

from adapters.registry import Adapters
from adapters.rulepack import DEFAULT_DIRECTORY
from adapters.types import Screening
from attestations.eip712 import Domain
from attestations.kinds import KycClaim
from relayer.core.compliance import load_adapters
from relayer.core.config import Config, parse_config
from relayer.core.decisions import HOLDER_VALIDITY_SECONDS
from relayer.core.errors import RpcUnavailable
from relayer.core.events import BridgeBack, BridgeOut, InvestorRevoked, LogRef, WalletLinked, WalletUnlinked
from relayer.core.finality import ReorgTooDeep
from relayer.core.kyc import KycRecord
from relayer.core.model import Operation
from relayer.core.operations import SingleEvent, operation_for, per_wallet_operations
from relayer.core.records import HolderEntry, Investor
from relayer.core.signed import claim_record
from relayer.core.transfer_state import Event, Kind, State, backoff_seconds
from relayer.devtools.devnet.cast import CAST, COUNTRY_NUMERIC, INVESTOR_CLASSES, SECURITIES, CastMember, kyc_claim
from relayer.pipeline.decide import Decide, Rules
from relayer.pipeline.moves import Mover
from tests.support.memory import Clock, MemoryContractReads, MemoryOperationStore, holder_entry

REGISTRY = 820001
ETHEREUM = 31337
ROLLUP = 31338
PUBLIC = (ETHEREUM, ROLLUP)
NOW = 1_800_000_000  # the memory Clock's default
DAY = 86_400

HBS = SECURITIES[0]  # KR equity, publicly offered at home
SECURITY_ID = "0x" + HBS.security_id.hex()
REGISTRY_TOKEN = "0x5FC8d32690cc91D4c39d9d3abcBD16989F875707"
WRAPPED = "0x" + "44" * 20  # HBS's wrapped token on ethereum


def config(rules_dir: Path | None = None) -> Config:
    raw: dict[str, object] = {
        "registry": {"name": "registry", "chain_id": REGISTRY, "rpc_url": "http://127.0.0.1:1", "confirmations": 0},
        "public": [
            {"name": "ethereum", "chain_id": ETHEREUM, "rpc_url": "http://127.0.0.1:2", "confirmations": 2},
            {"name": "rollup", "chain_id": ROLLUP, "rpc_url": "http://127.0.0.1:3", "confirmations": 2},
        ],
        "securities": [{
            "id": SECURITY_ID, "isin": HBS.isin, "name": HBS.name, "asset_class": HBS.asset_class,
            "flags": list(HBS.flags), "registry_token": REGISTRY_TOKEN,
        }],
    }  # fmt: skip
    if rules_dir is not None:
        raw["adapters"] = {"rules_dir": str(rules_dir)}
    return parse_config(raw)


CONFIG = config()
ADAPTERS = load_adapters(CONFIG)  # the shipped rule packs: KR offshore distribution not yet verified by counsel


def member(name: str) -> CastMember:
    return next(m for m in CAST if m.name.startswith(name))


def holder_id(who: CastMember) -> str:
    return "0x" + who.investor_id.hex()


def registry_account(who: CastMember) -> str:
    return str(who.registry_account().address)


def wallet(who: CastMember, chain_id: int = ETHEREUM) -> str:
    return str(who.wallet_account("ethereum" if chain_id == ETHEREUM else "rollup").address)


CLAIMS_DOMAIN = Domain(REGISTRY, "0x" + "1a" * 20)  # the registry's InvestorRegistry


class KycBook:
    """A `KycSource` over the cast's KYC claims, signed by the devnet's KYC provider (valid from a day ago for
    400 days); `Harness` anchors them, as the registry does."""

    def __init__(self, *members: CastMember) -> None:
        self.records: dict[str, KycRecord] = {
            holder_id(m): claim_record(kyc_claim(m, CLAIMS_DOMAIN, NOW - DAY, NOW + 400 * DAY)) for m in members
        }

    def get(self, holder_id: str) -> KycRecord | None:
        return self.records.get(holder_id.lower())


class FailingReads(MemoryContractReads):
    """Contract reads whose HolderRegistry view raises ``failure`` while it is set."""

    failure: Exception | None = None

    async def holder(self, chain_id: int, wallet: str) -> HolderEntry:
        if self.failure is not None:
            raise self.failure
        return await super().holder(chain_id, wallet)


class Harness:
    """A decide stage over memory; ``finalized`` records an event's operation(s) as intake and finalize would."""

    def __init__(self, kyc: KycBook | None = None, adapters: Adapters = ADAPTERS, cfg: Config = CONFIG) -> None:
        self.clock = Clock(NOW)
        self.store = MemoryOperationStore(self.clock)
        self.reads = FailingReads()
        book = kyc if kyc is not None else KycBook(*CAST)
        self.rules = Rules(adapters, None, book, cfg.securities)
        self.decide = Decide(self.store, Mover(self.store, self.clock), self.rules, registry_chain_id=REGISTRY,
                             public_chain_ids=[c.chain_id for c in cfg.public])  # fmt: skip
        self.blocks = 0
        for record in book.records.values():  # the registry anchors each holder's claim
            if record.claim is not None and isinstance(record.claim.statement, KycClaim):
                self.reads.anchors[record.claim.statement.holder_id] = record.claim.digest

    def ref(self, chain_id: int = REGISTRY) -> LogRef:
        self.blocks += 1
        return LogRef(
            chain_id, self.blocks, f"0x{self.blocks:064x}", f"0x{self.blocks + 10**6:064x}", 0, "0x" + "99" * 20
        )

    async def finalized(self, *ops: Operation) -> list[Operation]:
        await self.store.observe_many(ops)
        return [await self.store.transition(op.id, Event.FINALIZED) for op in ops]

    async def event(self, event: SingleEvent) -> Operation:
        [op] = await self.finalized(operation_for(event, REGISTRY, self.rules.securities))
        return op

    async def bridge_out(self, who: CastMember, dest: int = ETHEREUM, token: str = REGISTRY_TOKEN) -> Operation:
        ref = self.ref()
        return await self.event(
            BridgeOut(ref, ref.block_number, token, registry_account(who), 10, dest, wallet(who, dest))
        )

    def whitelist(self, who: CastMember, chain_id: int = ETHEREUM, *, eligible: bool = True) -> None:
        """``who``'s wallet on ``chain_id`` holds a HolderRegistry entry (eligible for HBS unless told not)."""
        address = wallet(who, chain_id).lower()
        self.reads.holders[(chain_id, address)] = holder_entry(who.investor_id, updated_at=NOW - DAY)
        if eligible:
            self.reads.eligibility.add((chain_id, address, HBS.security_id))

    def register_investor(self, who: CastMember, *, verified: bool = True, linked: int | None = ETHEREUM) -> None:
        """The registry's record of ``who`` (KYC valid for a year) and its wallet link on ``linked``."""
        account = registry_account(who).lower()
        self.reads.investors[account] = Investor(
            who.investor_id, verified, COUNTRY_NUMERIC[who.country], INVESTOR_CLASSES[who.investor_class],
            NOW + 365 * DAY,
        )  # fmt: skip
        if linked is not None:
            self.reads.wallets[(account, linked)] = wallet(who, linked)

    async def run(self) -> None:
        await self.decide.run(self.reads)

    async def get(self, op: Operation) -> Operation:
        return await self.store.get(op.id)

    async def detail(self, op: Operation) -> str | None:
        detail: str | None = (await self.store.history(op.id))[-1]["detail"]
        return detail


def verdict(op: Operation) -> object:
    assert op.decision is not None
    return op.decision["verdict"]


# --- bridge-out -------------------------------------------------------------------------------------------


async def test_bridge_out_to_a_kr_professional_is_approved_with_its_record_and_lockup() -> None:
    h = Harness()
    minjun = member("Minjun")
    h.whitelist(minjun)
    op = await h.bridge_out(minjun)
    await h.run()
    done = await h.get(op)
    assert (done.state, done.reason, done.reason_code, done.locked_until) == (State.APPROVED, None, None, 0)
    assert done.decision is not None
    assert (done.decision["verdict"], done.decision["reasons"]) == ("ALLOW", ["eligible"])
    assert [d["jurisdiction"] for d in done.decision["decisions"]] == ["KR"]  # at home: KR alone decides
    assert (done.attempts, done.last_error) == (0, None)
    assert await h.detail(op) == "approved"


async def test_bridge_out_with_a_lockup_carries_it_into_the_column(tmp_path: Path) -> None:
    """With KR offshore distribution verified by counsel, an SG accredited investor is allowed under the
    SG lock-up, which the mint will carry."""
    for pack in DEFAULT_DIRECTORY.glob("*.toml"):
        shutil.copy(pack, tmp_path)
    kr = tomllib.loads((tmp_path / "KR.toml").read_text())
    kr["rules"]["offshore_distribution_permitted"]["verified"] = True
    (tmp_path / "KR.toml").write_text(tomli_w.dumps(kr))
    cfg = config(tmp_path)
    h = Harness(adapters=load_adapters(cfg), cfg=cfg)
    wei = member("Wei")
    h.whitelist(wei, ROLLUP)
    op = await h.bridge_out(wei, ROLLUP)
    await h.run()
    done = await h.get(op)
    assert (done.state, done.reason, done.reason_code) == (State.APPROVED, None, None)
    assert done.decision is not None
    assert done.decision["verdict"] == "ALLOW_CONDITIONAL"
    assert done.locked_until == done.decision["conditions"]["lockup_until"] == NOW + 183 * DAY
    assert [d["jurisdiction"] for d in done.decision["decisions"]] == ["KR", "SG"]


async def test_bridge_out_held_for_an_operator_keeps_the_lockup_an_approval_must_respect() -> None:
    h = Harness()
    alice = member("Alice")
    h.whitelist(alice)
    op = await h.bridge_out(alice)
    await h.run()
    done = await h.get(op)
    assert (done.state, done.reason, done.reason_code) == (State.HELD, "unverified-rule", None)
    assert verdict(done) == "ESCALATE"
    assert done.locked_until == NOW + 365 * DAY  # US Rule 144, non-reporting issuer


async def test_the_decision_time_is_the_bridge_outs_block_time_never_the_deciders_clock() -> None:
    """Deterministic decisions: independent deciders (the relayer, each attestor) reach the same lock-up
    whatever their clocks say, because the time decided at is the source event's block timestamp."""
    lockups = []
    for skew in (-3600, 0, 7 * DAY):
        h = Harness()
        h.clock.now = NOW + skew
        alice = member("Alice")
        h.whitelist(alice)
        op = await h.bridge_out(alice)
        h.reads.block_times[(REGISTRY, op.source.block_number)] = NOW - 600
        await h.run()
        lockups.append((await h.get(op)).locked_until)
    assert lockups == [NOW - 600 + 365 * DAY] * 3


async def test_bridge_out_to_an_ineligible_recipient_is_rejected_for_a_refund() -> None:
    h = Harness()
    bob = member("Bob")
    h.whitelist(bob, eligible=False)  # a HolderRegistry entry, but not eligible for the security
    op = await h.bridge_out(bob)
    await h.run()
    done = await h.get(op)
    assert (done.state, done.reason, done.reason_code) == (State.REJECTED, "recipient-not-verified", 1)
    assert (done.decision, done.locked_until) == (None, None)
    assert await h.detail(op) == "recipient-not-verified"


async def test_bridge_out_to_a_wallet_never_registered_is_rejected_for_a_refund() -> None:
    h = Harness()
    op = await h.bridge_out(member("Minjun"))
    await h.run()
    done = await h.get(op)
    assert (done.state, done.reason, done.reason_code) == (State.REJECTED, "recipient-not-verified", 1)


async def test_bridge_out_of_an_unlisted_security_is_rejected() -> None:
    h = Harness()
    minjun = member("Minjun")
    h.whitelist(minjun)
    op = await h.bridge_out(minjun, token="0x" + "77" * 20)
    assert op.security_id is None
    await h.run()
    done = await h.get(op)
    assert (done.state, done.reason, done.reason_code) == (State.REJECTED, "security-unlisted", 5)
    assert h.reads.reads == 0


async def test_bridge_out_to_an_unconfigured_chain_is_rejected() -> None:
    h = Harness()
    op = await h.bridge_out(member("Minjun"), dest=999)
    await h.run()
    done = await h.get(op)
    assert (done.state, done.reason, done.reason_code) == (State.REJECTED, "destination-unsupported", 6)
    assert h.reads.reads == 0


async def test_eligible_recipient_without_kyc_evidence_is_held() -> None:
    h = Harness(kyc=KycBook())  # no claim for anyone
    minjun = member("Minjun")
    h.whitelist(minjun)
    op = await h.bridge_out(minjun)
    await h.run()
    done = await h.get(op)
    assert (done.state, done.reason, done.reason_code, done.decision) == (State.HELD, "kyc-missing", None, None)


async def test_bridge_out_the_adapters_deny_is_rejected_with_the_decision() -> None:
    """A US general investor the registry whitelisted anyway: US Rule 506(c) admits accredited investors only."""
    h = Harness()
    bob = member("Bob")
    h.whitelist(bob)
    op = await h.bridge_out(bob)
    await h.run()
    done = await h.get(op)
    assert (done.state, done.reason, done.reason_code, done.locked_until) == (
        State.REJECTED, "compliance-deny", 2, None,
    )  # fmt: skip
    assert done.decision is not None
    assert (done.decision["verdict"], done.decision["reasons"]) == ("DENY", ["investor-category"])


@pytest.mark.parametrize("case", ["older claim replayed", "expired", "another holder's"])
async def test_a_claim_that_does_not_count_is_no_kyc_evidence(case: str) -> None:
    """A KYC claim counts only while it is the one the registry anchors for the holder, unexpired at the
    decision time, about that holder: an older claim replayed after a downgrade, an expired claim or another
    holder's claim leave the bridge-out without KYC evidence (held for an operator)."""
    minjun, lena = member("Minjun"), member("Lena")
    h = Harness()
    h.whitelist(minjun)
    kyc = h.rules.kyc
    assert isinstance(kyc, KycBook)
    if case == "older claim replayed":  # the registry anchors a newer claim (say a downgrade) than the relayer has
        newer = kyc_claim(minjun, CLAIMS_DOMAIN, NOW - DAY, NOW + 400 * DAY, sequence=2)
        h.reads.anchors[minjun.investor_id] = newer.digest
    elif case == "expired":
        kyc.records[holder_id(minjun)] = claim_record(kyc_claim(minjun, CLAIMS_DOMAIN, NOW - 400 * DAY, NOW - DAY))
        h.reads.anchors[minjun.investor_id] = kyc.records[holder_id(minjun)].claim.digest  # type: ignore[union-attr]
    else:
        kyc.records[holder_id(minjun)] = kyc.records[holder_id(lena)]
    op = await h.bridge_out(minjun)
    await h.run()
    done = await h.get(op)
    assert (done.state, done.reason) == (State.HELD, "kyc-missing")
    assert "claim" not in done.payload


async def test_the_claim_a_decision_rests_on_is_stored_and_named() -> None:
    minjun = member("Minjun")
    h = Harness()
    h.whitelist(minjun)
    op = await h.bridge_out(minjun)
    await h.run()
    done = await h.get(op)
    claim = h.rules.kyc.get(holder_id(minjun))
    assert claim is not None and claim.claim is not None
    digest = "0x" + claim.claim.digest.hex()
    assert done.payload == {"claim": digest}
    assert await h.store.attestation(digest) == claim.claim.to_json()


async def test_bridge_out_to_a_sanctioned_holder_is_rejected_as_a_sanctions_hit() -> None:
    minjun = member("Minjun")
    kyc = KycBook(minjun)
    kyc.records[holder_id(minjun)] = replace(kyc.records[holder_id(minjun)], sanctions=Screening.HIT)
    h = Harness(kyc=kyc)
    h.whitelist(minjun)
    op = await h.bridge_out(minjun)
    await h.run()
    done = await h.get(op)
    assert (done.state, done.reason, done.reason_code) == (State.REJECTED, "sanctions-hit", 3)
    assert verdict(done) == "DENY"


# --- bridge-back ------------------------------------------------------------------------------------------


async def bridge_back(h: Harness, who: CastMember, recipient: CastMember | None = None) -> Operation:
    """``who`` burns on ethereum naming ``recipient``'s registry address (default: their own); ``who``'s wallet
    was linked by ``who``."""
    ref = h.ref(ETHEREUM)
    event = BridgeBack(ref, 3, WRAPPED, wallet(who), 4, registry_account(recipient or who))
    h.reads.wrapped[(ETHEREUM, WRAPPED)] = HBS.security_id
    h.reads.linkers[(ETHEREUM, wallet(who).lower())] = registry_account(who)
    return await h.event(event)


async def test_bridge_back_to_a_verified_registry_investor_is_approved_and_learns_its_security() -> None:
    h = Harness()
    minjun = member("Minjun")
    h.reads.verified.add(registry_account(minjun).lower())
    op = await bridge_back(h, minjun)
    assert op.security_id is None
    await h.run()
    done = await h.get(op)
    assert (done.id, done.state, done.security_id, done.reason, done.reason_code, done.recipient) == (
        "31337-3", State.APPROVED, SECURITY_ID, None, None, registry_account(minjun),
    )  # fmt: skip


async def test_a_bridge_back_naming_another_investor_is_released_to_the_burner() -> None:
    """A locked-up holder cannot pass units to another investor by naming them as the registry recipient:
    the release goes to the burner's own registry address."""
    h = Harness()
    minjun, lena = member("Minjun"), member("Lena")
    h.reads.verified.update({registry_account(minjun).lower(), registry_account(lena).lower()})
    op = await bridge_back(h, minjun, recipient=lena)
    assert op.recipient == registry_account(lena)
    await h.run()
    done = await h.get(op)
    assert (done.state, done.recipient) == (State.APPROVED, registry_account(minjun))


async def test_bridge_back_to_an_unverified_registry_investor_is_held() -> None:
    h = Harness()
    op = await bridge_back(h, member("Minjun"))
    await h.run()
    done = await h.get(op)
    assert (done.state, done.reason, done.reason_code, done.security_id) == (
        State.HELD, "registry-recipient-unverified", None, SECURITY_ID,
    )  # fmt: skip


# --- holder registrations and revocations -----------------------------------------------------------------


async def test_wallet_link_of_a_verified_kr_professional_is_approved_with_its_statement() -> None:
    h = Harness()
    minjun = member("Minjun")
    h.register_investor(minjun)
    h.reads.holders[(ETHEREUM, wallet(minjun).lower())] = holder_entry(updated_at=NOW + 30)  # a clock ahead of ours
    op = await h.event(WalletLinked(h.ref(), registry_account(minjun), ETHEREUM, wallet(minjun)))
    await h.run()
    done = await h.get(op)
    pack = ADAPTERS.packs["KR"]
    assert (done.state, done.reason, done.reason_code, done.locked_until) == (State.APPROVED, None, None, None)
    assert done.decision == {
        "holderId": holder_id(minjun), "country": 410, "investorClass": 1, "validFrom": NOW + 31,
        "validUntil": min(NOW + 365 * DAY, NOW + HOLDER_VALIDITY_SECONDS), "rulePackId": pack.id,
        "rulePackHash": pack.content_hash,
    }  # fmt: skip


async def test_registration_the_rules_only_hold_is_held_with_the_statement_an_approval_delivers() -> None:
    """A US accredited investor: the US pack escalates every bridged security ("verification-required", a
    rule without a verified source) and allows none, so the link is held (never a silent allow); the held
    registration carries the statement an officer's approval delivers."""
    h = Harness()
    alice = member("Alice")
    h.register_investor(alice)
    op = await h.event(WalletLinked(h.ref(), registry_account(alice), ETHEREUM, wallet(alice)))
    await h.run()
    done = await h.get(op)
    pack = ADAPTERS.packs["US"]
    assert (done.state, done.reason) == (State.HELD, "verification-required")
    assert done.decision == {
        "holderId": holder_id(alice), "country": 840, "investorClass": 2, "validFrom": NOW,
        "validUntil": NOW + 365 * DAY, "rulePackId": pack.id, "rulePackHash": pack.content_hash,
    }  # fmt: skip


async def test_registration_without_kyc_evidence_is_held_with_no_rule_pack() -> None:
    h = Harness(kyc=KycBook())
    minjun = member("Minjun")
    h.register_investor(minjun)
    op = await h.event(WalletLinked(h.ref(), registry_account(minjun), ETHEREUM, wallet(minjun)))
    await h.run()
    done = await h.get(op)
    assert (done.state, done.reason) == (State.HELD, "kyc-missing")
    assert done.decision is not None
    assert (done.decision["rulePackId"], done.decision["rulePackHash"]) == (None, "0x" + "00" * 32)


async def test_registration_of_an_unverified_investor_is_rejected() -> None:
    h = Harness()
    minjun = member("Minjun")
    h.register_investor(minjun, verified=False)
    op = await h.event(WalletLinked(h.ref(), registry_account(minjun), ETHEREUM, wallet(minjun)))
    await h.run()
    done = await h.get(op)
    assert (done.state, done.reason, done.reason_code, done.decision) == (
        State.REJECTED, "investor-not-verified", None, None,
    )  # fmt: skip


async def test_registration_of_a_wallet_no_longer_linked_is_rejected() -> None:
    h = Harness()
    minjun = member("Minjun")
    h.register_investor(minjun, linked=None)  # unlinked since
    op = await h.event(WalletLinked(h.ref(), registry_account(minjun), ETHEREUM, wallet(minjun)))
    await h.run()
    assert ((await h.get(op)).state, (await h.get(op)).reason) == (State.REJECTED, "link-superseded")


@pytest.mark.parametrize("kind", [Kind.HOLDER_REGISTER, Kind.HOLDER_REVOKE])
async def test_holder_statement_for_a_chain_that_is_not_a_public_chain_is_rejected(kind: Kind) -> None:
    h = Harness()
    minjun = member("Minjun")
    h.register_investor(minjun)
    link = WalletLinked if kind == Kind.HOLDER_REGISTER else WalletUnlinked
    op = await h.event(link(h.ref(), registry_account(minjun), 999, wallet(minjun)))
    assert op.kind == kind
    await h.run()
    done = await h.get(op)
    assert (done.state, done.reason) == (State.REJECTED, "destination-unsupported")
    # the refund table's code, though nothing is refunded: the attest stage refunds bridge-outs only
    assert done.reason_code == 6
    assert h.reads.reads == 0


async def revocation(h: Harness, who: CastMember) -> Operation:
    event = InvestorRevoked(h.ref(), registry_account(who), who.investor_id)
    [op] = await h.finalized(*per_wallet_operations(event, REGISTRY, {ETHEREUM: wallet(who)}))
    return op


async def test_revocation_of_a_wallet_without_a_live_entry_is_rejected() -> None:
    h = Harness()
    op = await revocation(h, member("Yuki"))
    await h.run()
    done = await h.get(op)
    assert (done.state, done.reason, done.reason_code) == (State.REJECTED, "nothing-to-revoke", None)
    assert done.payload == {"reason": 1}


@pytest.mark.parametrize(("updated_at", "issued_at"), [(NOW - DAY, NOW), (NOW, NOW + 1), (NOW + 40, NOW + 41)])
async def test_revocation_of_a_live_entry_is_approved_issued_after_its_last_statement(
    updated_at: int, issued_at: int
) -> None:
    h = Harness()
    yuki = member("Yuki")
    h.reads.holders[(ETHEREUM, wallet(yuki).lower())] = holder_entry(yuki.investor_id, updated_at=updated_at)
    op = await revocation(h, yuki)
    await h.run()
    done = await h.get(op)
    assert (done.state, done.reason, done.reason_code) == (State.APPROVED, None, None)
    assert done.payload == {"reason": 1, "issuedAt": issued_at}


# --- failures ---------------------------------------------------------------------------------------------


async def test_reads_failing_transiently_leave_the_operation_for_its_persisted_backoff() -> None:
    h = Harness()
    minjun = member("Minjun")
    h.whitelist(minjun)
    h.reads.verified.add(registry_account(minjun).lower())
    out = await h.bridge_out(minjun)
    back = await bridge_back(h, minjun)  # needs no HolderRegistry read: decided in the same pass
    error = RpcUnavailable("eth_call", "read timed out")
    h.reads.failure = error
    await h.run()
    failed = await h.get(out)
    assert (failed.state, failed.attempts, failed.last_error) == (State.FINALIZED, 1, repr(error))
    assert failed.next_attempt_at == h.clock.utc() + timedelta(seconds=backoff_seconds(1, out.id))
    assert failed.next_attempt_at > h.clock.utc()
    assert (await h.get(back)).state == State.APPROVED

    await h.run()  # not due yet: left alone
    assert (await h.get(out)).attempts == 1

    h.clock.now += 1
    await h.run()  # due again, fails again: a longer wait
    failed = await h.get(out)
    assert (failed.state, failed.attempts) == (State.FINALIZED, 2)
    assert failed.next_attempt_at == h.clock.utc() + timedelta(seconds=backoff_seconds(2, out.id))

    h.reads.failure = None
    h.clock.now += 2
    await h.run()
    assert (await h.get(out)).state == State.APPROVED


async def test_a_fatal_failure_propagates_and_nothing_moves() -> None:
    h = Harness()
    minjun = member("Minjun")
    h.whitelist(minjun)
    h.reads.verified.add(registry_account(minjun).lower())
    out = await h.bridge_out(minjun)
    back = await bridge_back(h, minjun)
    h.reads.failure = ReorgTooDeep(1)
    with pytest.raises(ReorgTooDeep):
        await h.run()
    for op in (out, back):
        after = await h.get(op)
        assert (after.state, after.attempts, after.last_error) == (State.FINALIZED, 0, None)


async def test_nothing_due_is_a_pass_without_reads() -> None:
    h = Harness()
    await h.run()
    assert h.reads.reads == 0
    assert await h.store.find() == []


async def test_only_finalized_operations_are_decided() -> None:
    h = Harness()
    minjun = member("Minjun")
    h.whitelist(minjun)
    ref = h.ref()
    event = BridgeOut(ref, 1, REGISTRY_TOKEN, registry_account(minjun), 10, ETHEREUM, wallet(minjun))
    observed = operation_for(event, REGISTRY, CONFIG.securities)
    await h.store.observe_many([observed])
    await h.run()
    assert (await h.get(observed)).state == State.OBSERVED
    assert h.reads.reads == 0
