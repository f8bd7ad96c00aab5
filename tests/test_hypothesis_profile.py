"""CI runs hypothesis derandomized: the same examples every run, so a red build reproduces.

`.ci/run` runs `make test` with CI=true; the profile is chosen in `tests/conftest.py` from that
variable. The in-process test checks whichever mode this run is in; the subprocess test runs it
again with CI=true, so a local run also proves what CI will select.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from hypothesis import settings

from tests.ci_policy import ci_requested
from tests.conftest import CI_PROFILE

ROOT = Path(__file__).resolve().parent.parent


def test_loaded_profile_is_the_derandomized_ci_profile_exactly_when_ci_is_set() -> None:
    current = settings()
    if ci_requested():
        assert settings.get_current_profile_name() == CI_PROFILE
        assert current.derandomize
        assert current.database is None
        assert current.print_blob
    else:
        assert settings.get_current_profile_name() == "default"
        assert not current.derandomize


def test_a_run_with_ci_set_selects_the_ci_profile() -> None:
    env = {**os.environ, "CI": "true"}
    this = f"{Path(__file__).relative_to(ROOT)}::"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n0",  # one test: no workers
         this + "test_loaded_profile_is_the_derandomized_ci_profile_exactly_when_ci_is_set"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
    assert f"hypothesis profile: {CI_PROFILE}" in result.stdout
