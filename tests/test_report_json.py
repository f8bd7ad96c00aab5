"""`--report-json PATH`: a report equal to what the run did, written on success and on failure,
atomically, without the key."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb
import pytest

from sources.opencx_simulator import Simulator
from tests.cron_support import cli_env, only_line, run_cli, run_in_process
from tests.helpers import TEST_KEY, ts

pytestmark = pytest.mark.clock

CANARY_KEY = "ocx_live_CANARY_d41d8cd98f00b204"
TABLES = ("insights", "categories", "teams", "people", "insight_history", "insight_activity")


def read_report(path: Path) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return report


def table_counts(db: Path) -> dict[str, int]:
    with duckdb.connect(str(db), read_only=True) as con:
        existing = {row[0] for row in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'opencx'"
        ).fetchall()}  # fmt: skip
        counts = {}
        for table in TABLES:
            row = con.execute(f"SELECT COUNT(*) FROM opencx.{table}").fetchone()
            counts[table] = int(row[0]) if table in existing and row else 0
        return counts


def utc(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    assert moment.utcoffset() == timezone.utc.utcoffset(None)
    return moment


def test_report_of_a_first_load_equals_the_tables_and_the_requests_the_api_saw(
    tmp_path: Path, sim: Simulator
) -> None:
    report_path = tmp_path / "reports" / "run.json"
    report_path.parent.mkdir()
    result = run_cli(cli_env(tmp_path), "--base-url", sim.base_url, "--activity",
                     "--report-json", str(report_path))  # fmt: skip
    assert result.returncode == 0, result.stderr

    report = read_report(report_path)
    assert (report["schema"], report["outcome"], report["exit_status"]) == (
        "opencx-insights-run/1", "ok", 0)  # fmt: skip
    assert report["error"] is None
    [run] = report["runs"]
    assert run["rows"] == table_counts(tmp_path / "cli.duckdb")
    assert run["rows"]["insights"] == len(sim.store.ground_truth())
    assert run["rows"]["insight_activity"] > 0
    recorded = sim.requests
    assert run["requests"] == len(recorded)
    assert run["retries"] == run["rate_limited"] == 0
    assert run["pages"] == sum(1 for r in recorded if r.path == "/insights")
    assert (run["org"], run["pipeline"], run["destination"], run["dataset"]) == (
        None, "opencx_insights", "duckdb", "opencx")  # fmt: skip
    assert run["location"] == f"duckdb {tmp_path / 'cli.duckdb'}"
    assert run["strategy"] == "full_scan"
    assert run["cursor_before"] is None
    newest = max(t for t in (ts(i["last_seen_at"]) for i in sim.store.ground_truth()) if t)
    assert datetime.fromisoformat(run["cursor_after"]) == newest
    assert run["marked_deleted"] == 0
    assert run["deletions_withheld"] is None
    started, finished = utc(report["started_at"]), utc(report["finished_at"])
    assert started <= finished
    assert 0 < report["elapsed_seconds"] <= (finished - started).total_seconds() + 0.01
    assert sorted(p.name for p in report_path.parent.iterdir()) == ["run.json"]  # no temp file
    umask = os.umask(0o022)
    os.umask(umask)
    assert report_path.stat().st_mode & 0o777 == 0o666 & ~umask  # like any new file
    assert TEST_KEY not in report_path.read_text(encoding="utf-8")


def test_report_of_a_failed_run_has_its_error_line_and_status_and_never_the_key(
    tmp_path: Path, sim: Simulator
) -> None:
    env = cli_env(tmp_path, SOURCES__OPENCX__API_KEY=CANARY_KEY)
    report_path = tmp_path / "run.json"
    report_path.write_text("the previous run's report\n", encoding="utf-8")

    result = run_cli(env, "--base-url", sim.base_url, "--report-json", str(report_path))

    assert result.returncode == 3
    line = only_line(result.stderr)
    text = report_path.read_text(encoding="utf-8")
    assert CANARY_KEY not in text + result.stdout + result.stderr
    report = read_report(report_path)
    assert (report["outcome"], report["exit_status"]) == ("failed", 3)
    assert report["error"] == line.removeprefix("error: ")
    [run] = report["runs"]
    assert (run["outcome"], run["exit_status"], run["error"]) == ("failed", 3, report["error"])
    assert run["requests"] == len(sim.requests) == 1
    assert run["rows"] is None
    assert run["cursor_after"] is None


def test_report_of_a_reconciliation_that_withheld_deletions_says_why(
    tmp_path: Path, sim: Simulator
) -> None:
    env = cli_env(tmp_path, SOURCES__OPENCX__MAX_DELETION_CHECKS="2")
    assert run_in_process(env, "--base-url", sim.base_url) == 0
    for insight_id in sim.store.insight_ids()[:3]:
        sim.store.delete(insight_id)
    report_path = tmp_path / "run.json"

    result = run_cli(env, "--base-url", sim.base_url, "--full-refresh",
                     "--report-json", str(report_path))  # fmt: skip

    assert result.returncode == 6
    report = read_report(report_path)
    assert (report["outcome"], report["exit_status"], report["error"]) == (
        "deletions_withheld", 6, None)  # fmt: skip
    [run] = report["runs"]
    assert run["strategy"] == "reconciliation"
    assert run["marked_deleted"] == 0
    assert run["deletions_withheld"] == only_line(result.stderr).removeprefix("warning: ")
    assert run["cursor_before"] == run["cursor_after"] is not None


def test_report_in_a_missing_directory_is_refused_before_any_request(
    tmp_path: Path, sim: Simulator
) -> None:
    missing = tmp_path / "nowhere" / "run.json"
    result = run_cli(cli_env(tmp_path), "--base-url", sim.base_url, "--report-json", str(missing))
    assert result.returncode == 2
    assert "--report-json" in only_line(result.stderr)
    assert sim.requests == []
    assert not missing.parent.exists()
