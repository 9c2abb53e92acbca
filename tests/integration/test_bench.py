"""`dari bench`: the arithmetic over a run's timestamps, and one small run end to end (its shape; the
numbers themselves are for `make bench`, never for a test)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from relayer.devtools.bench.stats import RelayTimings, percentile, time_in_states

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def at(ms: float) -> datetime:
    return T0 + timedelta(milliseconds=ms)


def test_percentile_is_the_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 99), percentile(values, 100)) == (50, 99, 100)
    assert percentile([7.0], 99) == 7
    assert percentile([3.0, 1.0, 2.0], 0) == 1
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)
    with pytest.raises(ValueError, match="outside"):
        percentile([1.0], 101)


def test_relay_timings_span_the_run_and_each_transfer() -> None:
    timings = RelayTimings([at(0), at(100), at(200)], [at(1000), at(1500), at(3200)])
    assert timings.seconds == 3.2  # first finalized to last confirmed
    assert timings.rate == pytest.approx(3 / 3.2)
    assert timings.latency_ms() == {"p50": 1400.0, "p99": 3000.0}
    with pytest.raises(ValueError, match="one finalized and one confirmed"):
        RelayTimings([at(0)], [])


def test_time_in_states_is_the_median_per_state_left() -> None:
    histories = [
        [(at(0), "observed"), (at(10), "finalized"), (at(30), "approved")],
        [(at(0), "observed"), (at(30), "finalized"), (at(40), "approved")],
        [(at(0), "observed"), (at(20), "finalized")],
    ]
    assert time_in_states(histories) == {"observed": 20.0, "finalized": 10.0}


@pytest.mark.integration
def test_a_small_run_prints_and_writes_the_spec_fields(tmp_path: Path, pg_admin: str) -> None:
    """SPEC section 10: the fields, a relay and a raw rate, latencies, RSS, PostgreSQL, the ed25519 rates."""
    output = tmp_path / "results.json"
    command = [sys.executable, "-m", "relayer", "bench", "--transfers", "30", "--iterations", "1000",
               "--postgres", pg_admin, "--dir", str(tmp_path / "devnet"), "--output", str(output)]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    printed = json.loads(result.stdout)
    assert printed == json.loads(output.read_text())
    assert printed["transfers"] == 30 and printed["database"] == "postgresql"
    assert printed["relay_tps"] > 0 and printed["raw_tps"] > 0
    assert printed["ratio"] == pytest.approx(printed["relay_tps"] / printed["raw_tps"], rel=0.01)
    assert 0 < printed["latency_ms"]["p50"] <= printed["latency_ms"]["p99"]
    assert printed["relayer_peak_rss_mb"] > 0
    assert set(printed["attest"]) == {
        "sign_per_s", "verify_per_s", "raw_sign_per_s", "raw_verify_per_s", "attestation_verify_per_s"
    }  # fmt: skip
    assert all(value > 0 for value in printed["attest"].values())
