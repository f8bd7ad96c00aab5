"""The data dictionary (docs/data-dictionary.md) is part of the interface: its queries run and
answer correctly, and every public column is documented. (The notebook's queries are checked in
tests/test_notebook_queries.py.)"""

from __future__ import annotations

import re
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from typing import Any

import duckdb

from sources.opencx import dictionary, schema
from sources.opencx_simulator import Simulator
from tests.docs_support import read_doc, section
from tests.helpers import Workspace, ts
from tests.test_history import latest_boundary

DICTIONARY = "data-dictionary"
AS_OF_LITERAL = "TIMESTAMPTZ '2026-11-01 00:00:00+00'"


def documented_query(name: str) -> str:
    match = re.search(rf"```sql\n-- query: {name}\n(.*?)```", read_doc(DICTIONARY), re.S)
    assert match, f"the data dictionary has no query {name}"
    return match.group(1)


def run_sql(ws: Workspace, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(ws.db), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        return con.execute(sql).fetchall()


COLUMN_ROW = re.compile(r"^\| `(?P<name>\w+)`(?: \(key\))? \| \w+ \| (?P<description>.*) \|$", re.M)


def documented_columns(table: str) -> dict[str, str]:
    """The column rows of `table`'s section: each column's description."""
    rows = COLUMN_ROW.finditer(section(DICTIONARY, f"`{table}`"))
    return {row["name"]: row["description"] for row in rows}


def test_every_column_is_documented_with_its_description_from_the_schema() -> None:
    for table in schema.TABLE_COLUMNS:
        expected = {c.name: c.description for c in schema.described_columns(table)}
        assert documented_columns(table) == expected, table


def test_every_table_is_documented_with_its_description_from_the_schema() -> None:
    for table, description in schema.TABLE_DESCRIPTIONS.items():
        assert description in section(DICTIONARY, f"`{table}`").split("\n\n")[0], table


def test_the_views_section_is_written_from_the_view_declarations() -> None:
    """`python -m sources.opencx.dictionary` rewrites it; an edit by hand fails here."""
    page = read_doc(DICTIONARY)
    assert dictionary.rewrite(page) == page


def test_state_as_of_query_reconstructs_each_run(ws: Workspace, sim: Simulator) -> None:
    tracked = "insight_id, status, occurrence_count, team_id, category_id, resolved_at, archived_at"
    checkpoints: list[tuple[datetime, list[tuple[Any, ...]]]] = []
    for step in range(3):
        if step == 1:
            ids = sim.store.insight_ids()
            sim.store.resolve(ids[0])
            sim.store.reassign(ids[1], None)
            sim.store.delete(ids[2])
        if step == 2:
            sim.clock.advance(hours=1)
            sim.store.bump_counts(8)
        ws.load(sim, full_refresh=step == 1)
        moment = latest_boundary(ws)  # this load's scd2 boundary: every step changes something
        assert not checkpoints or moment > checkpoints[-1][0]
        expected = ws.query(
            f"SELECT {tracked.replace('insight_id', 'id')} FROM insights "
            "WHERE deleted_at IS NULL ORDER BY id"
        )
        checkpoints.append((moment, expected))
    for moment, expected in checkpoints:
        sql = documented_query("state_as_of").replace(AS_OF_LITERAL, f"TIMESTAMPTZ '{moment}'")
        assert run_sql(ws, sql) == expected


def test_resolved_per_week_query_counts_each_resolution(ws: Workspace, sim: Simulator) -> None:
    resolutions = {(i["id"], ts(i["resolved_at"])) for i in sim.store.ground_truth()
                   if i["resolved_at"]}  # fmt: skip
    ws.load(sim)
    unresolved = [i["id"] for i in sim.store.ground_truth() if not i["resolved_at"]]
    base = datetime(2026, 10, 5, 9, tzinfo=timezone.utc)
    for n, insight_id in enumerate(unresolved[:6]):
        at = base + timedelta(days=3 * n)
        sim.store.resolve(insight_id, at=at)
        resolutions.add((insight_id, at))
    ws.load(sim, full_refresh=True)
    sim.store.unresolve(unresolved[0])
    ws.load(sim, full_refresh=True)
    again = base + timedelta(days=30)
    sim.store.resolve(unresolved[0], at=again)
    resolutions.add((unresolved[0], again))
    ws.load(sim, full_refresh=True)

    weeks: Counter[date] = Counter()
    for _, moment in resolutions:
        assert moment is not None
        day = moment.astimezone(timezone.utc).date()
        weeks[day - timedelta(days=day.weekday())] += 1
    rows = run_sql(ws, documented_query("resolved_per_week"))
    assert {row[0].date(): row[1] for row in rows} == dict(weeks)
