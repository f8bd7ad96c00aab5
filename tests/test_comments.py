"""Every table, view and column in the dataset carries its description as a database comment
(`\\d+` in psql, `duckdb_columns()` in DuckDB), the same text as `sources/opencx/schema.py`,
`sources/opencx/views.py` and, for dlt's own tables, dlt's schema give it."""

from __future__ import annotations

import pytest
from dlt.common.schema.utils import loads_table, pipeline_state_table, version_table

from pipelines.load import runner
from sources.opencx import schema, views
from sources.opencx_simulator import Simulator
from tests.conftest import SimFactory
from tests.helpers import Workspace
from tests.warehouses import Warehouse

pytestmark = [pytest.mark.warehouses, pytest.mark.clock]

ACTIVITY = {"activity": True, "activity_initial_days": 10}
DLT_TABLES = {
    str(t.get("name")): t for t in (loads_table(), version_table(), pipeline_state_table(True))
}

RELATION_COMMENTS = {
    "duckdb": "SELECT table_name, comment FROM duckdb_tables() "
    "WHERE schema_name = 'opencx' AND database_name = current_database() "
    "UNION ALL SELECT view_name, comment FROM duckdb_views() "
    "WHERE schema_name = 'opencx' AND database_name = current_database()",
    "postgres": "SELECT c.relname, obj_description(c.oid, 'pg_class') FROM pg_class c "
    "JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = 'opencx' AND c.relkind IN ('r', 'v')",
}
COLUMN_COMMENTS = {
    "duckdb": "SELECT table_name, column_name, comment FROM duckdb_columns() "
    "WHERE schema_name = 'opencx' AND database_name = current_database()",
    "postgres": "SELECT c.relname, a.attname, col_description(c.oid, a.attnum) FROM pg_class c "
    "JOIN pg_namespace n ON n.oid = c.relnamespace "
    "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
    "WHERE n.nspname = 'opencx' AND c.relkind IN ('r', 'v')",
}


def relation_comments(warehouse: Warehouse) -> dict[str, str | None]:
    return dict(warehouse.execute(RELATION_COMMENTS[warehouse.name])[1])


def column_comments(warehouse: Warehouse) -> dict[tuple[str, str], str | None]:
    rows = warehouse.execute(COLUMN_COMMENTS[warehouse.name])[1]
    return {(table, column): comment for table, column, comment in rows}


def expected_relation_comments() -> dict[str, str]:
    """Every table and view of the dataset with its documented description."""
    return {
        **schema.TABLE_DESCRIPTIONS,
        **{view.name: view.meaning for view in views.VIEWS},
        **{name: str(table.get("description")) for name, table in DLT_TABLES.items()},
    }


def expected_column_comment(table: str, column: str) -> str | None:
    """What the documented definitions say of `column` of `table` (a table or a view)."""
    if table in schema.TABLE_COLUMNS:
        documented = {c.name: c.description for c in schema.described_columns(table)}
        return documented.get(column, schema.UNDOCUMENTED_FIELD_DESCRIPTION)
    if table in views.VIEW_NAMES:
        view = next(v for v in views.VIEWS if v.name == table)
        return {c.name: c.description for c in view.columns}.get(column)
    if table in DLT_TABLES:
        return DLT_TABLES[table]["columns"][column].get("description")
    return None


def assert_every_table_and_column_described(warehouse: Warehouse) -> None:
    assert relation_comments(warehouse) == expected_relation_comments()
    for (table, column), comment in column_comments(warehouse).items():
        expected = expected_column_comment(table, column)
        assert expected, f"{table}.{column} has no documented description"
        assert comment == expected, f"{table}.{column}"


def test_every_table_view_and_column_has_its_description_as_comment(
    ws: Workspace, make_sim: SimFactory
) -> None:
    sim = make_sim(window_scoped_counts=True, extra_fields=True)
    ws.load(sim, **ACTIVITY)
    columns = column_comments(ws.warehouse)
    assert (schema.INSIGHTS, schema.LOAD_ID) in columns
    assert any(
        table == schema.INSIGHTS and column not in dict(expected_insight_columns())
        for table, column in columns
    ), "the simulator's extra fields give `insights` undocumented columns"
    assert_every_table_and_column_described(ws.warehouse)

    for run in (2, 3):  # the third with the same schema as the second (the first appended)
        sim.clock.advance(hours=1)
        sim.store.bump_counts(5, rng_seed=run)
        ws.load(sim, **ACTIVITY)  # the views are replaced: DuckDB drops their comments
        assert_every_table_and_column_described(ws.warehouse)


def test_a_table_that_gains_a_column_has_it_described_after_the_run(
    ws: Workspace, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as before_the_column:
        before_the_column.setenv("NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_LOAD_ID", "false")
        ws.load(sim)
    assert (schema.INSIGHTS, schema.LOAD_ID) not in column_comments(ws.warehouse)

    sim.clock.advance(hours=1)
    sim.store.bump_counts(5, rng_seed=4)
    ws.load(sim)
    assert (
        column_comments(ws.warehouse)[(schema.INSIGHTS, schema.LOAD_ID)]
        == schema.LOAD_ID_COLUMN.description
    )
    assert_every_table_and_column_described(ws.warehouse)


def test_a_dataset_no_run_has_described_gets_its_comments_on_a_run_with_nothing_new(
    ws: Workspace, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as earlier_release:
        earlier_release.setattr(runner, "comment_dataset", lambda *_a, **_k: "")
        ws.load(sim)
    assert not any(relation_comments(ws.warehouse).values())

    ws.load(sim)  # nothing new
    assert_every_table_and_column_described(ws.warehouse)


def test_a_run_with_nothing_new_sends_no_comment(ws: Workspace, sim: Simulator) -> None:
    ws.load(sim)
    with ws.pipeline().sql_client() as client:
        table = client.make_qualified_table_name(schema.INSIGHTS)
        client.execute_sql(f"COMMENT ON TABLE {table} IS 'set by hand'")

    ws.load(sim)  # nothing new: the comments are as the last run left them
    assert relation_comments(ws.warehouse)[schema.INSIGHTS] == "set by hand"


def expected_insight_columns() -> list[tuple[str, str]]:
    return [(c.name, c.description) for c in schema.described_columns(schema.INSIGHTS)]
