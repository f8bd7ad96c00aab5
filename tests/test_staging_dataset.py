"""After a run, BI tools and dbt find the dataset and nothing beside it.

dlt merges through a staging dataset (`opencx_staging`) and keeps it, holding a copy of every
merged table, in the catalog readers list; the connector drops it once the run's loads
completed (`pipelines.destination.staging`). Checked in the database's own catalog
(`information_schema`), after a first run and after runs whose merges needed staging again;
a run with nothing new must not touch the destination for it. What a kill between the load and
the drop leaves is in tests/reliability/test_kill_points.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from dlt import Pipeline

from pipelines.destination.staging import owed_mark
from sources.opencx import schema
from sources.opencx_simulator import Simulator
from tests.helpers import Workspace, expected_insight, loaded_insights, merged_tables
from tests.reliability.test_kill_points import mutate_for_incremental
from tests.warehouses import rows_beside_the_dataset, schemas_beside_the_dataset

pytestmark = pytest.mark.warehouses
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
