"""Every row of every table says which load wrote it: dlt's `_dlt_load_id`, joinable to
`_dlt_loads`, on DuckDB, PostgreSQL and the files of dlt's filesystem destination. A table
loaded before the column existed gains it on the next run, without a reload.

(dbt's `source freshness` and any "loaded since" filter read it: `updated_at` is the API's
time, not the load's.)
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from sources.opencx import schema
from sources.opencx.table_hints import LOAD_ID_KEY
from sources.opencx_simulator import Simulator
from tests.conftest import SimFactory
from tests.helpers import Workspace
from tests.lake_support import Lake

pytestmark = pytest.mark.clock

LOAD_ID_OFF = {LOAD_ID_KEY.replace(".", "__").upper(): "false"}
ACTIVITY = {"activity": True, "activity_initial_days": 10}


def completed_loads(ws: Workspace) -> list[str]:
    """Load ids of the completed loads, oldest first."""
    rows = ws.query("SELECT load_id FROM _dlt_loads WHERE status = 0")
    return sorted((row[0] for row in rows), key=float)


def rows_per_load(ws: Workspace, table: str) -> dict[str | None, int]:
    """How many rows of `table` each load wrote (None: no load id)."""
    rows = ws.query(f"SELECT {schema.LOAD_ID}, COUNT(*) FROM {table} GROUP BY {schema.LOAD_ID}")
    return {load_id: int(count) for load_id, count in rows}


def rows_without_a_completed_load(ws: Workspace, table: str) -> int:
    """Rows of `table` whose `_dlt_load_id` names no completed load in `_dlt_loads`."""
    return int(
        ws.query(
            f"SELECT COUNT(*) FROM {table} t WHERE NOT EXISTS ("
            "SELECT 1 FROM _dlt_loads l "
            f"WHERE l.load_id = t.{schema.LOAD_ID} AND l.status = 0)"
        )[0][0]
    )


def load_ids_of(ws: Workspace, table: str, key: str, ids: list[str]) -> set[str]:
    quoted = ", ".join(f"'{i}'" for i in ids)
    rows = ws.query(f"SELECT {schema.LOAD_ID} FROM {table} WHERE {key} IN ({quoted})")
    return {row[0] for row in rows}


def columns_of(ws: Workspace, table: str) -> set[str]:
    rows = ws.query(
        "SELECT column_name FROM information_schema.columns "
        f"WHERE table_schema = 'opencx' AND table_name = '{table}'"
    )
    return {row[0] for row in rows}


@pytest.mark.warehouses
def test_every_row_of_every_table_names_the_completed_load_that_wrote_it(
    ws: Workspace, make_sim: SimFactory
) -> None:
    sim = make_sim(window_scoped_counts=True)
    ws.load(sim, **ACTIVITY)
    (first,) = completed_loads(ws)
    for table in schema.TABLE_COLUMNS:
        assert rows_per_load(ws, table) == {first: ws.count(table)}, table
        assert ws.count(table) > 0, table

    sim.clock.advance(hours=1)
    changed = sim.store.bump_counts(5, rng_seed=4)
    added = sim.store.add_insight(sessions=2)
    ws.load(sim, **ACTIVITY)

    second = completed_loads(ws)[-1]
    assert completed_loads(ws) == [first, second]
    for table in schema.TABLE_COLUMNS:
        assert rows_without_a_completed_load(ws, table) == 0, table
    assert load_ids_of(ws, schema.INSIGHTS, "id", [*changed, added]) == {second}
    assert set(rows_per_load(ws, schema.INSIGHTS)) == {first, second}, "untouched rows keep theirs"
    new_versions = ws.query(
        f"SELECT DISTINCT {schema.LOAD_ID} FROM insight_history "
        f"WHERE insight_id IN ({', '.join(repr(i) for i in [*changed, added])}) "
        f"AND {schema.VALID_TO} IS NULL"
    )
    assert new_versions == [(second,)]


@pytest.mark.warehouses
def test_tables_loaded_without_the_load_id_gain_it_on_the_next_run(
    ws: Workspace, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as before_the_column:
        for name, value in LOAD_ID_OFF.items():
            before_the_column.setenv(name, value)
        ws.load(sim)
    assert all(schema.LOAD_ID not in columns_of(ws, t) for t in schema.TABLE_COLUMNS)
    rows_before = ws.count(schema.INSIGHTS)

    sim.clock.advance(hours=1)
    changed = sim.store.bump_counts(5, rng_seed=4)
    ws.load(sim)

    second = completed_loads(ws)[-1]
    assert load_ids_of(ws, schema.INSIGHTS, "id", changed) == {second}
    assert rows_without_a_completed_load(ws, schema.INSIGHTS) == rows_before - len(changed)
    assert ws.count(f"insights WHERE {schema.LOAD_ID} IS NULL") == rows_before - len(changed)
    for table in schema.TABLE_COLUMNS:
        assert schema.LOAD_ID in columns_of(ws, table), table


def completed_lake_loads(lake: Lake) -> list[str]:
    """Load ids of the completed loads in the lake's `_dlt_loads` (JSON lines), oldest first."""
    loads = [
        json.loads(line)
        for path in (lake.dataset_dir / "_dlt_loads").glob("*.jsonl")
        for line in path.read_text(encoding="utf-8").splitlines()
    ]
    return sorted((load["load_id"] for load in loads if load["status"] == 0), key=float)


def test_parquet_files_carry_the_load_id_of_their_load(parquet: Lake, sim: Simulator) -> None:
    parquet.load(sim)
    sim.clock.advance(hours=1)
    sim.store.bump_counts(5, rng_seed=4)
    parquet.load(sim)

    loads = completed_lake_loads(parquet)
    assert len(loads) == 2
    for table in (schema.INSIGHTS, schema.HISTORY, schema.CATEGORIES, schema.TEAMS):
        files = parquet.parquet_files(table)
        assert {file_load_id(f) for f in files} == set(loads), table
        for file in files:
            values = set(pq.read_table(file, columns=[schema.LOAD_ID])[schema.LOAD_ID].to_pylist())
            assert values == {file_load_id(file)}, file


def test_delta_tables_carry_the_load_id_of_each_row(delta: Lake, sim: Simulator) -> None:
    delta.load(sim)
    sim.clock.advance(hours=1)
    changed = sim.store.bump_counts(5, rng_seed=4)
    delta.load(sim)

    first, second = completed_lake_loads(delta)
    by_load = {row["id"]: row[schema.LOAD_ID] for row in delta.table(schema.INSIGHTS).to_pylist()}
    assert {by_load[i] for i in changed} == {second}
    assert set(by_load.values()) == {first, second}
    for table in (schema.CATEGORIES, schema.TEAMS, schema.PEOPLE):
        values = set(delta.table(table)[schema.LOAD_ID].to_pylist())
        assert values, table
        assert values <= {first, second}, table


def file_load_id(path: Path) -> str:
    """dlt names each file `<load_id>.<file_id>.parquet`."""
    return ".".join(path.name.split(".")[:2])


@pytest.fixture
def parquet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Lake:
    return Lake(tmp_path, monkeypatch, "parquet")


@pytest.fixture
def delta(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Lake:
    return Lake(tmp_path, monkeypatch, "delta")
