"""A run that finds the DuckDB file held by another process, writer or reader, stops in one
line with exit status 7 before any request and changes nothing; the next run catches up. The
same conflict after the start is recognised through dlt's wrapping. Once started, a run holds
the file to its end, so a reader is refused instead of failing the run's load."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from pipelines.destination.duckdb_file import in_use_error, in_use_recognised
from pipelines.failures import DUCKDB_IN_USE_EXIT, describe_failure
from sources.opencx.errors import DuckDBFileInUseError
from sources.opencx_simulator import Simulator
from tests.duckdb_support import cli_env, pipeline_dir, run_cli
from tests.helpers import TEST_KEY, Workspace

HOLD_FILE = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == "read-only")
print("holding", flush=True)
sys.stdin.read()
"""


@contextlib.contextmanager
def held(db: Path, mode: str) -> Iterator[subprocess.Popen[str]]:
    """Another process with `db` open in `mode` until the block ends."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_FILE, str(db), mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "holding"
        yield holder
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)


def state_bytes(tmp_path: Path) -> bytes:
    return (pipeline_dir(tmp_path) / "state.json").read_bytes()


def snapshot(db: Path) -> dict[str, Any]:
    """What a reader sees: every insight's count and the number of history rows."""
    with duckdb.connect(str(db), read_only=True) as con:
        insights = con.execute("SELECT id, occurrence_count FROM opencx.insights").fetchall()
        history = con.execute("SELECT COUNT(*) FROM opencx.insight_history").fetchone()
    return {"insights": dict(insights), "history": history}


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error")]


@pytest.mark.parametrize("mode", ["read-write", "read-only"])
def test_run_while_another_process_holds_the_file_exits_7_in_one_line_and_changes_nothing(
    tmp_path: Path, sim: Simulator, mode: str
) -> None:
    db = tmp_path / "insights.duckdb"
    env = cli_env(tmp_path, DESTINATION__DUCKDB__CREDENTIALS=str(db))
    assert run_cli(env, sim).returncode == 0
    sim.clock.advance(hours=1)
    sim.store.bump_counts(5)
    before, state, requests = snapshot(db), state_bytes(tmp_path), len(sim.requests)

    with held(db, mode) as holder:
        result = run_cli(env, sim)

    assert result.returncode == DUCKDB_IN_USE_EXIT == 7, result.stderr
    assert "Traceback" not in result.stderr
    [line] = error_lines(result.stderr)
    assert result.stderr.strip().splitlines() == [line]
    assert line.startswith(f"error: the DuckDB file {db} is in use by PID {holder.pid} (")
    assert "DESTINATION__DUCKDB__CREDENTIALS" in result.stderr
    assert TEST_KEY not in result.stderr + result.stdout
    assert len(sim.requests) == requests
    assert state_bytes(tmp_path) == state
    assert snapshot(db) == before
    assert not list(pipeline_dir(tmp_path).glob("normalize/*/*"))

    caught_up = run_cli(env, sim)
    assert caught_up.returncode == 0, caught_up.stderr
    truth = {i["id"]: i["occurrence_count"] for i in sim.store.ground_truth()}
    assert snapshot(db)["insights"] == truth
    assert truth != before["insights"]


def test_lock_conflict_after_the_start_is_recognised_through_dlts_wrapping(
    ws: Workspace, sim: Simulator
) -> None:
    pipeline = ws.load(sim)
    with held(ws.db, "read-write") as holder, pytest.raises(Exception) as failure:  # noqa: PT011
        pipeline.sync_destination()

    mapped = in_use_error(failure.value)

    assert mapped is not None
    assert isinstance(mapped, DuckDBFileInUseError)
    assert mapped.exit_code == DUCKDB_IN_USE_EXIT
    assert mapped.path == str(ws.db)
    assert mapped.holder == f"PID {holder.pid} ({Path(sys.executable).resolve().name})"


def test_a_load_reports_a_lock_conflict_after_its_start_as_the_file_in_use(
    ws: Workspace, sim: Simulator
) -> None:
    pipeline = ws.load(sim)
    with (
        held(ws.db, "read-write"),
        pytest.raises(DuckDBFileInUseError) as failure,
        in_use_recognised(),
    ):
        pipeline.sync_destination()

    assert failure.value.path == str(ws.db)
    assert describe_failure(failure.value) == (str(failure.value), DUCKDB_IN_USE_EXIT)


def test_other_errors_pass_through_the_load_unchanged() -> None:
    error = RuntimeError("IO Error: disk full")
    with pytest.raises(RuntimeError) as failure, in_use_recognised():
        raise error
    assert failure.value is error


def test_other_errors_are_not_taken_for_a_file_in_use() -> None:
    assert in_use_error(RuntimeError("IO Error: disk full")) is None


def test_a_reader_that_wants_the_file_during_the_run_is_refused_and_the_run_loads_everything(
    tmp_path: Path, sim: Simulator
) -> None:
    db = tmp_path / "insights.duckdb"
    env = cli_env(tmp_path, DESTINATION__DUCKDB__CREDENTIALS=str(db))
    assert run_cli(env, sim).returncode == 0
    sim.clock.advance(hours=1)
    sim.store.bump_counts(5)
    readers: list[subprocess.CompletedProcess[str]] = []

    def open_the_file(_index: int, _body: object) -> None:
        if not readers:  # mid-extraction: the run's requests are under way
            readers.append(
                subprocess.run(
                    [sys.executable, "-c", READ_FILE, str(db)],
                    capture_output=True,
                    text=True,
                    check=False,
                    timeout=60,
                )
            )

    sim.on_request = open_the_file
    result = run_cli(env, sim)
    sim.on_request = None

    assert readers, "the run made no list request"
    assert readers[0].returncode != 0
    assert "Could not set lock on file" in readers[0].stderr
    assert result.returncode == 0, result.stderr
    truth = {i["id"]: i["occurrence_count"] for i in sim.store.ground_truth()}
    assert snapshot(db)["insights"] == truth


READ_FILE = "import sys, duckdb; duckdb.connect(sys.argv[1], read_only=True).close()"
