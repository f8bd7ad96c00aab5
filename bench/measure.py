"""Run one measured command in a fresh child process: wall time and peak RSS, with a timeout.

Peak RSS comes from two sources and the larger is reported:
- the child's own high-water mark: ``ru_maxrss`` from ``os.wait4``, exact whatever the peak's
  duration. Linux folds the forking parent's high-water mark into it (``exec`` records the
  replaced address space's peak, and the child's starts as a copy of the harness's), so it is
  the child's only when it exceeds the harness's ``VmHWM`` at the fork; otherwise the child's
  ``VmHWM``, polled every 50 ms, is taken (it misses only growth in the last poll interval);
- psutil polling of the whole process tree every 50 ms, summing RSS, in case the measured
  program runs helper processes concurrently (dlt can normalise in worker processes).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

POLL_S = 0.05


@dataclass(frozen=True)
class Measurement:
    """What one measured run produced."""

    wall_s: float
    peak_rss_mb: float
    rusage_rss_mb: float
    tree_rss_mb: float
    returncode: int
    timed_out: bool
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        """The run finished in time with exit status 0."""
        return self.returncode == 0 and not self.timed_out

    def failure(self) -> str:
        """One line saying why the run failed (empty when it did not)."""
        if self.timed_out:
            return "timed out"
        if self.returncode != 0:
            tail = (self.stderr.strip().splitlines() or ["(no stderr)"])[-1]
            return f"exit {self.returncode}: {tail[:300]}"
        return ""


def _tree_rss(proc: psutil.Process) -> int:
    total = 0
    with contextlib.suppress(psutil.Error):
        total += int(proc.memory_info().rss)
        for child in proc.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                total += int(child.memory_info().rss)
    return total


def _own_peak_kb(rusage_kb: int, harness_hwm_kb: int, polled_hwm_kb: int) -> int:
    """The child's peak: `ru_maxrss` unless it may be the harness's (see the module doc)."""
    return rusage_kb if rusage_kb > harness_hwm_kb else polled_hwm_kb


def vm_hwm_kb(pid: int) -> int:
    """The process's peak resident set (``VmHWM``) in kB; 0 once it is gone or a zombie."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def _kill_group(pid: int) -> None:
    """Kill the child's process group (it was started in its own session)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def run_measured(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    timeout_s: float,
    log_dir: Path,
) -> Measurement:
    """Start `argv`, wait for it (killing it after `timeout_s`), and measure it."""
    log_dir.mkdir(parents=True, exist_ok=True)
    out_path, err_path = log_dir / "stdout.txt", log_dir / "stderr.txt"
    waited: dict[str, Any] = {}
    harness_hwm_kb = vm_hwm_kb(os.getpid())
    polled_hwm_kb = 0
    with out_path.open("wb") as out, err_path.open("wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(
            list(argv),
            env=dict(env),
            cwd=cwd,
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

        def wait() -> None:
            _, status, usage = os.wait4(proc.pid, 0)
            waited["ended"] = time.perf_counter()
            waited["status"] = status
            waited["maxrss_kb"] = usage.ru_maxrss

        waiter = threading.Thread(target=wait, name="bench-wait4", daemon=True)
        waiter.start()
        tree_peak = 0
        timed_out = False
        try:
            ps_proc: psutil.Process | None = psutil.Process(proc.pid)
        except psutil.Error:
            ps_proc = None
        deadline = started + timeout_s
        try:
            while waiter.is_alive():
                if ps_proc is not None:
                    tree_peak = max(tree_peak, _tree_rss(ps_proc))
                    polled_hwm_kb = max(polled_hwm_kb, vm_hwm_kb(proc.pid))
                if time.perf_counter() > deadline:
                    timed_out = True
                    _kill_group(proc.pid)
                    break
                waiter.join(POLL_S)
        except BaseException:
            _kill_group(proc.pid)  # Ctrl-C does not reach a child in its own session
            waiter.join(10)
            raise
        waiter.join(30)
        # Popen must not try to reap the pid again (wait4 did it).
        proc.returncode = 0
        _kill_group(proc.pid)  # stray grandchildren, if any
    status = int(waited.get("status", -1))
    if status == -1:
        returncode = -9
    elif os.WIFEXITED(status):
        returncode = os.WEXITSTATUS(status)
    else:
        returncode = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else -1
    ended = float(waited.get("ended", time.perf_counter()))
    rusage_kb = int(waited.get("maxrss_kb", 0))
    tree_mb = tree_peak / (1024 * 1024)
    return Measurement(
        wall_s=ended - started,
        peak_rss_mb=max(_own_peak_kb(rusage_kb, harness_hwm_kb, polled_hwm_kb) / 1024, tree_mb),
        rusage_rss_mb=rusage_kb / 1024,
        tree_rss_mb=tree_mb,
        returncode=returncode,
        timed_out=timed_out,
        stdout=out_path.read_text(errors="replace"),
        stderr=err_path.read_text(errors="replace"),
    )
