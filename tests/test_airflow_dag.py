"""The Airflow DAGs (dags/opencx_insights.py) load and run the pipeline in a real Airflow 3.

Airflow's pins conflict with the main venv's, so `scripts/airflow_check.sh` builds its own venv
(.venv-airflow, from requirements-airflow.lock and PyPI) and checks the DAGs there: DagBag
without import errors, schedules, pool, backfill windows, and `airflow dags test` runs against
the simulator into DuckDB. That takes minutes, so it runs when OPENCX_AIRFLOW_TEST=1 or in CI
(CI set); in CI it never skips, whatever goes wrong fails the test.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.ci_policy import ci_requested

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "airflow_check.sh"
# a cold build (no package cache) plus the checks, with room for a busy 2-core machine
TIMEOUT_S = 1500


def airflow_check_requested() -> bool:
    """OPENCX_AIRFLOW_TEST=1, or CI."""
    return os.environ.get("OPENCX_AIRFLOW_TEST") == "1" or ci_requested()


@pytest.mark.slow
def test_dags_import_and_load_the_simulator_into_duckdb_in_airflow_3() -> None:
    if not airflow_check_requested():
        pytest.skip(
            "Airflow 3 check needs its own venv built from PyPI (minutes): "
            "set OPENCX_AIRFLOW_TEST=1 or run `bash scripts/airflow_check.sh` (CI always runs it)"
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
    assert "airflow check: all checks passed" in result.stdout, output
