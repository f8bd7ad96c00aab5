"""`--dry-run` says what the next run would do and touches nothing: no request, no write."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from sources.opencx.clock import format_timestamp
from sources.opencx_simulator import Simulator
from tests.cron_support import cli_env, only_line, run_cli, run_in_process
from tests.helpers import TEST_KEY, ts

pytestmark = pytest.mark.clock

STATE = Path("dlt_data", "pipelines", "opencx_insights", "state.json")


def newest_last_seen(sim: Simulator) -> datetime:
    seen = [ts(item["last_seen_at"]) for item in sim.store.ground_truth()]
    return max(moment for moment in seen if moment is not None)


def test_dry_run_after_a_load_prints_the_plan_and_requests_and_writes_nothing(
    tmp_path: Path, sim: Simulator
) -> None:
    env = cli_env(tmp_path)
    assert run_in_process(env, "--base-url", sim.base_url) == 0
    db, state = tmp_path / "cli.duckdb", tmp_path / STATE
    before = (db.read_bytes(), state.read_bytes(), sorted(tmp_path.rglob("*")))
    sim.clear_requests()

    result = run_cli(env, "--base-url", sim.base_url, "--dry-run", "--status", "all")

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert sim.requests == []
    assert (db.read_bytes(), state.read_bytes(), sorted(tmp_path.rglob("*"))) == before
    cursor = newest_last_seen(sim)
    out = result.stdout
    assert "mode: scheduled incremental" in out
    assert "sort: last_seen_at desc" in out
    assert f"cursor last_seen_at: {format_timestamp(cursor)}" in out
    assert f"below {format_timestamp(cursor - timedelta(hours=24))}" in out
    assert f"destination: duckdb {db}, dataset opencx" in out
    assert "pipeline opencx_insights" in out
    assert 'filters: {"status": "all"}' in out
    assert "key configured" in out
    assert TEST_KEY not in out


def test_dry_run_of_a_reconciliation_says_every_page_is_read_and_the_count_is_unknown(
    tmp_path: Path, sim: Simulator
) -> None:
    env = cli_env(tmp_path)
    assert run_in_process(env, "--base-url", sim.base_url) == 0
    sim.clear_requests()
    result = run_cli(env, "--base-url", sim.base_url, "--dry-run", "--full-refresh")
    assert result.returncode == 0, result.stderr
    assert "mode: reconciliation" in result.stdout
    assert "sort: created_at asc" in result.stdout
    assert "pages: all of them, unknown without a request" in result.stdout
    assert sim.requests == []


def test_dry_run_without_local_state_says_the_run_would_restore_it_and_creates_nothing(
    tmp_path: Path, sim: Simulator
) -> None:
    result = run_cli(cli_env(tmp_path), "--base-url", sim.base_url, "--dry-run", "--activity")
    assert result.returncode == 0, result.stderr
    assert "mode: first run: full scan" in result.stdout
    assert "no local state; the run would first restore it from the destination" in result.stdout
    assert "activity: 30 windows of 24 h" in result.stdout
    assert sim.requests == []
    assert not (tmp_path / "cli.duckdb").exists()
    assert not (tmp_path / "dlt_data" / "pipelines").exists()


def test_dry_run_of_a_backfill_keeps_the_cursor_and_stops_at_since(
    tmp_path: Path, sim: Simulator
) -> None:
    env = cli_env(tmp_path)
    result = run_cli(env, "--base-url", sim.base_url, "--dry-run", "--since", "2026-11-01")
    assert result.returncode == 0, result.stderr
    assert (
        "mode: backfill of insights last seen in [2026-11-01T00:00:00.000Z, now)" in result.stdout
    )
    assert "below 2026-11-01T00:00:00.000Z" in result.stdout
    assert sim.requests == []


def test_dry_run_still_refuses_a_bad_setting_in_one_line(tmp_path: Path, sim: Simulator) -> None:
    result = run_cli(cli_env(tmp_path), "--base-url", sim.base_url, "--dry-run",
                     "--sentiment", "furious")  # fmt: skip
    assert result.returncode == 2
    assert "sources.opencx.sentiment" in only_line(result.stderr)
    assert sim.requests == []
