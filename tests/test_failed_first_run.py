"""A run that fails before its first load commits leaves no new DuckDB file and no pipeline folder.

After `cp .dlt/secrets.toml.example .dlt/secrets.toml` and a first run with a revoked key or no
network, the failed run used to leave an empty 12 KB database, which the report and the
notebook then read instead of the demo's. What a run creates goes when it fails before a load
completes; what existed before it (a database, a pipeline folder) is never removed.
(After a successful first load the same failures leave the data and the state unchanged:
tests/test_cli.py::test_failures_are_one_line_and_leave_db_and_state_unchanged.)
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dlt
import pytest

from pipelines.destination.duckdb_file import held_for_the_run
from pipelines.load.first_run_cleanup import undone_unless_loaded
from sources.opencx_simulator import Simulator
from tests.cron_support import (
    HeldRequest,
    assert_insights_match,
    cli_env,
    only_line,
    run_cli,
    start_cli,
)

CLOSED_PORT_URL = "http://127.0.0.1:9"
REVOKED_KEY = "ocx_live_revoked"


def leftovers(tmp_path: Path) -> dict[str, bool]:
    """Whether each thing a first run creates exists."""
    db = tmp_path / "cli.duckdb"
    return {
        "database": db.exists(),
        "wal": db.with_name(db.name + ".wal").exists(),
        "pipeline folder": (tmp_path / "dlt_data" / "pipelines" / "opencx_insights").exists(),
    }


NOTHING = {"database": False, "wal": False, "pipeline folder": False}


@pytest.mark.parametrize(
    ("failure", "status", "needle"),
    [
        pytest.param("401", 3, "401", id="key-refused-401"),
        pytest.param("unreachable", 4, "cannot reach", id="api-unreachable"),
    ],
)
def test_a_first_run_the_api_fails_leaves_no_database_and_no_pipeline_folder(
    tmp_path: Path, sim: Simulator, failure: str, status: int, needle: str
) -> None:
    env = cli_env(tmp_path)
    if failure == "401":
        env["SOURCES__OPENCX__API_KEY"] = REVOKED_KEY
        base_url = sim.base_url
    else:
        base_url = CLOSED_PORT_URL

    result = run_cli(env, "--base-url", base_url)

    assert result.returncode == status, result.stderr
    assert needle in only_line(result.stderr)
    assert leftovers(tmp_path) == NOTHING


def test_a_killed_first_run_leaves_its_files_which_a_failing_run_keeps_and_the_next_run_loads(
    tmp_path: Path, sim: Simulator
) -> None:
    env = cli_env(tmp_path)
    held = HeldRequest(sim)
    killed = start_cli(env, "--base-url", sim.base_url)
    try:
        assert held.arrived.wait(timeout=60)
        killed.send_signal(signal.SIGKILL)
        killed.communicate(timeout=30)
    finally:
        held.release.set()
    sim.on_request = None
    left = leftovers(tmp_path)
    assert left["database"]
    assert left["pipeline folder"]

    refused = run_cli({**env, "SOURCES__OPENCX__API_KEY": REVOKED_KEY}, "--base-url", sim.base_url)
    assert refused.returncode == 3, refused.stderr
    assert leftovers(tmp_path) == left  # not this run's files: none removed

    result = run_cli(env, "--base-url", sim.base_url)
    assert result.returncode == 0, result.stderr
    assert_insights_match(tmp_path / "cli.duckdb", sim)


@pytest.fixture
def new_pipeline(tmp_path: Path) -> tuple[Any, Path, Path]:
    """What `undone_unless_loaded` needs for a real dlt pipeline into a real DuckDB file."""
    pipelines_dir, database = tmp_path / "pipelines", tmp_path / "new.duckdb"

    def make() -> Any:
        return dlt.pipeline(
            pipeline_name="cleanup_test",
            pipelines_dir=str(pipelines_dir),
            destination=dlt.destinations.duckdb(credentials=str(database)),
            dataset_name="cleanup",
        )

    return make, pipelines_dir / "cleanup_test", database


def rows_of(database: Path) -> list[tuple[Any, ...]]:
    import duckdb  # noqa: PLC0415

    with duckdb.connect(str(database), read_only=True) as con:
        return con.execute("SELECT id FROM cleanup.numbers ORDER BY id").fetchall()


def test_a_failure_before_any_load_removes_the_new_database_and_pipeline_folder(
    new_pipeline: tuple[Any, Path, Path],
) -> None:
    make, working_dir, database = new_pipeline

    def failing() -> Iterator[dict[str, int]]:
        yield {"id": 1}
        raise RuntimeError("the API went away")

    with (
        pytest.raises(Exception, match="the API went away"),
        undone_unless_loaded(make, working_dir, database) as pipeline,
        held_for_the_run(pipeline),  # opens (creates) the file before extracting, as a run does
    ):
        pipeline.run(failing(), table_name="numbers")

    assert not database.exists()
    assert not working_dir.exists()


def test_a_failure_after_a_load_completed_keeps_the_new_database_and_pipeline_folder(
    new_pipeline: tuple[Any, Path, Path],
) -> None:
    make, working_dir, database = new_pipeline

    with (  # noqa: PT012 - the failure comes after the load, in the same block
        pytest.raises(RuntimeError, match="after the load"),
        undone_unless_loaded(make, working_dir, database) as pipeline,
    ):
        pipeline.run([{"id": 1}, {"id": 2}], table_name="numbers")
        raise RuntimeError("failed after the load")

    assert rows_of(database) == [(1,), (2,)]
    assert working_dir.exists()


def test_a_failure_never_removes_a_database_or_folder_that_existed_before(
    new_pipeline: tuple[Any, Path, Path],
) -> None:
    make, working_dir, database = new_pipeline
    with undone_unless_loaded(make, working_dir, database) as pipeline:
        pipeline.run([{"id": 1}], table_name="numbers")

    with (
        pytest.raises(RuntimeError, match="401"),
        undone_unless_loaded(make, working_dir, database),
    ):
        raise RuntimeError("401 before anything was extracted")

    assert rows_of(database) == [(1,)]
    assert working_dir.exists()
