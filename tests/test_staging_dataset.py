"""After a run, BI tools and dbt find the dataset and nothing beside it.

dlt merges through a staging dataset (`opencx_staging`) and keeps it, holding a copy of every
merged table, in the catalog readers list; the connector drops it once the run's loads
completed (`pipelines.destination.staging`). Checked in the database's own catalog
(`information_schema`), after a first run and after runs whose merges needed staging again;
a run with nothing new must not touch the destination for it; a drop the database refuses is a
note, not a failed run. What a kill between the load and the drop leaves is in
tests/reliability/test_kill_points.py.
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import duckdb
import psycopg2
import pytest
from dlt import Pipeline

from pipelines.destination.staging import owed_mark
from sources.opencx import schema
from sources.opencx_simulator import Simulator
from tests.helpers import Workspace, expected_insight, loaded_insights, merged_tables
from tests.postgres_server import PostgresServer
from tests.reliability.test_kill_points import mutate_for_incremental
from tests.warehouses import (
    DATASET,
    DuckDBWarehouse,
    PostgresWarehouse,
    Warehouse,
    rows_beside_the_dataset,
    schemas_beside_the_dataset,
)

pytestmark = pytest.mark.warehouses
STAGING = f"{DATASET}_staging"
ENTITIES = {schema.CATEGORIES, schema.TEAMS, schema.PEOPLE, schema.ACTIVITY}


def assert_only_the_dataset(ws: Workspace) -> None:
    assert rows_beside_the_dataset(ws.warehouse) == {}
    assert schemas_beside_the_dataset(ws.warehouse) == set()


def test_no_schema_but_the_dataset_holds_tables_after_a_first_and_later_merging_runs(
    ws: Workspace, sim: Simulator
) -> None:
    ws.load(sim, activity=True)
    assert merged_tables(ws.pipeline()) >= ENTITIES, "a first load merges the entities"
    assert_only_the_dataset(ws)

    for run in range(2):  # the staging dataset is created again by each run that merges
        mutate_for_incremental(sim)
        ws.load(sim, activity=True)
        assert schema.INSIGHTS in merged_tables(ws.pipeline()), f"run {run + 2} merged insights"
        assert_only_the_dataset(ws)
        truth = {item["id"]: expected_insight(item) for item in sim.store.ground_truth()}
        assert loaded_insights(ws) == truth, f"after run {run + 2}"
    assert not owed_mark(ws.pipeline()).exists(), "nothing is owed after a completed run"


def test_a_run_with_nothing_new_opens_no_sql_client_for_the_staging_dataset(
    ws: Workspace, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws.load(sim)
    loads = ws.count("_dlt_loads")

    def never(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("a run with nothing new opened the destination's SQL client")

    with monkeypatch.context() as patch:
        patch.setattr(Pipeline, "sql_client", never)
        ws.load(sim)

    assert ws.count("_dlt_loads") == loads, "the second run had nothing new to load"
    assert not owed_mark(ws.pipeline()).exists()
    assert_only_the_dataset(ws)


def leave_a_staging_copy(warehouse: Warehouse) -> None:
    """A staging dataset holding a copy, as a run killed between its load and the drop left."""
    statements = (
        f"CREATE SCHEMA {STAGING}",
        f"CREATE TABLE {STAGING}.categories AS SELECT * FROM {DATASET}.categories",
    )
    if isinstance(warehouse, PostgresWarehouse):
        with contextlib.closing(psycopg2.connect(warehouse.dsn)) as connection, connection:
            for statement in statements:
                connection.cursor().execute(statement)
        return
    assert isinstance(warehouse, DuckDBWarehouse)
    with duckdb.connect(str(warehouse.path)) as duck:
        for statement in statements:
            duck.execute(statement)


def test_a_fresh_working_folder_drops_a_staging_dataset_it_did_not_know_of(
    ws: Workspace, sim: Simulator
) -> None:
    """What a killed run left, seen by a machine without its folder (a stateless worker, a
    folder dropped after a killed first run): the first run there drops it, even with nothing
    new to load. The kill sweep over "the run after a killed first run" found this."""
    ws.load(sim)
    leave_a_staging_copy(ws.warehouse)
    assert schemas_beside_the_dataset(ws.warehouse) == {STAGING}
    loads = ws.count("_dlt_loads")
    shutil.rmtree(ws.pipelines_dir)

    ws.load(sim)

    assert ws.count("_dlt_loads") == loads, "the run had nothing new to load"
    assert_only_the_dataset(ws)


def test_a_staging_dataset_the_database_will_not_drop_is_a_note_and_the_load_stands(
    tmp_path: Path, sim: Simulator, postgres_server: PostgresServer
) -> None:
    """A reader's open transaction on a staging table keeps PostgreSQL from dropping the schema
    (here within the database's `lock_timeout`): the run that loaded still succeeds, says so in
    a note, and the next run that loads drops it."""
    dsn = postgres_server.create_database()
    try:
        ws = Workspace(tmp_path, PostgresWarehouse(dsn))
        with contextlib.closing(psycopg2.connect(dsn)) as reader:
            reader.autocommit = True
            cursor = reader.cursor()
            database = urlsplit(dsn).path.lstrip("/")
            cursor.execute(f"ALTER DATABASE \"{database}\" SET lock_timeout = '200ms'")
            cursor.execute(f"CREATE SCHEMA {STAGING}")
            cursor.execute(f"CREATE TABLE {STAGING}.read_by_a_bi_tool (x int)")
            reader.autocommit = False
            cursor.execute(f"SELECT * FROM {STAGING}.read_by_a_bi_tool")  # held until rollback

            stats = ws.load_with_stats(sim)

            reader.rollback()
        assert [note for note in stats.notes if f"staging dataset {STAGING} not dropped" in note]
        assert ws.count(schema.INSIGHTS) == len(sim.store.ground_truth()), "the load stands"
        assert schemas_beside_the_dataset(ws.warehouse) == {STAGING}

        mutate_for_incremental(sim)
        ws.load(sim)
        assert_only_the_dataset(ws)
    finally:
        postgres_server.drop_database(dsn)
