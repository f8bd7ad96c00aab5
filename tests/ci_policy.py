"""In CI every test runs: there a skipped test is reported as a failed one, with its reason.

A part of the machine the tests need (PostgreSQL, Chromium, the DuckDB 1.4 environment, the
Airflow venv) that CI lacks would otherwise leave CI green with those tests unrun. `.ci/run`
installs every such part and sets CI. Locally (CI unset) a machine may lack a part, and its
tests skip, saying how to get it. An expected failure (xfail) is not a skip and is left alone.

A plugin module of its own (tests/conftest.py loads it), so a test can load it into another
pytest run (`-p tests.ci_policy`).
"""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest


def ci_requested() -> bool:
    """CI sets CI (`.ci/run` exports CI=true); any non-empty value counts."""
    return bool(os.environ.get("CI"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport() -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A test skipped in its body fails in CI; one skipped in setup (a fixture, a skip/skipif
    marker) errors."""
    report = yield
    if ci_requested() and report.skipped and not hasattr(report, "wasxfail"):
        fail_instead_of_skipping(report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report() -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    """A module skipped whole (`pytest.importorskip`, `allow_module_level`) errors in CI."""
    report = yield
    if ci_requested() and report.skipped:
        fail_instead_of_skipping(report)
    return report


def fail_instead_of_skipping(report: pytest.TestReport | pytest.CollectReport) -> None:
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
    reason = str(reason).removeprefix("Skipped: ")
    report.outcome = "failed"
    report.longrepr = f"skipped, and CI (CI set) runs every test: {reason}"
