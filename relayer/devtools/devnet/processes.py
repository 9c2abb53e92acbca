"""Child processes recorded in pid files, so `down` stops exactly what `up` started and nothing else.

A pid file holds the pid and the kernel's start time of that process; a pid reused by another
process after a crash has another start time and is left alone.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from relayer.devtools.errors import DevnetError


@dataclass(frozen=True)
class ProcessRecord:
    """A process this devnet started."""

    name: str
    pid: int
    start_time: int
    argv: list[str]


def _proc_stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: split after its last ')'
    return raw[raw.rindex(")") + 2 :].split()


def start_time_of(pid: int) -> int | None:
    """Kernel start time (clock ticks since boot) of a live, non-zombie ``pid``; None otherwise."""
    fields = _proc_stat(pid)
    if fields is None or fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def is_alive(record: ProcessRecord) -> bool:
    """True while the recorded process (same pid, same start time) runs."""
    return start_time_of(record.pid) == record.start_time


class ProcessTable:
    """The pid files of one devnet directory (``D/run``)."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir

    def records(self) -> list[ProcessRecord]:
        """Every recorded process, alive or not."""
        found = []
        for file in sorted(self.run_dir.glob("*.pid")):
            try:
                found.append(ProcessRecord(**json.loads(file.read_text())))
            except (OSError, ValueError, TypeError) as exc:
                raise DevnetError(f"unreadable pid file {file}: {exc}") from exc
        return found

    def running(self) -> list[ProcessRecord]:
        return [r for r in self.records() if is_alive(r)]

    def spawn(
        self, name: str, argv: list[str], log_file: Path, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """Starts ``argv`` in its own session with output to ``log_file`` and records it."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        log_file.parent.mkdir(parents=True, exist_ok=True)
        with log_file.open("ab") as log:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=env,
            )
        started = start_time_of(proc.pid)
        if started is None:
            proc.wait()
            raise DevnetError(f"{name} exited at once; see {log_file}")
        record = ProcessRecord(name=name, pid=proc.pid, start_time=started, argv=argv)
        tmp = self.run_dir / f".{name}.pid.tmp"
        tmp.write_text(json.dumps(record.__dict__))
        tmp.replace(self.run_dir / f"{name}.pid")
        return proc

    def signal(self, name: str, sig: signal.Signals) -> ProcessRecord | None:
        """Sends ``sig`` to the recorded process ``name`` if it runs; returns its record."""
        record = next((r for r in self.records() if r.name == name), None)
        if record is None or not is_alive(record):
            return None
        _signal(record, sig)
        return record

    def stop_all(self, timeout: float = 10.0) -> list[ProcessRecord]:
        """SIGTERM every live recorded process, SIGKILL what outlives ``timeout``; removes the pid files."""
        records = self.records()
        live = [r for r in records if is_alive(r)]
        for record in live:
            _signal(record, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while any(is_alive(r) for r in live) and time.monotonic() < deadline:
            time.sleep(0.05)
        for record in live:
            if is_alive(record):
                _signal(record, signal.SIGKILL)
        for record in live:
            while is_alive(record):
                time.sleep(0.02)
        for file in self.run_dir.glob("*.pid"):
            file.unlink()
        return live


def _signal(record: ProcessRecord, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(record.pid, sig)
