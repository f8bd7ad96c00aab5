"""Every table of the data dictionary exists after the first successful load, with its
documented columns and types, even when the tenant gives it no row: a dashboard, a dbt source or
a BI model that reads a missing table fails, while an empty one shows nothing."""

from __future__ import annotations

import pytest

from sources.opencx import schema
from sources.opencx_simulator import Simulator
from tests.conftest import SimFactory
from tests.helpers import Workspace, insight_requests

pytestmark = [pytest.mark.warehouses, pytest.mark.clock]

# information_schema's names of the documented dlt types, per warehouse
TYPE_NAMES = {
    "duckdb": {
        schema.TEXT: "VARCHAR",
        schema.BIGINT: "BIGINT",
        schema.TIMESTAMP: "TIMESTAMP WITH TIME ZONE",
    },
    "postgres": {
        schema.TEXT: "character varying",
        schema.BIGINT: "bigint",
        schema.TIMESTAMP: "timestamp with time zone",
    },
}


def documented_types(ws: Workspace, table: str) -> dict[str, str]:
    names = TYPE_NAMES[ws.warehouse.name]
    return {column.name: names[column.data_type] for column in schema.TABLE_COLUMNS[table]}


def loaded_types(ws: Workspace, table: str) -> dict[str, str]:
    rows = ws.query(
        "SELECT column_name, data_type FROM information_schema.columns "
        f"WHERE table_schema = 'opencx' AND table_name = '{table}'"
    )
    return dict(rows)


def assert_every_documented_table_exists(ws: Workspace) -> None:
    for table in schema.TABLE_COLUMNS:
        expected = documented_types(ws, table)
        actual = loaded_types(ws, table)
        assert {name: actual.get(name) for name in expected} == expected, table


def test_a_tenant_without_insights_gets_every_table_empty(
    ws: Workspace, make_sim: SimFactory
) -> None:
    sim = make_sim(n_insights=0)
    ws.load(sim, activity=True)
    assert_every_documented_table_exists(ws)
    assert {table: ws.count(table) for table in schema.TABLE_COLUMNS} == dict.fromkeys(
        schema.TABLE_COLUMNS, 0
    )


def test_activity_without_sessions_in_its_windows_still_creates_the_table(
    ws: Workspace, make_sim: SimFactory
) -> None:
    sim = make_sim()
    sim.clock.advance(days=400)  # every session now lies far before the windows read
    ws.load(sim, activity=True, activity_initial_days=2)
    assert ws.count("insights") > 0
    assert ws.count("insight_activity") == 0
    assert_every_documented_table_exists(ws)


def test_activity_off_creates_its_table_empty_and_reads_no_window(
    ws: Workspace, sim: Simulator
) -> None:
    ws.load(sim)
    assert_every_documented_table_exists(ws)
    assert ws.count("insight_activity") == 0
    assert not [r for r in insight_requests(sim) if "sessionToDate" in r.body]


def test_turning_activity_on_later_loads_into_the_empty_table(
    ws: Workspace, make_sim: SimFactory
) -> None:
    sim = make_sim(window_scoped_counts=True)
    ws.load(sim)
    ws.load(sim, activity=True, activity_initial_days=10)
    assert ws.count("insight_activity") > 0


def test_the_empty_tables_are_sent_once_per_pipeline(ws: Workspace, sim: Simulator) -> None:
    ws.load(sim)
    ws.load(sim)  # nothing new: no load package at all
    assert ws.query("SELECT COUNT(*) FROM _dlt_loads")[0][0] == 1
