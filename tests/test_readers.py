"""The loaded data opens in the tools users read it with: dlt's own dataset reader (`.arrow()`,
`.df()`, SQL, `row_counts()`), `dlt.attach(...)` in a notebook or another process, from the
project or anywhere, and relative DuckDB paths land in the project whatever the working
directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import dlt
import pytest

from sources.opencx.internals import DUCKDB_FILE_STATE_KEY
from sources.opencx_simulator import Simulator
from tests.duckdb_support import PIPELINE_NAME, ROOT, SCRIPT, pipeline_dir, run_cli
from tests.duckdb_support import cli_env as clean_env
from tests.helpers import Workspace

# the file dlt opens (and creates, empty) when it cannot tell which file a pipeline loaded
STRAY_NAME = f"{PIPELINE_NAME}.duckdb"

READ_IN_ANOTHER_PROCESS = """
import json, sys
import dlt
dataset = dlt.attach(sys.argv[1]).dataset()
ids = [row[0] for row in dataset("SELECT id FROM insights ORDER BY id").fetchall()]
print(json.dumps({"ids": ids, "arrow_rows": dataset.insights.arrow().num_rows}))
"""


def load_with_cli(
    env: dict[str, str], sim: Simulator, *args: str, cwd: Path
) -> subprocess.CompletedProcess[str]:
    """`python pipelines/insights.py` as cron runs it, against the simulator; must succeed."""
    result = run_cli(env, sim, *args, cwd=cwd)
    assert result.returncode == 0, result.stderr
    return result


def read_in_another_process(env: dict[str, str], cwd: Path) -> dict[str, Any]:
    """What a notebook started in `cwd` reads through `dlt.attach("opencx_insights")`."""
    result = subprocess.run(
        [sys.executable, "-c", READ_IN_ANOTHER_PROCESS, PIPELINE_NAME],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    payload: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return payload


def truth_ids(sim: Simulator) -> list[str]:
    return sorted(item["id"] for item in sim.store.ground_truth())


def test_dataset_reads_the_loaded_insights_as_arrow_sql_rows_and_counts(
    ws: Workspace, sim: Simulator
) -> None:
    pipeline = ws.load(sim)
    dataset = pipeline.dataset()
    ids = truth_ids(sim)

    table = dataset.insights.arrow()
    assert table.num_rows == len(ids)
    assert sorted(table.column("id").to_pylist()) == ids

    rows = dataset("SELECT id, insight_number FROM insights ORDER BY id").fetchall()
    numbers = {i["id"]: i["insight_number"] for i in sim.store.ground_truth()}
    assert rows == [(i, numbers[i]) for i in ids]

    counts = dict(dataset.row_counts().fetchall())
    assert counts["insights"] == len(ids)
    assert counts["categories"] == ws.count("categories")
    assert counts["insight_history"] == len(ids)


def test_dataset_reads_the_loaded_insights_as_a_pandas_frame(ws: Workspace, sim: Simulator) -> None:
    frame = ws.load(sim).dataset().insights.df()
    assert frame is not None
    assert sorted(frame["id"]) == truth_ids(sim)
    by_id = frame.set_index("id")
    for item in sim.store.ground_truth():
        assert by_id.loc[item["id"], "occurrence_count"] == item["occurrence_count"]


def test_attach_in_a_notebook_reads_what_the_scheduled_command_loaded(
    tmp_path: Path, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "warehouse" / "insights.duckdb"
    env = clean_env(tmp_path, DESTINATION__DUCKDB__CREDENTIALS=str(db))
    load_with_cli(env, sim, cwd=ROOT)
    notebook_dir = tmp_path / "notebooks"
    notebook_dir.mkdir()
    monkeypatch.chdir(notebook_dir)

    pipeline = dlt.attach(PIPELINE_NAME, pipelines_dir=str(pipeline_dir(tmp_path).parent))
    dataset = pipeline.dataset()

    assert sorted(dataset.insights.arrow().column("id").to_pylist()) == truth_ids(sim)
    assert dict(dataset.row_counts().fetchall())["insights"] == len(truth_ids(sim))
    assert list(notebook_dir.iterdir()) == []


@pytest.mark.parametrize("reader_cwd", ["project", "elsewhere"])
def test_attach_in_another_process_finds_the_file_the_loads_wrote(
    tmp_path: Path, sim: Simulator, reader_cwd: str
) -> None:
    db = tmp_path / "warehouse" / "insights.duckdb"
    stray = ROOT / STRAY_NAME
    assert not stray.exists(), f"remove the stray {stray} first"
    load_with_cli(clean_env(tmp_path, DESTINATION__DUCKDB__CREDENTIALS=str(db)), sim, cwd=ROOT)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    cwd = ROOT if reader_cwd == "project" else elsewhere
    # a reader's shell does not carry the run's settings, only (maybe) the project dir
    reader_env = clean_env(tmp_path, DLT_PROJECT_DIR=str(ROOT))

    read = read_in_another_process(reader_env, cwd)

    assert read["ids"] == truth_ids(sim)
    assert read["arrow_rows"] == len(truth_ids(sim))
    assert not stray.exists()
    assert list(elsewhere.iterdir()) == []


def test_dlt_pipeline_info_names_the_loaded_file(tmp_path: Path, sim: Simulator) -> None:
    db = tmp_path / "warehouse" / "insights.duckdb"
    env = clean_env(tmp_path, DESTINATION__DUCKDB__CREDENTIALS=str(db))
    load_with_cli(env, sim, cwd=ROOT)
    result = subprocess.run(
        [str(Path(sys.executable).parent / "dlt"), "pipeline", PIPELINE_NAME, "info"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"{DUCKDB_FILE_STATE_KEY}: {db}" in result.stdout


def test_the_demo_records_its_own_file_apart_from_the_scheduled_one(tmp_path: Path) -> None:
    demo_db = tmp_path / "demo.duckdb"
    env = clean_env(tmp_path)
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--demo", "--demo-insights", "40",
         "--duckdb-path", str(demo_db)],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    demo = dlt.attach("opencx_insights_demo", pipelines_dir=str(pipeline_dir(tmp_path).parent))
    assert dict(demo.dataset().row_counts().fetchall())["insights"] == 40


def relative_to_project(path: Path) -> str:
    """`path` written relative to the project, as a user would in config or on the command line."""
    return os.path.relpath(path, ROOT)


@pytest.mark.parametrize("given_as", ["flag", "env"])
def test_relative_duckdb_path_resolves_against_the_project_not_the_cwd(
    tmp_path: Path, sim: Simulator, given_as: str
) -> None:
    target = tmp_path / "warehouse" / "relative.duckdb"
    relative = relative_to_project(target)
    assert not Path(relative).is_absolute()
    cwd = tmp_path / "cron_cwd"
    cwd.mkdir()
    args: tuple[str, ...] = ("--duckdb-path", relative) if given_as == "flag" else ()
    env = clean_env(tmp_path)
    if given_as == "env":
        env["DESTINATION__DUCKDB__CREDENTIALS"] = relative

    result = load_with_cli(env, sim, *args, cwd=cwd)

    assert target.exists()
    assert f"loaded into duckdb {target}," in result.stdout
    assert list(cwd.rglob("*.duckdb")) == []
    assert read_in_another_process(clean_env(tmp_path), cwd)["ids"] == truth_ids(sim)
