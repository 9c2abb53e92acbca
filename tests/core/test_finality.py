"""Finality, pure: the fork point of a reorg against the remembered hashes, whether an event is final, the
spans a watcher reads, whether headers link."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relayer.core.finality import Header, ReorgTooDeep, Span, fork_point, is_final, linked, next_span, window

H = {n: f"0x{n:064x}" for n in range(200)}  # the "old" chain's hashes by height
R = {n: f"0x{n + 1000:064x}" for n in range(200)}  # the chain after a reorg, above the fork

# --- pure: fork point -------------------------------------------------------------------------


def test_no_reorg_has_no_fork_point() -> None:
    stored = {n: H[n] for n in range(10, 20)}
    assert fork_point(stored, stored) is None
    assert fork_point(stored, {**stored, 20: H[20], 21: H[21]}) is None  # the chain grew
    assert fork_point({}, {}) is None


def test_reorg_at_the_tip() -> None:
    stored = {n: H[n] for n in range(10, 20)}
    assert fork_point(stored, {**stored, 19: R[19]}) == 18


def test_deep_reorg_within_the_window() -> None:
    stored = {n: H[n] for n in range(10, 20)}
    canonical = {n: H[n] if n <= 12 else R[n] for n in range(10, 20)}
    assert fork_point(stored, canonical) == 12


def test_chain_got_shorter() -> None:
    stored = {n: H[n] for n in range(10, 20)}
    canonical: dict[int, str | None] = {n: H[n] if n <= 15 else None for n in range(10, 20)}
    assert fork_point(stored, canonical) == 15
    del canonical[19]  # a missing height counts as "no block there"
    assert fork_point(stored, canonical) == 15


def test_window_exhausted_is_fatal() -> None:
    stored = {n: H[n] for n in range(10, 20)}
    with pytest.raises(ReorgTooDeep) as caught:
        fork_point(stored, {n: R[n] for n in range(10, 20)})
    assert caught.value.lowest == 10


def test_gaps_in_the_remembered_hashes() -> None:
    """After catching up, the oldest remembered hash may stand alone far below the window."""
    stored = {3: H[3], **{n: H[n] for n in range(10, 20)}}
    assert fork_point(stored, {3: H[3], **{n: R[n] for n in range(10, 20)}}) == 3


def test_an_inconsistent_answer_forks_below_the_lowest_change() -> None:
    """Hashes commit to their ancestors, so a change at 12 means 13 and up changed too, whatever a
    node answered for them."""
    stored = {n: H[n] for n in range(10, 20)}
    assert fork_point(stored, {**stored, 12: R[12]}) == 11


@given(
    length=st.integers(2, 60),
    shared=st.integers(0, 59),
    kept=st.integers(1, 60),
    growth=st.integers(-10, 10),
)
def test_fork_point_of_any_simulated_reorg(length: int, shared: int, kept: int, growth: int) -> None:
    shared = min(shared, length - 1)  # the last block both chains share
    old = [H[n] for n in range(length)]
    new = old[: shared + 1] + [R[n] for n in range(shared + 1, max(shared + 1, length + growth))]
    stored = {n: old[n] for n in range(max(0, length - kept), length)}
    canonical = {n: new[n] if n < len(new) else None for n in stored}
    if shared == length - 1:
        assert fork_point(stored, canonical) is None
    elif min(stored) > shared:
        with pytest.raises(ReorgTooDeep):
            fork_point(stored, canonical)
    else:
        assert fork_point(stored, canonical) == shared


# --- pure: finality, spans, linkage -----------------------------------------------------------


@pytest.mark.parametrize(
    ("block", "canonical", "head", "confirmations", "expected"),
    [
        (10, H[10], 10, 3, None),  # just seen
        (10, H[10], 12, 3, None),  # two on top
        (10, H[10], 13, 3, True),  # three on top
        (10, R[10], 13, 3, False),  # replaced by another block
        (10, R[10], 10, 3, False),  # reorged out before its confirmations
        (10, None, 9, 3, False),  # the chain got shorter
        (10, H[10], 10, 0, True),  # BFT registry chain: final when seen
        (10, R[10], 10, 0, False),
    ],
)
def test_is_final(block: int, canonical: str | None, head: int, confirmations: int, expected: bool | None) -> None:
    assert is_final(block, H[block], canonical, head, confirmations) is expected


def test_next_span() -> None:
    assert next_span(11, 10, 2000, 67) is None  # caught up
    assert next_span(11, 11, 2000, 67) == Span(11, 11, 11)
    assert next_span(1, 100, 2000, 67) == Span(1, 100, 34)  # keeps the window's hashes only
    assert next_span(1, 10_000, 2000, 67) == Span(1, 2000, 2000)  # far behind: keeps the new cursor's
    assert next_span(9900, 10_000, 2000, 67) == Span(9900, 10_000, 9934)
    assert next_span(0, 5, 2, 67) == Span(0, 1, 0)
    assert window(3) == 67
    with pytest.raises(ValueError, match="at least 1"):
        next_span(0, 5, 0, 67)


def test_linked_headers() -> None:
    chain = [Header(n, H[n], H[n - 1]) for n in range(5, 9)]
    assert linked(chain, H[4])
    assert linked(chain, None)
    assert linked([], H[4])
    assert not linked(chain, R[4])  # the cursor's block was replaced
    assert not linked([*chain[:2], Header(7, H[7], R[6]), chain[3]], None)  # mixed forks
    assert not linked([chain[0], chain[2]], None)  # a gap
