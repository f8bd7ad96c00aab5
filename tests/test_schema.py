"""The tables' shape is a public interface: documented columns with proper types always exist,
and what the API adds later is stored rather than dropped or fatal."""

from __future__ import annotations

import pytest

from sources.opencx import schema
from sources.opencx_simulator import Simulator
from tests.conftest import SimFactory
from tests.helpers import Workspace

pytestmark = pytest.mark.clock

EXPECTED_TYPES = {
    "insight_number": "BIGINT",
    "occurrence_count": "BIGINT",
    "last_seen_at": "TIMESTAMP WITH TIME ZONE",
    "created_at": "TIMESTAMP WITH TIME ZONE",
    "content": "VARCHAR",
}


def column_types(ws: Workspace, table: str) -> dict[str, str]:
    rows = ws.query(
        "SELECT column_name, data_type FROM information_schema.columns "
        f"WHERE table_schema = 'opencx' AND table_name = '{table}'"
    )
    return dict(rows)


def test_documented_columns_exist_with_proper_types(ws: Workspace, sim: Simulator) -> None:
    ws.load(sim, activity=True, activity_initial_days=10)
    for table, columns in schema.TABLE_COLUMNS.items():
        types = column_types(ws, table)
        assert {c.name for c in columns} <= set(types), table
    insight_types = column_types(ws, "insights")
    for name, kind in EXPECTED_TYPES.items():
        assert insight_types[name] == kind


def test_columns_that_are_always_null_still_exist(ws: Workspace, sim: Simulator) -> None:
    truth = sim.store.ground_truth()
    unresolved = [i for i in truth if not i["resolved_at"] and not i["archived_at"]]
    ws.load(sim, status="unresolved")
    assert ws.count("insights") == len(unresolved)
    types = column_types(ws, "insights")
    assert types["resolved_at"] == "TIMESTAMP WITH TIME ZONE"
    assert types["resolved_by_key"] == "VARCHAR"
    assert ws.query("SELECT COUNT(resolved_at), COUNT(archived_by_key) FROM insights")[0] == (0, 0)


def test_unknown_fields_and_enum_values_are_stored(ws: Workspace, make_sim: SimFactory) -> None:
    sim = make_sim(extra_fields=True)
    ws.load(sim)
    served = {i["id"]: i for i in sim.store.ground_truth(with_extras=True)}
    insight_cols = set(column_types(ws, "insights"))
    documented = set(sim.store.ground_truth()[0])
    extra_top = {k for item in served.values() for k in item} - documented
    assert extra_top, "the simulator should serve unknown fields"
    assert extra_top <= insight_cols
    sentiments = {row[0] for row in ws.query("SELECT DISTINCT sentiment FROM insights")}
    assert sentiments == {i["sentiment"] for i in served.values()}
    assert len(sentiments - {"angry", "happy", "neutral"}) >= 1
    extra_category = {k for i in served.values() if i["category"] for k in i["category"]} - {
        "id",
        "name",
        "description",
    }
    assert extra_category <= set(column_types(ws, "categories"))


def test_long_and_unicode_content_round_trips(ws: Workspace, make_sim: SimFactory) -> None:
    sim = make_sim(n_insights=400)
    ws.load(sim)
    truth = {i["id"]: i["content"] for i in sim.store.ground_truth()}
    loaded = dict(ws.query("SELECT id, content FROM insights"))
    assert loaded == truth
    assert max(len(c) for c in truth.values()) > 5000
    assert any(not c.isascii() for c in truth.values())
