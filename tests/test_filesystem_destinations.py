"""dlt's filesystem destination into a local folder, as plain Parquet files and as Delta tables.

What each format does with the source's tables (see pipelines/destination/lake.py and "What
works where" in docs/warehouses.md): Delta upserts every merged table and supports
reconciliation; plain Parquet appends every load; neither has `insight_history` as validity
intervals. The files are read back with pyarrow and deltalake and compared with the simulator's
ground truth, or with the same load into DuckDB.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from pipelines.destination import lake as lake_module
from sources.opencx import opencx
from sources.opencx.repair import dedupe_after_resumed_load
from sources.opencx_simulator import Simulator
from tests.cron_support import cli_env, only_line, run_cli
from tests.helpers import Workspace, expected_entities, insight_requests
from tests.lake_support import (
    Lake,
    change_what_only_a_reconciliation_sees,
    insight_rows,
    public,
    source_arguments,
    truth,
)

pytestmark = pytest.mark.clock

ENTITY_KEYS = {"categories": "id", "teams": "id", "people": "person_key"}
ACTIVITY_KEY = ("window_start", "insight_id")


@pytest.fixture
def parquet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Lake:
    return Lake(tmp_path, monkeypatch, "parquet")


@pytest.fixture
def delta(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Lake:
    return Lake(tmp_path, monkeypatch, "delta")


def load_id_of(path: Path) -> float:
    """dlt names each file `<load_id>.<file_id>.parquet`, the load id being a timestamp."""
    seconds, fraction = path.name.split(".")[:2]
    return float(f"{seconds}.{fraction}")


def entities(lake: Lake) -> dict[str, dict[str, dict[str, Any]]]:
    return {
        table: {row[key]: row for row in lake.rows(table)} for table, key in ENTITY_KEYS.items()
    }


def activity_rows(rows: list[dict[str, Any]]) -> set[tuple[Any, ...]]:
    return {tuple(sorted(row.items())) for row in rows}


# ---------------------------------------------------------------- plain Parquet


def test_parquet_files_hold_every_source_row(parquet: Lake, sim: Simulator) -> None:
    parquet.load(sim)

    stored = dict(insight_rows(parquet.rows("insights")))
    assert stored == truth(sim)
    assert entities(parquet) == expected_entities(sim.store.ground_truth())
    for table in ("insights", "categories", "teams", "people", "insight_history"):
        files = list((parquet.dataset_dir / table).iterdir())
        assert files, table
        assert all(f.suffix == ".parquet" for f in files), table


def test_parquet_appends_each_load_and_its_latest_rows_are_the_source(
    parquet: Lake, sim: Simulator
) -> None:
    """dlt 1.31 has no merge on plain files: every load adds a file with the rows it read."""
    parquet.load(sim)
    sim.clock.advance(hours=1)
    bumped = sim.store.bump_counts(5, rng_seed=3)
    added = sim.store.add_insight(sessions=2)

    parquet.load(sim)

    files = sorted(parquet.parquet_files("insights"), key=load_id_of)
    assert len(files) == 2
    first, second = (dict(insight_rows(pq.read_table(f).to_pylist())) for f in files)
    assert set(second) == {*bumped, added}
    assert {**first, **second} == truth(sim)


def test_parquet_history_is_a_log_of_versions_without_validity(
    parquet: Lake, sim: Simulator
) -> None:
    """scd2 needs a merge: on plain files each load appends the versions it read, and the
    load is told by the file's name (its load id), as there are no validity columns."""
    parquet.load(sim)
    sim.clock.advance(hours=1)
    sim.store.bump_counts(4, rng_seed=5)
    parquet.load(sim)

    history = parquet.rows("insight_history")
    assert len(history) == len(sim.store.ground_truth()) + 4
    assert "valid_from" not in history[0]
    assert "valid_to" not in history[0]
    files = sorted(parquet.parquet_files("insight_history"), key=load_id_of)
    assert [pq.read_metadata(f).num_rows for f in files] == [len(history) - 4, 4]


def test_parquet_activity_equals_the_duckdb_load(
    parquet: Lake, ws: Workspace, sim: Simulator
) -> None:
    parquet.load(sim, activity=True)
    ws.load(sim, activity=True)

    stored = parquet.rows("insight_activity")
    assert stored
    assert activity_rows(stored) == activity_rows(public(ws.rows("insight_activity")))


# ---------------------------------------------------------------- Delta


def test_delta_tables_hold_every_source_row(delta: Lake, sim: Simulator) -> None:
    stats = delta.load(sim)

    assert dict(insight_rows(delta.rows("insights"))) == truth(sim)
    assert entities(delta) == expected_entities(sim.store.ground_truth())
    assert (delta.dataset_dir / "insights" / "_delta_log").is_dir()
    assert lake_module.NO_HISTORY_ON_DELTA in stats.notes
    assert not (delta.dataset_dir / "insight_history").exists()


def test_delta_merges_upsert_one_row_per_insight_with_the_new_values(
    delta: Lake, sim: Simulator
) -> None:
    delta.load(sim)
    sim.clock.advance(hours=1)
    sim.store.bump_counts(6, rng_seed=4)
    sim.store.add_insight(sessions=3)
    delta.load(sim)

    rows = delta.rows("insights")
    assert len(rows) == len({r["id"] for r in rows})
    assert dict(insight_rows(rows)) == truth(sim)


def test_delta_reconciliation_merges_changes_and_marks_deletions(
    delta: Lake, sim: Simulator
) -> None:
    delta.load(sim)
    changed = change_what_only_a_reconciliation_sees(sim)

    stats = delta.load(sim, full_refresh=True)

    stored = dict(insight_rows(delta.rows("insights")))
    assert stats.deleted == len(changed["deleted"])
    assert {i for i, row in stored.items() if row["deleted_at"] is not None} == set(
        changed["deleted"]
    )
    live = {i: row for i, row in stored.items() if row["deleted_at"] is None}
    assert live == truth(sim)
    assert entities(delta) == expected_entities(sim.store.ground_truth())


def test_delta_reconciliation_twice_marks_nothing_the_second_time(
    delta: Lake, sim: Simulator
) -> None:
    """Deleted rows are read back from Delta as deleted, so they are not asked about again."""
    delta.load(sim)
    victims = sim.store.insight_ids()[:2]
    for insight_id in victims:
        sim.store.delete(insight_id)
    delta.load(sim, full_refresh=True)
    gets_before = sum(1 for r in sim.requests if r.method == "GET")

    stats = delta.load(sim, full_refresh=True)

    assert stats.deleted == 0
    assert stats.missing == 0
    assert sum(1 for r in sim.requests if r.method == "GET") == gets_before


def test_a_first_run_reconciliation_into_delta_loads_everything(
    delta: Lake, sim: Simulator
) -> None:
    stats = delta.load(sim, full_refresh=True)

    assert stats.deleted == 0
    assert dict(insight_rows(delta.rows("insights"))) == truth(sim)


def test_delta_activity_upserts_one_row_per_window_and_insight_like_duckdb(
    delta: Lake, ws: Workspace, sim: Simulator
) -> None:
    for _ in range(2):
        delta.load(sim, activity=True)
        ws.load(sim, activity=True)
        sim.clock.advance(hours=30)
        sim.store.bump_counts(8, rng_seed=6)

    stored = delta.rows("insight_activity")
    keys = [tuple(row[k] for k in ACTIVITY_KEY) for row in stored]
    assert len(keys) == len(set(keys))
    assert activity_rows(stored) == activity_rows(public(ws.rows("insight_activity")))


# ---------------------------------------------------------------- crash repair


def written_state(lake: Lake) -> object:
    """What a replayed job changes: the Delta table's version, or the Parquet files' mtimes."""
    if lake.table_format == "delta":
        return DeltaTable(str(lake.dataset_dir / "insights")).version()
    return [(f.name, f.stat().st_mtime_ns) for f in lake.parquet_files("insights")]


@pytest.mark.parametrize("table_format", ["parquet", "delta"])
def test_a_load_replayed_after_a_crash_leaves_no_duplicates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sim: Simulator, table_format: str
) -> None:
    """A run killed after its files were written but before dlt recorded the jobs as done
    replays them on the next run; on files that must change nothing."""
    lake = Lake(tmp_path, monkeypatch, table_format)
    pipeline = lake.pipeline()
    source = opencx(**source_arguments(sim))
    pipeline.extract(
        lake_module.for_files(source, lake_module.table_format_of(pipeline.destination), [])
    )
    pipeline.normalize()
    (load_id,) = pipeline.list_normalized_load_packages()
    package = Path(pipeline.working_dir) / "load" / "normalized" / load_id
    saved = tmp_path / "saved_package"
    shutil.copytree(package, saved)
    pipeline.load()
    written = written_state(lake)
    # as if the process died after writing the files, before dlt moved the package on
    shutil.rmtree(package.parent.parent / "loaded" / load_id)
    shutil.copytree(saved, package)
    assert lake.pipeline().has_pending_data

    lake.load(sim)  # the command's path: finish the package, repair, then load what is new

    assert written_state(lake) != written, "the package was not replayed"
    rows = lake.rows("insights")
    assert len(rows) == len(sim.store.ground_truth())
    assert dict(insight_rows(rows)) == truth(sim)
    assert dedupe_after_resumed_load(lake.pipeline()) == {}


# ---------------------------------------------------------------- the command


@pytest.mark.parametrize("table_format", ["parquet", "delta"])
def test_the_command_loads_into_a_local_folder_with_configuration_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sim: Simulator, table_format: str
) -> None:
    lake = Lake(tmp_path, monkeypatch, table_format)
    env = lake.command_env(tmp_path)
    args = ("--base-url", sim.base_url, "--destination", "filesystem")

    first = run_cli(env, *args)

    assert first.returncode == 0, first.stderr
    assert first.stderr == ""
    kind = "Delta tables" if table_format == "delta" else "Parquet files"
    assert first.stdout.startswith(f"loaded into filesystem ({kind}), dataset opencx")
    assert dict(insight_rows(lake.rows("insights"))) == truth(sim)
    assert not (tmp_path / "cli.duckdb").exists()

    deleted = sim.store.insight_ids()[3]
    sim.store.delete(deleted)
    sim.store.resolve(sim.store.insight_ids()[4])
    second = run_cli(env, *args, "--full-refresh")
    if table_format == "parquet":
        assert second.returncode == 2, second.stderr
        assert 'table_format = "delta"' in only_line(second.stderr)
        return
    assert second.returncode == 0, second.stderr
    assert second.stderr == ""
    stored = dict(insight_rows(lake.rows("insights")))
    assert stored.pop(deleted)["deleted_at"] is not None
    assert stored == truth(sim)


def test_an_unsupported_table_format_is_refused_before_any_request(
    tmp_path: Path, sim: Simulator
) -> None:
    env = cli_env(
        tmp_path,
        DESTINATION__FILESYSTEM__BUCKET_URL=str(tmp_path / "lake"),
        DESTINATION__FILESYSTEM__TABLE_FORMAT="iceberg",
    )

    result = run_cli(env, "--base-url", sim.base_url, "--destination", "filesystem")

    assert result.returncode == 2, result.stderr
    line = only_line(result.stderr)
    assert "DESTINATION__FILESYSTEM__TABLE_FORMAT" in line
    assert "iceberg" in line
    assert insight_requests(sim) == []
    assert not (tmp_path / "lake").exists()
