"""Pure arithmetic over the timestamps a benchmark run collects."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of ``values`` by the nearest-rank method."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} outside 0..100")
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class RelayTimings:
    """When each transfer's bridge-out was final and when its mint was confirmed."""

    finalized: Sequence[datetime]
    confirmed: Sequence[datetime]

    def __post_init__(self) -> None:
        if not self.finalized or len(self.finalized) != len(self.confirmed):
            raise ValueError("one finalized and one confirmed time per transfer, at least one transfer")

    @property
    def seconds(self) -> float:
        """From the first finalized bridge-out to the last confirmed mint."""
        return (max(self.confirmed) - min(self.finalized)).total_seconds()

    @property
    def rate(self) -> float:
        """Transfers per second over `seconds`."""
        return len(self.finalized) / self.seconds

    def latency_ms(self) -> dict[str, float]:
        """p50 and p99 of confirmed minus finalized, in milliseconds."""
        latencies = [(c - f).total_seconds() * 1000 for f, c in zip(self.finalized, self.confirmed, strict=True)]
        return {"p50": round(percentile(latencies, 50), 1), "p99": round(percentile(latencies, 99), 1)}


def time_in_states(histories: Iterable[Sequence[tuple[datetime, str]]]) -> dict[str, float]:
    """Median milliseconds an operation spent in each state it left, from each operation's history of
    (entered at, state) in order; shows which pipeline stage the time goes to."""
    spent: dict[str, list[float]] = {}
    for history in histories:
        for (entered, state), (left, _) in itertools.pairwise(history):
            spent.setdefault(state, []).append((left - entered).total_seconds() * 1000)
    return {state: round(percentile(ms, 50), 1) for state, ms in spent.items()}
