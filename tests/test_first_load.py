"""A first load into empty tables appends `insights` and `insight_history` (no staging copy, no
merge) and leaves exactly what dlt's merge and scd2 would have left, through every later run."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import dlt
import pendulum
import pytest

from pipelines.destination import duckdb_file
from pipelines.load import first_load, runner
from sources.opencx import schema
from sources.opencx_simulator import Simulator
from tests.conftest import SimFactory
from tests.helpers import Workspace, merged_tables
from tests.reliability.test_kill_points import mutate_for_incremental

pytestmark = pytest.mark.warehouses
TABLES = (schema.INSIGHTS, schema.HISTORY, schema.CATEGORIES, schema.TEAMS, schema.PEOPLE)
VALIDITY = (schema.VALID_FROM, schema.VALID_TO)


def load_times(ws: Workspace) -> list[datetime]:
    """When each load's package was created (dlt's scd2 boundary), oldest first."""
    ids = sorted(float(row[0]) for row in ws.query("SELECT load_id FROM _dlt_loads"))
    return [pendulum.from_timestamp(load_id) for load_id in ids]


def test_a_first_load_appends_insights_and_history_without_a_staging_copy(
    ws: Workspace, sim: Simulator
) -> None:
    ws.load(sim)

    n = len(sim.store.ground_truth())
    assert ws.count(schema.INSIGHTS) == ws.count(schema.HISTORY) == n
    merged = merged_tables(ws.pipeline())
    assert schema.INSIGHTS not in merged
    assert schema.HISTORY not in merged
    assert schema.CATEGORIES in merged  # entities still merge: latest wins
    (created,) = load_times(ws)
    valid_from = ws.query(f"SELECT DISTINCT {schema.VALID_FROM} FROM insight_history")
    assert [row[0] for row in valid_from] == [created]
    assert ws.count(f"insight_history WHERE {schema.VALID_TO} IS NULL") == n


def load_ordinals(ws: Workspace) -> dict[str, int]:
    """Each load id's ordinal, oldest first: two pipelines' loads compare by their order."""
    ids = sorted((row[0] for row in ws.query("SELECT load_id FROM _dlt_loads")), key=float)
    return {load_id: index for index, load_id in enumerate(ids, start=1)}


def history_by_load(ws: Workspace) -> list[tuple[Any, ...]]:
    """History rows with validity given as the ordinal of the load that opened / closed them,
    and the load that wrote them as its ordinal."""
    ordinal = {moment: index for index, moment in enumerate(load_times(ws), start=1)}
    written_by = load_ordinals(ws)
    tracked = ", ".join(["insight_id", *schema.HISTORY_TRACKED, schema.VERSION_HASH])
    rows = ws.query(
        f"SELECT {tracked}, {schema.LOAD_ID}, {', '.join(VALIDITY)} FROM insight_history"
    )
    return sorted(
        (
            (
                *row[:-3],
                written_by[row[-3]],
                ordinal[row[-2]],
                None if row[-1] is None else ordinal[row[-1]],
            )
            for row in rows
        ),
        key=repr,
    )


def rows_by_load(ws: Workspace, table: str) -> list[str]:
    """The rows of `table`, each with the load that wrote it given as its ordinal."""
    written_by = load_ordinals(ws)
    names, rows = ws.warehouse.execute(f"SELECT * FROM {table}")
    at = names.index(schema.LOAD_ID)
    return sorted(repr((*row[:at], written_by[row[at]], *row[at + 1 :])) for row in rows)


def table_contents(ws: Workspace) -> dict[str, Any]:
    contents: dict[str, Any] = {schema.HISTORY: history_by_load(ws)}
    for table in TABLES[:1] + TABLES[2:]:
        contents[table] = rows_by_load(ws, table)
    contents["columns"] = ws.query(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'opencx' ORDER BY table_name, ordinal_position"
    )
    return contents


def resolve_archive_reassign(sim: Simulator) -> None:
    """Changes only a full scan sees (deletions aside: they are stamped with the wall clock)."""
    store = sim.store
    open_ids = [
        i["id"] for i in store.ground_truth() if not i["resolved_at"] and not i["archived_at"]
    ]
    sim.clock.advance(hours=2)
    for insight_id in open_ids[:3]:
        store.resolve(insight_id)
    store.archive(open_ids[3], reason="duplicate")
    store.reassign(open_ids[4], None)
    store.bump_counts(10, rng_seed=9)


def test_an_appended_first_load_equals_a_merged_one_through_later_runs(
    tmp_path: Path, make_sim: SimFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = make_sim(n_insights=120, page_size=9)
    appended, merged = Workspace(tmp_path / "appended"), Workspace(tmp_path / "merged")
    for run, change in enumerate((None, mutate_for_incremental, resolve_archive_reassign)):
        if change is not None:
            change(sim)
        appended.load(sim, full_refresh=run == 2)
        with monkeypatch.context() as patch:
            patch.setattr(first_load, "destination_is_empty", lambda _pipeline: False)
            merged.load(sim, full_refresh=run == 2)
        assert table_contents(appended) == table_contents(merged), f"after run {run + 1}"
    first = min(merged.pipeline().list_completed_load_packages())
    assert schema.INSIGHTS in merged_tables(merged.pipeline(), first)  # the comparison merged


def lose_the_state(ws: Workspace) -> Workspace:
    """A machine without the pipeline's state anywhere: no local state, none in the dataset.

    (As after a pipeline rename: the tables hold the old name's rows, nothing holds a cursor.)
    """
    with ws.pipeline().sql_client() as client:
        client.execute_sql("DELETE FROM _dlt_pipeline_state")
    return Workspace(ws.root / "fresh machine", ws.warehouse)


def test_a_destination_holding_rows_merges_when_the_state_is_lost(
    ws: Workspace, sim: Simulator
) -> None:
    ws.load(sim)
    sim.store.bump_counts(5, rng_seed=3)
    fresh = lose_the_state(ws)
    assert runner.cursor_value(fresh.pipeline()) is None
    assert not first_load.destination_is_empty(fresh.pipeline())

    fresh.load(sim)

    assert runner.cursor_value(fresh.pipeline()) is not None, "the run's own state, from scratch"

    n = len(sim.store.ground_truth())
    assert (
        ws.count(schema.INSIGHTS)
        == int(ws.query("SELECT COUNT(DISTINCT id) FROM insights")[0][0])
        == n
    )
    open_versions = ws.query(
        f"SELECT COUNT(*), COUNT(DISTINCT insight_id) FROM insight_history "
        f"WHERE {schema.VALID_TO} IS NULL"
    )
    assert open_versions == [(n, n)]


def test_only_a_run_without_a_cursor_asks_whether_the_destination_is_empty(
    ws: Workspace, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert first_load.destination_is_empty(ws.pipeline())
    ws.load(sim)

    def never(_pipeline: object) -> bool:
        raise AssertionError("a scheduled run queried the destination")

    monkeypatch.setattr(first_load, "destination_is_empty", never)
    sim.store.bump_counts(5, rng_seed=4)
    ws.load(sim)


def test_a_duckdb_file_not_created_yet_is_empty_without_being_opened(tmp_path: Path) -> None:
    path = tmp_path / "new.duckdb"
    pipeline = dlt.pipeline(
        "first_probe", pipelines_dir=str(tmp_path / "dlt"),
        destination=dlt.destinations.duckdb(str(path)), dataset_name="opencx",
    )  # fmt: skip
    assert duckdb_file.not_created_yet(pipeline)

    assert first_load.destination_is_empty(pipeline)
    assert not path.exists()  # neither created nor opened to answer
