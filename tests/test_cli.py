"""The scheduled command: one line and a non-zero exit for every user-caused failure, and a
summary on success. (A SIGKILLed run that the next run repairs: tests/reliability/
test_kill_points.py kills it at every stage, and tests/test_cron_runs.py reruns it as a process.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sources.opencx_simulator import Simulator
from tests.cron_support import db_snapshot, run_in_process
from tests.helpers import SCOPELESS_KEY, TEST_KEY

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "pipelines" / "insights.py"


def cli_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SOURCES__", "DESTINATION__", "DLT_"))
    }
    env.update(
        {
            "DLT_DATA_DIR": str(tmp_path / "dlt_data"),
            "DESTINATION__DUCKDB__CREDENTIALS": str(tmp_path / "cli.duckdb"),
            "SOURCES__OPENCX__API_KEY": TEST_KEY,
            "SOURCES__OPENCX__REQUESTS_PER_MINUTE": "0",
            "SOURCES__OPENCX__BACKOFF_BASE_SECONDS": "0.01",
            "SOURCES__OPENCX__MAX_ATTEMPTS": "3",
            **extra,
        }
    )
    return env


def run_cli(
    env: dict[str, str], *args: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        env=env,
        cwd=cwd or ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def state_file(tmp_path: Path) -> bytes | None:
    path = tmp_path / "dlt_data" / "pipelines" / "opencx_insights" / "state.json"
    return path.read_bytes() if path.exists() else None


def assert_one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode != 0
    lines = [
        line
        for line in result.stderr.splitlines()
        if line.strip()
        and not line.startswith(("Resources:", "Memory usage", "CPU usage", "------"))
    ]
    error_lines = [line for line in lines if line.startswith("error: ")]
    assert len(error_lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in error_lines[0]
    assert TEST_KEY not in result.stderr + result.stdout


def test_help_works_without_credentials(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    del env["SOURCES__OPENCX__API_KEY"]
    result = run_cli(env, "--help")
    assert result.returncode == 0
    assert "--full-refresh" in result.stdout
    assert "--ticket-custom-data" in result.stdout


def test_missing_key_is_one_line(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    del env["SOURCES__OPENCX__API_KEY"]
    result = run_cli(env, "--base-url", "http://127.0.0.1:9")
    assert_one_line_error(result, "sources.opencx.api_key", "SOURCES__OPENCX__API_KEY")


def test_successful_run_prints_a_summary(tmp_path: Path, sim: Simulator) -> None:
    result = run_cli(cli_env(tmp_path), "--base-url", sim.base_url, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    total = len(sim.store.ground_truth())
    assert f"insights {total}" in result.stdout
    assert "requests:" in result.stdout
    assert "cursor last_seen_at: none ->" in result.stdout
    assert TEST_KEY not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("case", "needles", "code"),
    [
        pytest.param(
            "bad-filter",
            ("sources.opencx.sentiment", "angry, happy, neutral"),
            2,
            id="bad-filter-value",
        ),
        pytest.param(
            "bad-date", ("sources.opencx.session_from_date", "ISO 8601"), 2, id="bad-date"
        ),
        pytest.param("401", ("401", "sources.opencx.api_key"), 3, id="unauthorized"),
        pytest.param("403", ("403", "insights:read"), 3, id="forbidden"),
        pytest.param(
            "unreachable", ("cannot reach", "sources.opencx.base_url"), 4, id="unreachable"
        ),
    ],
)
def test_failures_are_one_line_and_leave_db_and_state_unchanged(
    tmp_path: Path, sim: Simulator, case: str, needles: tuple[str, ...], code: int
) -> None:
    env = cli_env(tmp_path)
    assert run_in_process(env, "--base-url", sim.base_url) == 0
    db, state = db_snapshot(tmp_path / "cli.duckdb"), state_file(tmp_path)
    sim.store.bump_counts(5)
    args = ["--base-url", sim.base_url]
    if case == "bad-filter":
        args += ["--sentiment", "furious"]
    elif case == "bad-date":
        args += ["--session-from-date", "last tuesday"]
    elif case == "401":
        env["SOURCES__OPENCX__API_KEY"] = "ocx_live_revoked"
    elif case == "403":
        env["SOURCES__OPENCX__API_KEY"] = SCOPELESS_KEY
    else:
        args = ["--base-url", "http://127.0.0.1:9"]
    sim.clear_requests()
    result = run_cli(env, *args)
    assert_one_line_error(result, *needles)
    assert result.returncode == code
    assert db_snapshot(tmp_path / "cli.duckdb") == db
    assert state_file(tmp_path) == state
    if case.startswith("bad"):
        assert sim.requests == []


def test_demo_loads_the_simulator_into_its_own_database(tmp_path: Path) -> None:
    demo_db = tmp_path / "demo.duckdb"
    env = cli_env(tmp_path)
    del env["SOURCES__OPENCX__API_KEY"]
    result = run_cli(env, "--demo", "--demo-insights", "300", "--duckdb-path", str(demo_db))
    assert result.returncode == 0, result.stderr
    assert "insights 300" in result.stdout
    snapshot = db_snapshot(demo_db)
    assert snapshot is not None
    assert len(snapshot["insights"]) == 300


def test_duckdb_file_named_like_the_dataset_is_refused_in_one_line(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    result = run_cli(env, "--duckdb-path", str(tmp_path / "opencx.duckdb"))
    assert_one_line_error(result, "opencx.duckdb", "--duckdb-path")
    assert result.returncode == 2
