"""Running the scheduled command the way cron does, for the DuckDB file and reader tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sources.opencx.clock import NOW_VARIABLE
from sources.opencx_simulator import Simulator
from tests.helpers import TEST_KEY

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "pipelines" / "insights.py"
PIPELINE_NAME = "opencx_insights"


def cli_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A user's shell: no dlt or OpenCX settings but `extra`, dlt's data dir under `tmp_path`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SOURCES__", "DESTINATION__", "DLT_"))
    }
    env.update(
        {
            "DLT_DATA_DIR": str(tmp_path / "dlt_data"),
            "RUNTIME__DLTHUB_TELEMETRY": "false",
            "RUNTIME__LOG_LEVEL": "WARNING",
            **extra,
        }
    )
    return env


def run_cli(
    env: dict[str, str], sim: Simulator, *args: str, cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    """`python pipelines/insights.py` against the simulator, with the test key and no pacing."""
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--base-url", sim.base_url, *args],
        env={
            **env,
            "SOURCES__OPENCX__API_KEY": TEST_KEY,
            "SOURCES__OPENCX__REQUESTS_PER_MINUTE": "0",
            "SOURCES__OPENCX__BACKOFF_BASE_SECONDS": "0.01",
            NOW_VARIABLE: sim.clock.now().isoformat(),  # one clock for API and connector
        },
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def pipeline_dir(tmp_path: Path, name: str = PIPELINE_NAME) -> Path:
    """dlt's working dir of pipeline `name` under the `cli_env` data dir."""
    return tmp_path / "dlt_data" / "pipelines" / name
