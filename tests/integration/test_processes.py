"""Pid files: `down` stops what `up` started, never a process that merely reuses a recorded pid."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from relayer.devtools.devnet.processes import ProcessRecord, ProcessTable, is_alive, start_time_of


def test_spawn_record_and_stop(tmp_path: Path) -> None:
    table = ProcessTable(tmp_path / "run")
    proc = table.spawn("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"], tmp_path / "s.log")
    try:
        [record] = table.running()
        assert record.pid == proc.pid and record.name == "sleeper"
        stopped = table.stop_all(timeout=5)
        assert [r.pid for r in stopped] == [proc.pid]
        proc.wait(timeout=5)
        assert not is_alive(record)
        assert table.records() == []
    finally:
        proc.kill()


def test_term_resistant_process_is_killed(tmp_path: Path) -> None:
    table = ProcessTable(tmp_path / "run")
    code = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(60)"
    )
    log = tmp_path / "s.log"
    proc = table.spawn("stubborn", [sys.executable, "-c", code], log)
    while "ready" not in log.read_text():
        pass
    table.stop_all(timeout=0.3)
    assert proc.wait(timeout=5) == -9


def test_reused_pid_is_left_alone(tmp_path: Path) -> None:
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        started = start_time_of(bystander.pid)
        assert started is not None
        run = tmp_path / "run"
        run.mkdir()
        forged = ProcessRecord("old", bystander.pid, started - 1, ["anvil"])
        (run / "old.pid").write_text(json.dumps(forged.__dict__))
        table = ProcessTable(run)
        assert table.running() == []
        assert table.stop_all(timeout=0.5) == []
        assert bystander.poll() is None
        assert not (run / "old.pid").exists()
    finally:
        bystander.kill()
        bystander.wait()
