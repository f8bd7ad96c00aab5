"""One run at a time per pipeline: cron starts the next run whether or not the last one ended.

Both runs are real processes against the simulator; the first is held at its first request by
the simulator (not by a sleep), so the second provably starts while the first is going.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import duckdb

from sources.opencx_simulator import Simulator
from tests.conftest import SimFactory
from tests.cron_support import (
    HeldRequest,
    assert_insights_match,
    cli_env,
    only_line,
    run_cli,
    run_in_process,
    start_cli,
)

LOCK_EXIT = 8


def file_refused(db: Path) -> bool:
    """Whether DuckDB refuses a reader of `db` because another process holds it."""
    try:
        duckdb.connect(str(db), read_only=True).close()
    except duckdb.IOException as exc:
        return "Could not set lock" in str(exc)
    return False


def state_file(tmp_path: Path, name: str = "opencx_insights") -> bytes | None:
    path = tmp_path / "dlt_data" / "pipelines" / name / "state.json"
    return path.read_bytes() if path.exists() else None


def test_a_second_run_while_one_is_going_exits_8_at_once_and_touches_nothing(
    tmp_path: Path, sim: Simulator
) -> None:
    env = cli_env(tmp_path)
    assert run_in_process(env, "--base-url", sim.base_url) == 0
    sim.store.bump_counts(9)
    state = state_file(tmp_path)
    held = HeldRequest(sim)
    first = start_cli(env, "--base-url", sim.base_url)
    try:
        assert held.arrived.wait(timeout=60), "the first run never reached the API"
        requests_before = len(sim.requests)

        started = time.monotonic()
        second = run_cli(env, "--base-url", sim.base_url)
        took = time.monotonic() - started

        assert second.returncode == LOCK_EXIT, second.stderr
        line = only_line(second.stderr)
        assert line.startswith("error: another run of pipeline opencx_insights is going")
        assert "opencx_insights.lock" in line
        assert second.stdout == ""
        assert first.poll() is None, "the first run must still be going"
        assert held.calls == 1  # the second run sent no request
        assert len(sim.requests) == requests_before
        # the first run holds the file to its end, so the second could not have written it
        assert file_refused(tmp_path / "cli.duckdb")
        assert state_file(tmp_path) == state
        assert took < 30
    finally:
        held.release.set()
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert "loaded into" in out
    assert_insights_match(tmp_path / "cli.duckdb", sim)


def test_the_demo_and_the_scheduled_pipeline_do_not_lock_each_other(
    tmp_path: Path, sim: Simulator
) -> None:
    env = cli_env(tmp_path)
    held = HeldRequest(sim)
    first = start_cli(env, "--base-url", sim.base_url)
    try:
        assert held.arrived.wait(timeout=60)
        demo = run_cli(env, "--demo", "--demo-insights", "30",
                       "--duckdb-path", str(tmp_path / "demo.duckdb"))  # fmt: skip
        assert demo.returncode == 0, demo.stderr
    finally:
        held.release.set()
    _, err = first.communicate(timeout=120)
    assert first.returncode == 0, err


def test_a_sigkilled_run_leaves_no_lock_that_blocks_the_next_run(
    tmp_path: Path, make_sim: SimFactory
) -> None:
    sim = make_sim()
    env = cli_env(tmp_path)
    held = HeldRequest(sim)
    first = start_cli(env, "--base-url", sim.base_url)
    try:
        assert held.arrived.wait(timeout=60)
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=30)
    finally:
        held.release.set()
    lock = tmp_path / "dlt_data" / "pipelines" / "opencx_insights.lock"
    assert lock.exists()  # the file stays; the kernel dropped the lock with the process

    sim.on_request = None
    result = run_cli(env, "--base-url", sim.base_url)

    assert result.returncode == 0, result.stderr
    assert_insights_match(tmp_path / "cli.duckdb", sim)
