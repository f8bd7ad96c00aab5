"""The dbt package (dbt/opencx_insights) builds, tests and checks freshness in a real dbt.

dbt pins python-dateutil and pathspec below the dev lock, so `scripts/dbt_check.sh` builds its
own venv (.venv-dbt, from requirements-dbt.lock and PyPI) and checks the package there, on
DuckDB and on PostgreSQL freshly loaded from the simulator by the connector: `dbt build` and
`dbt source freshness` pass, every model returns the rows of the connector's view of the same
name, and planted defects (a duplicated id, a dangling category, loads two days old) fail them.
That takes minutes, so it runs when OPENCX_DBT_TEST=1 or in CI (CI set); in CI it never skips,
whatever goes wrong fails the test.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.ci_policy import ci_requested

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "dbt_check.sh"
# a cold build (no package cache) plus the checks, with room for a busy 2-core machine
TIMEOUT_S = 1200


def dbt_check_requested() -> bool:
    """OPENCX_DBT_TEST=1, or CI."""
    return os.environ.get("OPENCX_DBT_TEST") == "1" or ci_requested()


@pytest.mark.slow
def test_dbt_builds_tests_and_checks_freshness_on_duckdb_and_postgres() -> None:
    if not dbt_check_requested():
        pytest.skip(
            "the dbt check needs its own venv built from PyPI (minutes): "
            "set OPENCX_DBT_TEST=1 or run `bash scripts/dbt_check.sh` (CI always runs it)"
        )
    result = subprocess.run(
        ["bash", str(SCRIPT)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    output = result.stdout[-6000:] + result.stderr[-6000:]
    assert result.returncode == 0, output
    assert "dbt check: all checks passed" in result.stdout, output
