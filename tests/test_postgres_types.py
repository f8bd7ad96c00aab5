"""On PostgreSQL the tables get real types: timestamps with time zone, bigint counts, unbounded
strings, so BI tools see the same columns as on DuckDB (docs/data-dictionary.md, "Warehouse
differences")."""

from __future__ import annotations

import pytest

from sources.opencx import schema
from sources.opencx_simulator import Simulator
from tests.conftest import SimFactory
from tests.helpers import Workspace
from tests.warehouses import POSTGRES

pytestmark = [
    pytest.mark.parametrize("destination", [POSTGRES], indirect=True, ids=[POSTGRES]),
    pytest.mark.clock,
]

TIMESTAMPTZ = "timestamp with time zone"
# dlt's `text` is PostgreSQL's `varchar` without a length: the same type as `text` but in name
STRING = ("character varying", None)
# by the documented column's dlt data type
PG_TYPES = {
    schema.TEXT: STRING,
    schema.BIGINT: ("bigint", None),
    schema.TIMESTAMP: (TIMESTAMPTZ, None),
}


def column_types(ws: Workspace, table: str) -> dict[str, tuple[str, int | None]]:
    rows = ws.query(
        "SELECT column_name, data_type, character_maximum_length FROM information_schema.columns "
        f"WHERE table_schema = 'opencx' AND table_name = '{table}'"
    )
    return {name: (kind, length) for name, kind, length in rows}


def test_insights_timestamps_counts_and_strings_have_their_types(
    ws: Workspace, sim: Simulator
) -> None:
    ws.load(sim)
    types = column_types(ws, "insights")
    assert (
        types["last_seen_at"] == types["created_at"] == types["deleted_at"] == (TIMESTAMPTZ, None)
    )
    assert types["occurrence_count"] == types["insight_number"] == ("bigint", None)
    assert types["id"] == types["content"] == types["status"] == STRING


def test_every_documented_column_has_its_documented_type(ws: Workspace, sim: Simulator) -> None:
    ws.load(sim, activity=True, activity_initial_days=10)
    for table, columns in schema.TABLE_COLUMNS.items():
        types = column_types(ws, table)
        expected = {c.name: PG_TYPES[c.data_type] for c in columns}
        assert {name: types.get(name) for name in expected} == expected, table
    history = column_types(ws, "insight_history")
    assert history["valid_from"] == history["valid_to"] == (TIMESTAMPTZ, None)


def test_keys_are_not_null(ws: Workspace, sim: Simulator) -> None:
    ws.load(sim)
    rows = ws.query(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = 'opencx' AND is_nullable = 'NO' AND column_name NOT LIKE '\\_dlt%'"
    )
    assert {("insights", "id"), ("categories", "id"), ("teams", "id")} <= set(rows)
    assert ("people", "person_key") in set(rows)


def test_fields_the_api_adds_later_are_strings_not_jsonb(
    ws: Workspace, make_sim: SimFactory
) -> None:
    sim = make_sim(extra_fields=True)
    ws.load(sim)
    documented = {c.name for c in schema.INSIGHT_COLUMNS}
    extra = {
        name: kind
        for name, kind in column_types(ws, "insights").items()
        if name not in documented and not name.startswith("_dlt")
    }
    assert extra, "the simulator should serve unknown fields"
    assert set(extra.values()) == {STRING}
