"""The benchmark's peak RSS is the measured program's, never the harness's.

On Linux a child's `ru_maxrss` starts from the forking parent's high-water mark, so a harness
that once held a 1M-insight id set reported every later small program at its own size.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from bench.measure import Measurement, run_measured

HARNESS_MB = 300
BUSY = "sum(range(20_000_000))"  # a few tenths of a second of work, seen by several polls


def _measure(code: str, log_dir: Path) -> Measurement:
    return run_measured(
        [sys.executable, "-c", code],
        env=os.environ,
        cwd=log_dir.parent,
        timeout_s=60,
        log_dir=log_dir,
    )


def test_a_small_program_measured_by_a_large_harness_reports_its_own_peak(tmp_path: Path) -> None:
    held = bytearray(HARNESS_MB * 1024 * 1024)
    held[::4096] = b"\x01" * len(held[::4096])  # touch every page: resident, not just reserved
    small = _measure(BUSY, tmp_path / "small")
    assert small.ok
    assert small.rusage_rss_mb > HARNESS_MB  # the kernel's figure carries the harness's peak
    assert small.peak_rss_mb < HARNESS_MB / 3
    del held


def test_a_program_larger_than_the_harness_reports_its_exact_peak(tmp_path: Path) -> None:
    grow = f"b = bytearray(200 * 1024 * 1024)\nb[::4096] = b'\\x01' * len(b[::4096])\n{BUSY}\n"
    large = _measure(grow, tmp_path / "large")
    assert large.ok
    assert large.peak_rss_mb >= 200
