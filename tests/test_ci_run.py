""".ci/run runs the demo from the plain install, then the tests in CI mode whoever calls it.

The script runs for real with `make` (and `apt-get`/`sudo`, in case this machine lacks
PostgreSQL or Chromium) replaced by stand-ins on PATH that record how they were called: the
test suite itself is not run again.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CI_RUN = ROOT / ".ci" / "run"
RECORDER = """#!/usr/bin/env bash
echo "$(basename "$0") CI=${CI-<unset>} $*" >> "$CI_RUN_CALLS"
"""


def test_ci_run_sets_ci_for_the_tests_when_its_caller_did_not(tmp_path: Path) -> None:
    stand_ins = tmp_path / "bin"
    stand_ins.mkdir()
    for name in ("make", "apt-get", "sudo"):
        (stand_ins / name).write_text(RECORDER)
        (stand_ins / name).chmod(0o755)
    calls = tmp_path / "calls"
    env = {**os.environ, "PATH": f"{stand_ins}:{os.environ['PATH']}", "CI_RUN_CALLS": str(calls)}
    env.pop("CI", None)

    result = subprocess.run(
        ["bash", str(CI_RUN)], env=env, capture_output=True, text=True, timeout=60, check=False
    )

    assert result.returncode == 0, result.stderr
    made = [line for line in calls.read_text().splitlines() if line.startswith("make ")]
    assert made == ["make CI=true demo", "make CI=true test"]
