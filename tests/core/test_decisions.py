"""The pure decisions and operations of the core: which operations a watched event starts (`operation_for`,
`per_wallet_operations`), the destination, bridge-back and revocation decisions, and the columns and refund
reason code an `Outcome` sets."""

from __future__ import annotations

import pytest

from relayer.core.config import SecurityConfig
from relayer.core.constants import ZERO32, ZERO_ADDRESS, RevokeReason
from relayer.core.decisions import (
    REFUND_REASONS,
    BridgeBackFacts,
    Outcome,
    RevocationFacts,
    decide_bridge_back,
    decide_destination,
    decide_revocation,
)
from relayer.core.events import (
    AddressFrozen,
    BridgeBack,
    BridgeOut,
    InvestorRevoked,
    LogRef,
    WalletLinked,
    WalletUnlinked,
)
from relayer.core.model import Operation, Source
from relayer.core.operations import operation_for, per_wallet_operations
from relayer.core.records import HolderEntry
from relayer.core.transfer_state import Event, Kind, State

REGISTRY = 820001
ETHEREUM = 31337
ROLLUP = 31338
NOW = 1_800_000_000

SECURITY_ID = "0x" + "5C0F1B8C" * 8  # upper-case hex, as a config file may give it
REGISTRY_TOKEN = "0x5FC8d32690cc91D4c39d9d3abcBD16989F875707"
SECURITY = SecurityConfig(
    id=SECURITY_ID, isin="KR7005930003", name="Hanbit", asset_class="equity", registry_token=REGISTRY_TOKEN
)
OTHER = SecurityConfig(
    id="0x" + "11" * 32, isin="KR6000001234", name="Bond", asset_class="debt", registry_token="0x" + "22" * 20
)
UNTOKENED = SecurityConfig(id="0x" + "33" * 32, isin="KRZ500000017", name="Trust", asset_class="real-estate-trust")

INVESTOR = "0x" + "a1" * 20
WALLET = "0x" + "b2" * 20
ROLLUP_WALLET = "0x" + "c3" * 20
HOLDER_ID = bytes.fromhex("d4" * 32)


def ref(chain_id: int = REGISTRY, block: int = 12, log_index: int = 4) -> LogRef:
    return LogRef(chain_id, block, f"0x{block:064x}", "0x" + "ee" * 32, log_index, "0x" + "99" * 20)


def source(r: LogRef) -> Source:
    return Source(r.chain_id, r.tx_hash, r.block_number, r.block_hash, r.log_index)


def entry(holder_id: bytes = HOLDER_ID, *, updated_at: int = 0, revoked: bool = False) -> HolderEntry:
    return HolderEntry(holder_id, 410, 1, revoked, NOW + 10**6, updated_at, ZERO32, ZERO32)


def finalized(kind: Kind, dest_chain_id: int = ETHEREUM, payload: dict[str, object] | None = None) -> Operation:
    return Operation(
        "op-1", kind, State.FINALIZED, source(ref()), dest_chain_id, sender=INVESTOR, recipient=WALLET,
        payload=dict(payload or {}),
    )  # fmt: skip


# --- operation_for ----------------------------------------------------------------------------------------


def test_bridge_out_is_one_operation_keyed_by_registry_and_nonce_with_its_security() -> None:
    event = BridgeOut(ref(), 7, REGISTRY_TOKEN, INVESTOR, 250, ETHEREUM, WALLET)
    op = operation_for(event, REGISTRY, [OTHER, UNTOKENED, SECURITY])
    assert op == Operation(
        "820001-7", Kind.BRIDGE_OUT, State.OBSERVED, source(ref()), ETHEREUM, source_nonce=7,
        security_id=SECURITY_ID.lower(), token=REGISTRY_TOKEN, sender=INVESTOR, recipient=WALLET, amount=250,
    )  # fmt: skip


def test_bridge_out_token_matches_whatever_its_case() -> None:
    event = BridgeOut(ref(), 7, REGISTRY_TOKEN.lower(), INVESTOR, 250, ETHEREUM, WALLET)
    assert operation_for(event, REGISTRY, [SECURITY]).security_id == SECURITY_ID.lower()


def test_bridge_out_of_an_unconfigured_token_has_no_security() -> None:
    event = BridgeOut(ref(), 8, "0x" + "77" * 20, INVESTOR, 1, ETHEREUM, WALLET)
    op = operation_for(event, REGISTRY, [SECURITY, UNTOKENED])
    assert (op.id, op.security_id, op.token) == ("820001-8", None, "0x" + "77" * 20)


def test_bridge_back_is_keyed_by_its_public_chain_and_bound_for_the_registry() -> None:
    r = ref(ETHEREUM, 30, 1)
    op = operation_for(BridgeBack(r, 3, "0x" + "44" * 20, WALLET, 9, INVESTOR), REGISTRY, [SECURITY])
    assert op == Operation(
        "31337-3", Kind.BRIDGE_BACK, State.OBSERVED, source(r), REGISTRY, source_nonce=3, token="0x" + "44" * 20,
        sender=WALLET, recipient=INVESTOR, amount=9,
    )  # fmt: skip
    assert op.security_id is None  # learnt when decided


def test_wallet_link_registers_the_wallet_on_the_linked_chain() -> None:
    op = operation_for(WalletLinked(ref(), INVESTOR, ROLLUP, ROLLUP_WALLET), REGISTRY, [SECURITY])
    assert op == Operation(
        "link-820001-12-4", Kind.HOLDER_REGISTER, State.OBSERVED, source(ref()), ROLLUP, sender=INVESTOR,
        recipient=ROLLUP_WALLET,
    )  # fmt: skip
    assert op.payload == {}


def test_wallet_unlink_revokes_the_wallet_with_reason_unlinked() -> None:
    op = operation_for(WalletUnlinked(ref(), INVESTOR, ROLLUP, ROLLUP_WALLET), REGISTRY, [])
    assert op == Operation(
        "unlink-820001-12-4", Kind.HOLDER_REVOKE, State.OBSERVED, source(ref()), ROLLUP, sender=INVESTOR,
        recipient=ROLLUP_WALLET, payload={"reason": RevokeReason.UNLINKED.value},
    )  # fmt: skip
    assert op.payload == {"reason": 2}


# --- per_wallet_operations --------------------------------------------------------------------------------


def test_kyc_revocation_revokes_every_linked_wallet() -> None:
    event = InvestorRevoked(ref(block=15, log_index=0), INVESTOR, HOLDER_ID)
    ops = per_wallet_operations(event, REGISTRY, {ETHEREUM: WALLET, ROLLUP: ROLLUP_WALLET})
    assert [(op.id, op.kind, op.state, op.dest_chain_id, op.sender, op.recipient, op.payload) for op in ops] == [
        ("revoke-31337-820001-15-0", Kind.HOLDER_REVOKE, State.OBSERVED, ETHEREUM, INVESTOR, WALLET, {"reason": 1}),
        ("revoke-31338-820001-15-0", Kind.HOLDER_REVOKE, State.OBSERVED, ROLLUP, INVESTOR, ROLLUP_WALLET,
         {"reason": 1}),
    ]  # fmt: skip
    assert all(op.source == source(event.ref) for op in ops)


def test_no_operation_where_the_linked_wallet_is_the_zero_address() -> None:
    event = InvestorRevoked(ref(), INVESTOR, HOLDER_ID)
    ops = per_wallet_operations(event, REGISTRY, {ETHEREUM: ZERO_ADDRESS, ROLLUP: ROLLUP_WALLET})
    assert [op.id for op in ops] == ["revoke-31338-820001-12-4"]
    assert per_wallet_operations(event, REGISTRY, {ETHEREUM: ZERO_ADDRESS, ROLLUP: "0x" + "00" * 20}) == []
    assert per_wallet_operations(event, REGISTRY, {}) == []


def test_freeze_revokes_with_reason_frozen() -> None:
    ops = per_wallet_operations(AddressFrozen(ref(), INVESTOR, True), REGISTRY, {ETHEREUM: WALLET})
    assert [(op.id, op.kind, op.recipient, op.payload) for op in ops] == [
        ("freeze-31337-820001-12-4", Kind.HOLDER_REVOKE, WALLET, {"reason": RevokeReason.FROZEN.value})
    ]


def test_unfreeze_registers_again_without_a_reason() -> None:
    ops = per_wallet_operations(AddressFrozen(ref(), INVESTOR, False), REGISTRY, {ETHEREUM: WALLET, ROLLUP: WALLET})
    assert [(op.id, op.kind, op.dest_chain_id, op.payload) for op in ops] == [
        ("unfreeze-31337-820001-12-4", Kind.HOLDER_REGISTER, ETHEREUM, {}),
        ("unfreeze-31338-820001-12-4", Kind.HOLDER_REGISTER, ROLLUP, {}),
    ]


def test_per_wallet_operations_do_not_share_their_payload() -> None:
    first, second = per_wallet_operations(
        InvestorRevoked(ref(), INVESTOR, HOLDER_ID), REGISTRY, {ETHEREUM: WALLET, ROLLUP: ROLLUP_WALLET}
    )
    first.payload["issuedAt"] = NOW
    assert second.payload == {"reason": 1}


# --- decide_destination -----------------------------------------------------------------------------------


def test_a_configured_public_chain_decides_on() -> None:
    assert decide_destination(finalized(Kind.HOLDER_REGISTER, ROLLUP), {ETHEREUM, ROLLUP}) is None


@pytest.mark.parametrize("dest", [REGISTRY, 999])
def test_a_holder_statement_for_any_other_chain_is_rejected(dest: int) -> None:
    outcome = decide_destination(finalized(Kind.HOLDER_REVOKE, dest), {ETHEREUM, ROLLUP})
    assert outcome == Outcome(Event.REJECTED, "destination-unsupported")


# --- decide_bridge_back -----------------------------------------------------------------------------------


BURNER = "0x" + "b0" * 20


def test_bridge_back_is_released_to_the_burners_own_verified_registry_address() -> None:
    outcome = decide_bridge_back(BridgeBackFacts(bytes.fromhex("ab" * 32), BURNER, burner_verified=True))
    assert outcome == Outcome(Event.APPROVED, security_id="0x" + "ab" * 32, recipient=BURNER)
    assert outcome.columns() == {
        "decision": None, "reason": None, "reason_code": None, "locked_until": None, "security_id": "0x" + "ab" * 32,
        "recipient": BURNER,
    }  # fmt: skip


def test_bridge_back_of_an_unverified_burner_is_held_and_still_learns_its_security() -> None:
    outcome = decide_bridge_back(BridgeBackFacts(bytes.fromhex("ab" * 32), BURNER, burner_verified=False))
    assert outcome == Outcome(
        Event.ESCALATED, "registry-recipient-unverified", security_id="0x" + "ab" * 32, recipient=BURNER
    )
    assert outcome.reason_code is None


def test_bridge_back_from_a_wallet_no_investor_linked_is_held() -> None:
    outcome = decide_bridge_back(BridgeBackFacts(bytes.fromhex("ab" * 32), None, burner_verified=False))
    assert outcome == Outcome(Event.ESCALATED, "burner-not-linked", security_id="0x" + "ab" * 32)


# --- decide_revocation ------------------------------------------------------------------------------------


@pytest.mark.parametrize("holder", [entry(ZERO32), entry(revoked=True)], ids=["never-registered", "revoked"])
def test_revoking_a_wallet_without_a_live_entry_is_rejected(holder: HolderEntry) -> None:
    outcome = decide_revocation(finalized(Kind.HOLDER_REVOKE, payload={"reason": 1}), RevocationFacts(NOW, holder))
    assert outcome == Outcome(Event.REJECTED, "nothing-to-revoke")
    assert outcome.reason_code is None  # not a refund


def test_revocation_is_issued_now_after_an_older_statement() -> None:
    op = finalized(Kind.HOLDER_REVOKE, payload={"reason": 3})
    outcome = decide_revocation(op, RevocationFacts(NOW, entry(updated_at=NOW - 100)))
    assert outcome == Outcome(Event.APPROVED, payload={"reason": 3, "issuedAt": NOW})
    assert op.payload == {"reason": 3}  # the operation read is left alone


@pytest.mark.parametrize("updated_at", [NOW, NOW + 50])
def test_revocation_is_issued_after_the_entrys_last_statement(updated_at: int) -> None:
    outcome = decide_revocation(
        finalized(Kind.HOLDER_REVOKE, payload={"reason": 1}), RevocationFacts(NOW, entry(updated_at=updated_at))
    )
    assert outcome.event == Event.APPROVED
    assert outcome.payload == {"reason": 1, "issuedAt": updated_at + 1}
    assert outcome.columns()["payload"] == {"reason": 1, "issuedAt": updated_at + 1}


# --- Outcome ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("reason", "code"), sorted(REFUND_REASONS.items()))
def test_a_rejection_carries_its_refund_reason_code(reason: str, code: int) -> None:
    assert Outcome(Event.REJECTED, reason).reason_code == code
    assert Outcome(Event.REJECTED, reason).columns()["reason_code"] == code


def test_refund_reason_codes_are_distinct_and_never_zero() -> None:
    assert REFUND_REASONS == {
        "recipient-not-verified": 1, "compliance-deny": 2, "sanctions-hit": 3, "operator-rejected": 4,
        "security-unlisted": 5, "destination-unsupported": 6,
    }  # fmt: skip


@pytest.mark.parametrize("event", [Event.ESCALATED, Event.APPROVED])
def test_only_a_rejection_has_a_reason_code(event: Event) -> None:
    assert Outcome(event, "recipient-not-verified").reason_code is None


def test_a_rejection_without_a_refund_reason_has_no_code() -> None:
    assert Outcome(Event.REJECTED, "investor-not-verified").reason_code is None
    assert Outcome(Event.REJECTED).reason_code is None


def test_columns_set_the_decision_and_only_the_learnt_extras() -> None:
    record = {"verdict": "ALLOW"}
    assert Outcome(Event.APPROVED, None, record, 0).columns() == {
        "decision": record, "reason": None, "reason_code": None, "locked_until": 0,
    }  # fmt: skip
    assert Outcome(Event.REJECTED, "compliance-deny", record).columns() == {
        "decision": record, "reason": "compliance-deny", "reason_code": 2, "locked_until": None,
    }  # fmt: skip


def test_columns_copy_the_payload() -> None:
    payload = {"reason": 1, "issuedAt": NOW}
    columns = Outcome(Event.APPROVED, payload=payload).columns()
    assert columns["payload"] == payload
    assert columns["payload"] is not payload
    assert "security_id" not in columns
