"""What a delivering transaction's fate means, pure (Hyperlane's ``disposition.rs`` is the model): for the
operations it carries (confirm them, wait, or ask the chain whether they are done anyway), and for its
own record in ``submissions``.

A delivery counts only once final: its block canonical and the chain's confirmations deep. A transaction
that failed, was dropped or was reorged out sends its operations back to delivery, unless the chain
shows them delivered anyway (in the final state: confirmed; only in the latest state: wait).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from relayer.core.transfer_state import SubmissionStatus


@dataclass(frozen=True)
class Receipt:
    """A transaction's receipt as the node has it now (``block_*`` only when mined)."""

    tx_hash: str
    mined: bool
    success: bool
    block_number: int | None = None
    block_hash: str | None = None


class Disposition(StrEnum):
    """What to do with an operation its submitted transaction carries."""

    CONFIRM = "confirm"  # the transaction is final: the operation is delivered
    WAIT = "wait"  # not final yet (or its block changed while read), or still in flight: look again later
    CHECK = "check"  # failed, dropped, replaced or reorged out: ask the chain whether it is done anyway


def disposition(receipt: Receipt, final: bool | None, *, in_flight: bool) -> Disposition:
    """The operation's disposition from its transaction's ``receipt``, whether that is ``final`` (see
    `relayer.core.finality.is_final`; None for a receipt that is not a mined success) and whether the
    transaction is still ``in_flight`` (recorded pending: it may yet mine)."""
    if receipt.mined and receipt.success:
        return Disposition.CONFIRM if final is True else Disposition.WAIT
    if receipt.mined or not in_flight:
        return Disposition.CHECK
    return Disposition.WAIT


class Recheck(StrEnum):
    """What the chain's state says of an operation whose own transaction did not deliver it."""

    CONFIRM = "confirm"  # done in the final state (by another transaction): delivered
    WAIT = "wait"  # done only in the latest state (a replacement, not final yet)
    REDELIVER = "redeliver"  # not done: deliver again, after a backoff


def recheck(done_at_final: bool, done_at_latest: bool) -> Recheck:
    if done_at_final:
        return Recheck.CONFIRM
    return Recheck.WAIT if done_at_latest else Recheck.REDELIVER


SubmissionStep = SubmissionStatus | Literal["ask-node", "replace"] | None
"""The next step for a recorded submission: a new status, ``"ask-node"`` (it was mined and is gone: pending
again while the node still holds it, else reorged), ``"replace"`` (re-price it: same nonce) or None."""


def settle(
    status: SubmissionStatus, receipt: Receipt, final: bool | None, *, nonce_consumed: bool, stuck: bool
) -> SubmissionStep:
    """The next step for a ``status`` submission (pending or mined) whose transaction's receipt is
    ``receipt``; ``nonce_consumed``: the sender's confirmed nonce is past the transaction's; ``stuck``:
    pending longer than allowed."""
    if receipt.mined:
        target = (
            (SubmissionStatus.FINAL if final else SubmissionStatus.MINED)
            if receipt.success
            else SubmissionStatus.FAILED
        )
        return None if target == status else target
    if status == SubmissionStatus.MINED:
        return "ask-node"
    if nonce_consumed:
        return SubmissionStatus.REPLACED  # its nonce went to another transaction
    return "replace" if stuck else None
