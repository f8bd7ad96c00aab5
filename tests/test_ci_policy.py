"""In CI a skipped test fails, so a part CI lacks cannot pass unseen; locally it still skips.

Each test runs pytest on a probe module that skips in every way the suite does (a skip inside
the test or its fixture, a skipif marker, a module skipped whole), with tests/ci_policy.py
loaded as conftest loads it, once with CI set and once without.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import ci_policy

ROOT = Path(__file__).resolve().parent.parent
PROBE = """
import pytest

from tests import ci_policy

@pytest.fixture
def browser():
    pytest.skip("no browser on this machine")

def test_runs():
    pass

def test_skips_in_its_body():
    pytest.skip("no server on this machine")

def test_skips_in_a_fixture(browser):
    pass

@pytest.mark.skipif(True, reason="no venv on this machine")
def test_skipped_by_a_marker():
    pass

@pytest.mark.xfail(reason="a known defect", strict=True)
def test_expected_to_fail():
    assert False
"""
PROBE_SKIPPED_WHOLE = 'import pytest\n\npytest.importorskip("opencx_no_such_module")\n'
SKIP_REASONS = ("no server on this machine", "no browser on this machine",
                "no venv on this machine", "could not import 'opencx_no_such_module'")  # fmt: skip


def run_probe(tmp_path: Path, *, ci: str | None, workers: str = "0") -> str:
    (tmp_path / "test_probe.py").write_text(PROBE)
    (tmp_path / "test_probe_skipped_whole.py").write_text(PROBE_SKIPPED_WHOLE)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("CI", None)
    if ci is not None:
        env["CI"] = ci
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.ci_policy", "-p", "no:cacheprovider",
         "-n", workers, "-rA", "--continue-on-collection-errors", "--rootdir", str(tmp_path),
         str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    return f"exit {result.returncode}\n{result.stdout}{result.stderr}"


@pytest.mark.parametrize("workers", ["0", "2"])
def test_with_ci_set_every_skip_fails_the_run_with_its_reason(tmp_path: Path, workers: str) -> None:
    output = run_probe(tmp_path, ci="true", workers=workers)

    assert output.startswith("exit 1\n"), output
    assert "1 failed, 1 passed, 1 xfailed, 3 errors" in output, output
    assert "skipped" not in output.splitlines()[-1], output
    for reason in SKIP_REASONS:
        assert f"skipped, and CI (CI set) runs every test: {reason}" in output, output


def test_without_ci_a_machine_lacking_a_part_skips_its_tests(tmp_path: Path) -> None:
    output = run_probe(tmp_path, ci=None)

    assert output.startswith("exit 0\n"), output
    assert "1 passed, 4 skipped, 1 xfailed" in output, output


def test_the_suite_runs_under_the_policy(pytestconfig: pytest.Config) -> None:
    """tests/conftest.py registers the plugin for every run of the suite."""
    assert pytestconfig.pluginmanager.is_registered(ci_policy)
