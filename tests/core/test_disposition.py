"""The dispositions of delivering transactions, pure: what an operation's transaction means for it
(`disposition`), what the chain's state says when that transaction did not deliver it (`recheck`), and the
next step for a recorded submission (`settle`), over every combination of their inputs; `settle` only ever
proposes a move the submission table allows."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relayer.core.disposition import Disposition, Receipt, Recheck, SubmissionStep, disposition, recheck, settle
from relayer.core.transfer_state import SUBMISSION_TRANSITIONS, WATCHED, SubmissionStatus, check_submission_move

TX = "0x" + "ab" * 32
FINALITY: tuple[bool | None, ...] = (True, False, None)

MINED_OK = Receipt(TX, mined=True, success=True, block_number=7, block_hash="0x" + "07" * 32)
MINED_FAILED = Receipt(TX, mined=True, success=False, block_number=7, block_hash="0x" + "07" * 32)
NOT_MINED = Receipt(TX, mined=False, success=False)


def receipt(mined: bool, success: bool) -> Receipt:
    if mined:
        return Receipt(TX, mined=True, success=success, block_number=7, block_hash="0x" + "07" * 32)
    return Receipt(TX, mined=False, success=success)


# --- disposition ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("in_flight", [False, True])
def test_a_final_successful_transaction_confirms_its_operations(in_flight: bool) -> None:
    assert disposition(MINED_OK, True, in_flight=in_flight) is Disposition.CONFIRM


@pytest.mark.parametrize(("final", "in_flight"), list(itertools.product([None, False], [False, True])))
def test_a_successful_transaction_not_final_or_no_longer_canonical_waits(final: bool | None, in_flight: bool) -> None:
    """Shallower than the confirmations (None), or its block changed while read (False): look again later."""
    assert disposition(MINED_OK, final, in_flight=in_flight) is Disposition.WAIT


@pytest.mark.parametrize(("final", "in_flight"), list(itertools.product(FINALITY, [False, True])))
def test_a_reverted_transaction_sends_its_operations_to_the_check(final: bool | None, in_flight: bool) -> None:
    assert disposition(MINED_FAILED, final, in_flight=in_flight) is Disposition.CHECK


@pytest.mark.parametrize(("success", "final"), list(itertools.product([False, True], FINALITY)))
def test_an_unmined_transaction_still_in_flight_waits(success: bool, final: bool | None) -> None:
    assert disposition(receipt(False, success), final, in_flight=True) is Disposition.WAIT


@pytest.mark.parametrize(("success", "final"), list(itertools.product([False, True], FINALITY)))
def test_an_unmined_transaction_no_longer_in_flight_is_checked(success: bool, final: bool | None) -> None:
    """Dropped, replaced or reorged out (the node no longer holds it): ask the chain."""
    assert disposition(receipt(False, success), final, in_flight=False) is Disposition.CHECK


def expected_disposition(mined: bool, success: bool, final: bool | None, in_flight: bool) -> Disposition:
    if mined and success:
        return Disposition.CONFIRM if final is True else Disposition.WAIT
    if mined:
        return Disposition.CHECK
    return Disposition.WAIT if in_flight else Disposition.CHECK


@pytest.mark.parametrize(
    ("mined", "success", "final", "in_flight"),
    list(itertools.product([False, True], [False, True], FINALITY, [False, True])),
)
def test_disposition_over_every_combination(mined: bool, success: bool, final: bool | None, in_flight: bool) -> None:
    answer = disposition(receipt(mined, success), final, in_flight=in_flight)
    assert answer is expected_disposition(mined, success, final, in_flight)
    # only a final mined success ever confirms
    assert (answer is Disposition.CONFIRM) == (mined and success and final is True)


# --- recheck --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("done_at_final", "done_at_latest", "expected"),
    [
        (True, True, Recheck.CONFIRM),
        (True, False, Recheck.CONFIRM),  # final state wins even if the latest read disagrees
        (False, True, Recheck.WAIT),  # a replacement, not final yet
        (False, False, Recheck.REDELIVER),
    ],
)
def test_recheck(done_at_final: bool, done_at_latest: bool, expected: Recheck) -> None:
    assert recheck(done_at_final, done_at_latest) is expected


# --- settle ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("nonce_consumed", "stuck"), list(itertools.product([False, True], [False, True])))
def test_a_mined_receipt_settles_by_success_and_finality_whatever_the_nonce(nonce_consumed: bool, stuck: bool) -> None:
    flags = {"nonce_consumed": nonce_consumed, "stuck": stuck}
    assert settle(SubmissionStatus.PENDING, MINED_OK, True, **flags) is SubmissionStatus.FINAL
    assert settle(SubmissionStatus.PENDING, MINED_OK, None, **flags) is SubmissionStatus.MINED
    assert settle(SubmissionStatus.PENDING, MINED_OK, False, **flags) is SubmissionStatus.MINED
    assert settle(SubmissionStatus.MINED, MINED_OK, True, **flags) is SubmissionStatus.FINAL
    assert settle(SubmissionStatus.MINED, MINED_OK, None, **flags) is None  # already mined: no change
    assert settle(SubmissionStatus.MINED, MINED_OK, False, **flags) is None
    for status, final in itertools.product(WATCHED, FINALITY):
        assert settle(status, MINED_FAILED, final, **flags) is SubmissionStatus.FAILED


@pytest.mark.parametrize(
    ("nonce_consumed", "stuck", "final"), list(itertools.product([False, True], [False, True], FINALITY))
)
def test_a_mined_submission_whose_receipt_is_gone_asks_the_node(
    nonce_consumed: bool, stuck: bool, final: bool | None
) -> None:
    assert settle(SubmissionStatus.MINED, NOT_MINED, final, nonce_consumed=nonce_consumed, stuck=stuck) == "ask-node"


@pytest.mark.parametrize(
    ("nonce_consumed", "stuck", "expected"),
    [
        (True, False, SubmissionStatus.REPLACED),  # its nonce went to another transaction
        (True, True, SubmissionStatus.REPLACED),  # replaced wins over re-pricing
        (False, True, "replace"),  # stuck: re-priced, same nonce
        (False, False, None),  # still waiting to mine
    ],
)
def test_an_unmined_pending_submission(nonce_consumed: bool, stuck: bool, expected: SubmissionStep) -> None:
    for final in FINALITY:
        assert (
            settle(SubmissionStatus.PENDING, NOT_MINED, final, nonce_consumed=nonce_consumed, stuck=stuck) == expected
        )


def expected_step(
    status: SubmissionStatus, mined: bool, success: bool, final: bool | None, nonce_consumed: bool, stuck: bool
) -> SubmissionStep:
    if mined:
        target = (SubmissionStatus.FINAL if final else SubmissionStatus.MINED) if success else SubmissionStatus.FAILED
        return None if target == status else target
    if status == SubmissionStatus.MINED:
        return "ask-node"
    if nonce_consumed:
        return SubmissionStatus.REPLACED
    return "replace" if stuck else None


COMBINATIONS = list(
    itertools.product(sorted(WATCHED), [False, True], [False, True], FINALITY, [False, True], [False, True])
)


@pytest.mark.parametrize(("status", "mined", "success", "final", "nonce_consumed", "stuck"), COMBINATIONS)
def test_settle_over_every_combination(
    status: SubmissionStatus, mined: bool, success: bool, final: bool | None, nonce_consumed: bool, stuck: bool
) -> None:
    step = settle(status, receipt(mined, success), final, nonce_consumed=nonce_consumed, stuck=stuck)
    assert step == expected_step(status, mined, success, final, nonce_consumed, stuck)


def assert_allowed(status: SubmissionStatus, step: SubmissionStep) -> None:
    """``step`` is a move the submission table allows from ``status`` (or no move at all)."""
    if step is None:
        return
    if step == "ask-node":  # pending again while the node holds it, else reorged
        assert status == SubmissionStatus.MINED
        assert {SubmissionStatus.PENDING, SubmissionStatus.REORGED} <= SUBMISSION_TRANSITIONS[status]
        return
    if step == "replace":  # re-priced under the same nonce: stays pending
        assert status == SubmissionStatus.PENDING
        return
    assert isinstance(step, SubmissionStatus)
    assert step != status
    assert step in SUBMISSION_TRANSITIONS[status]
    assert check_submission_move(status, step) is step


def test_settle_only_proposes_allowed_moves_over_every_combination() -> None:
    steps = set()
    for status, mined, success, final, nonce_consumed, stuck in COMBINATIONS:
        step = settle(status, receipt(mined, success), final, nonce_consumed=nonce_consumed, stuck=stuck)
        assert_allowed(status, step)
        steps.add((status, step))
    # every step settle can take from a watched status was reached above
    assert steps == {
        (SubmissionStatus.PENDING, SubmissionStatus.FINAL),
        (SubmissionStatus.PENDING, SubmissionStatus.MINED),
        (SubmissionStatus.PENDING, SubmissionStatus.FAILED),
        (SubmissionStatus.PENDING, SubmissionStatus.REPLACED),
        (SubmissionStatus.PENDING, "replace"),
        (SubmissionStatus.PENDING, None),
        (SubmissionStatus.MINED, SubmissionStatus.FINAL),
        (SubmissionStatus.MINED, SubmissionStatus.FAILED),
        (SubmissionStatus.MINED, "ask-node"),
        (SubmissionStatus.MINED, None),
    }


receipts = st.builds(
    Receipt,
    tx_hash=st.just(TX),
    mined=st.booleans(),
    success=st.booleans(),
    block_number=st.none() | st.integers(min_value=0, max_value=2**40),
    block_hash=st.none() | st.just("0x" + "07" * 32),
)


@given(
    status=st.sampled_from(sorted(WATCHED)),
    receipt_=receipts,
    final=st.sampled_from(FINALITY),
    nonce_consumed=st.booleans(),
    stuck=st.booleans(),
)
def test_settle_never_proposes_a_move_the_table_forbids(
    status: SubmissionStatus, receipt_: Receipt, final: bool | None, nonce_consumed: bool, stuck: bool
) -> None:
    assert_allowed(status, settle(status, receipt_, final, nonce_consumed=nonce_consumed, stuck=stuck))
