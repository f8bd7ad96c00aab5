"""Dashboard views over the loaded tables, created in the dataset after every load.

The views answer a support lead's Monday questions (what is hit most, is it growing, is the
backlog shrinking, how fast is it resolved) on the warehouse itself, so a BI tool, the notebook
and the report all read the same figures. Each view's SQL is one file in `view_sql/`, one text
for DuckDB and PostgreSQL (both read `AT TIME ZONE`, `date_trunc('week', ...)`, recursive CTEs,
`GROUPING SETS` and `percentile_cont(...) WITHIN GROUP`), and the same file is the view's model
in the dbt package. This module holds what the SQL cannot say: grain, meaning, natural key and
a description per column, from which the docs, the database comments and dbt's yml are made.

Time rules (documented in docs/data-dictionary.md, tested in tests/test_views.py):

- Days and weeks are UTC; weeks start on Monday.
- "Today" is taken from the data, not from the clock: the UTC day of the latest completed load
  (`_dlt_loads`, status 0), the *as-of day*. Complete days are the days before it: a scheduled
  run reads activity up to the end of yesterday. Opening a dashboard later does not move the
  figures; only the next load does.

A table a view reads may not exist yet (a fresh tenant, activity never loaded): the view then
reads an empty relation with the table's documented columns, so every view exists after every
load, empty rather than missing, and the next load that brings the table points it there.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlt import Pipeline
from dlt.common.destination.capabilities import DestinationCapabilitiesContext
from dlt.common.schema.typing import TColumnSchema
from dlt.destinations.exceptions import DatabaseException

from sources.opencx import schema
from sources.opencx.internals import LOADS_STATUS_COLUMN, destination_column_type, runs_sql
from sources.opencx.schema import BIGINT, DATE, DOUBLE, TEXT, Column

LOADS = "_dlt_loads"
# pipeline local-state key: digest of the views this pipeline created last (see create_views)
VIEWS_STATE_KEY = "opencx_views"
# destinations whose SQL these views are written and tested for (MotherDuck speaks DuckDB)
TESTED_DIALECTS = frozenset({"duckdb", "motherduck", "postgres"})


@dataclass(frozen=True)
class View:
    """One dashboard view: its name, grain, meaning, natural key and columns, as documented.

    The SQL is the view's file in `view_sql/`, shared with the dbt package (its models are those
    files): `{{ source('opencx', '<table>') }}` names a loaded table, `{{ ref('<view>') }}`
    another view, so there is one text per view and nothing to drift.
    """

    name: str
    grain: str
    meaning: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]

    @property
    def sql(self) -> str:
        """The view's SQL text, with its references unrendered."""
        return _sql_text(self.name)

    @property
    def references(self) -> tuple[str, ...]:
        """The tables and views the SQL reads, in order of first mention."""
        return tuple(dict.fromkeys(match.group("name") for match in _REFERENCE.finditer(self.sql)))


SQL_FOLDER = Path(__file__).with_name("view_sql")
# dbt's two reference forms, the only Jinja the SQL files use
_REFERENCE = re.compile(
    r"\{\{\s*(?:source\(\s*'opencx'\s*,\s*|ref\(\s*)'(?P<name>\w+)'\s*\)\s*\}\}"
)


@functools.cache
def _sql_text(name: str) -> str:
    return (SQL_FOLDER / f"{name}.sql").read_text(encoding="utf-8")


def _col(name: str, data_type: str, description: str, *, required: bool = False) -> Column:
    return Column(name, data_type, description, required=required)


def _from(table: str, name: str, description: str | None = None) -> Column:
    """A view column that passes a table column through: the table's description by default."""
    column = next(c for c in schema.TABLE_COLUMNS[table] if c.name == name)
    return _col(
        name, column.data_type, description or column.description, required=not column.nullable
    )


def _insight_columns(*names: str) -> tuple[Column, ...]:
    return tuple(_from(schema.INSIGHTS, name) for name in names)


_NAMED_BY = "Name of {}, null when {}."
_INSIGHT_ID = _col("insight_id", TEXT, "FK to insights.id.", required=True)
_ENRICHED_NAMES = {
    "category_name": _col("category_name", TEXT, _NAMED_BY.format("the category", "none")),
    "team_name": _col("team_name", TEXT, _NAMED_BY.format("the team", "none")),
}

AS_OF_DAY = View(
    "as_of_day",
    "one row",
    "The as-of day: the UTC day of the latest completed load (`_dlt_loads`, status 0). The views "
    "count complete days before it, so figures move when a load lands, not when a dashboard "
    "is opened.",
    (),
    (_col("as_of_day", DATE, "UTC day of the latest completed load; null before the first."),),
)

INSIGHTS_ENRICHED = View(
    "insights_enriched",
    "one row per insight not deleted",
    "Every insight still in OpenCX with its category, team and people named, for filtering "
    "and listing.",
    ("id",),
    (
        *_insight_columns(
            "id",
            "insight_number",
            "content",
            "sentiment",
            "status",
            "occurrence_count",
            "category_id",
        ),
        _ENRICHED_NAMES["category_name"],
        _from(schema.INSIGHTS, "team_id"),
        _ENRICHED_NAMES["team_name"],
        _from(schema.INSIGHTS, "resolved_by_key"),
        _col("resolved_by_name", TEXT, _NAMED_BY.format("who resolved it", "not resolved")),
        _from(schema.INSIGHTS, "resolved_at"),
        _from(schema.INSIGHTS, "archived_by_key"),
        _col("archived_by_name", TEXT, _NAMED_BY.format("who archived it", "not archived")),
        *_insight_columns(
            "archived_at",
            "archive_reason",
            "deep_research_completed_at",
            "first_seen_at",
            "last_seen_at",
            "created_at",
            "updated_at",
        ),
    ),
)

_DIMENSIONS = (
    _from(schema.INSIGHTS, "category_id"),
    _ENRICHED_NAMES["category_name"],
    _from(schema.INSIGHTS, "team_id"),
    _ENRICHED_NAMES["team_name"],
    _from(schema.INSIGHTS, "sentiment"),
)

DAILY_INSIGHT_SESSIONS = View(
    "daily_insight_sessions",
    "one row per (day, insight) with sessions that day",
    "Sessions per UTC day and insight, summed over insight_activity windows starting that day "
    "whose counts are window-scoped (count_scope = 'window'); insights not deleted.",
    ("day", "insight_id"),
    (
        _col("day", DATE, "UTC day the sessions fall on.", required=True),
        _INSIGHT_ID,
        _col("sessions", BIGINT, "Sessions of the insight that day."),
        *_DIMENSIONS,
    ),
)

_RANKING = (
    _col("rank", BIGINT, "Rank by sessions in the period, 1 first; ties share a rank."),
    _INSIGHT_ID,
    _from(schema.INSIGHTS, "insight_number"),
    _from(schema.INSIGHTS, "content"),
    _ENRICHED_NAMES["category_name"],
    _ENRICHED_NAMES["team_name"],
    _from(schema.INSIGHTS, "sentiment"),
    _from(schema.INSIGHTS, "status"),
    _col("sessions", BIGINT, "Sessions in the period."),
    _col("share_of_sessions", DOUBLE, "Share of all sessions in the period (0 to 1)."),
    _col("previous_sessions", BIGINT, "Sessions in the same number of days before the period."),
    _col("change", BIGINT, "sessions minus previous_sessions."),
    _col("change_ratio", DOUBLE, "change / previous_sessions; null when previous_sessions is 0."),
    _col("first_day", DATE, "First UTC day of the period."),
    _col("last_day", DATE, "Last UTC day of the period: the day before the as-of day."),
)

TOP_INSIGHTS = View(
    "top_insights",
    "one row per (period, insight) with sessions in the period",
    "Insights ranked by sessions in the last 7 and the last 30 complete days, with their share "
    "of all sessions and the change against the same number of days before.",
    ("period_days", "insight_id"),
    (
        _col("period_days", BIGINT, "Length of the period in days: 7 or 30.", required=True),
        *_RANKING,
    ),
)


def _top_insights(days: int) -> View:
    return View(
        f"top_insights_{days}d",
        "one row per insight with sessions in the period",
        f"Insights ranked by sessions in the last {days} complete days (ties share a rank), "
        f"with their share of all sessions and the change against the {days} days before.",
        ("insight_id",),
        _RANKING,
    )


TOP_INSIGHTS_7D = _top_insights(7)
TOP_INSIGHTS_30D = _top_insights(30)

_WEEKLY_COUNT = "Insights whose {} falls in the week."
WEEKLY_INSIGHT_FLOW = View(
    "weekly_insight_flow",
    "one row per week, from the first insight's week to the as-of week",
    "Insights created, resolved, archived and deleted in each Monday-to-Sunday UTC week, by "
    "their current timestamps (deleted insights count too); weeks without any are zeros; the "
    "last week is the running one, counted up to the as-of day.",
    ("week_start",),
    (
        _col("week_start", DATE, "Monday (UTC) the week starts on.", required=True),
        _col("created", BIGINT, _WEEKLY_COUNT.format("created_at")),
        _col("resolved", BIGINT, _WEEKLY_COUNT.format("resolved_at")),
        _col("archived", BIGINT, _WEEKLY_COUNT.format("archived_at")),
        _col("deleted", BIGINT, _WEEKLY_COUNT.format("deleted_at")),
    ),
)

DAILY_OPEN_BACKLOG = View(
    "daily_open_backlog",
    "one row per day, from the first insight's day to the as-of day",
    "Insights open at the end of each UTC day: created by then and not resolved, archived or "
    "deleted by then, as far as insight_history knows (a resolved insight reopened later counts "
    "as closed until the load that saw it reopen).",
    ("day",),
    (
        _col("day", DATE, "UTC day.", required=True),
        _col("open_insights", BIGINT, "Insights open at the end of the day."),
    ),
)

_HOURS = "{} of the hours from created_at to resolved_at (interpolated)."
RESOLUTION_TIMES = View(
    "resolution_times",
    "one row per (category, team), per category, per team, and one in total (`grouped_by`)",
    "Resolved insights (not deleted) and the median and 90th percentile of hours from "
    "created_at to resolved_at (interpolated), by category and team, by each alone and overall.",
    ("grouped_by", "category_key", "team_key"),
    (
        _col(
            "grouped_by",
            TEXT,
            "What the row groups by: 'category and team', 'category', 'team' or 'total'.",
            required=True,
        ),
        _col(
            "category_key",
            TEXT,
            "category_id; '(none)' for insights without a category, '(all)' on rows not "
            "grouped by category.",
            required=True,
        ),
        _col(
            "team_key",
            TEXT,
            "team_id; '(none)' for insights without a team, '(all)' on rows not grouped by team.",
            required=True,
        ),
        _col("category_id", TEXT, "FK to categories.id; null without a category or grouping."),
        _col("category_name", TEXT, _NAMED_BY.format("the category", "category_id is")),
        _col("team_id", TEXT, "FK to teams.id; null without a team or grouping."),
        _col("team_name", TEXT, _NAMED_BY.format("the team", "team_id is")),
        _col("resolved", BIGINT, "Resolved insights in the group."),
        _col("median_hours", DOUBLE, _HOURS.format("Median")),
        _col("p90_hours", DOUBLE, _HOURS.format("90th percentile")),
    ),
)

# in creation order: a view comes after the views it reads
VIEWS: tuple[View, ...] = (
    AS_OF_DAY,
    INSIGHTS_ENRICHED,
    DAILY_INSIGHT_SESSIONS,
    TOP_INSIGHTS,
    TOP_INSIGHTS_7D,
    TOP_INSIGHTS_30D,
    WEEKLY_INSIGHT_FLOW,
    DAILY_OPEN_BACKLOG,
    RESOLUTION_TIMES,
)
VIEW_NAMES = tuple(view.name for view in VIEWS)
# what a stub reads like when a table is missing: its documented columns (plus dlt's own)
_STUB_COLUMNS: dict[str, list[TColumnSchema]] = {
    **{table: list(schema.dlt_columns(table).values()) for table in schema.TABLE_COLUMNS},
    LOADS: [
        {"name": "inserted_at", "data_type": "timestamp", "timezone": True},
        {"name": LOADS_STATUS_COLUMN, "data_type": "bigint"},
    ],
}
_STUB_COLUMNS[schema.HISTORY] += [
    {"name": schema.VALID_FROM, "data_type": "timestamp", "timezone": True},
    {"name": schema.VALID_TO, "data_type": "timestamp", "timezone": True},
]


def create_views(
    pipeline: Pipeline, notes: list[str] | None = None, *, loaded: bool = True, where: str = ""
) -> list[str]:
    """(Re)create every view in the pipeline's dataset, in one transaction; returns their names.

    Destinations without SQL views (dlt's filesystem: Parquet or Delta files) are skipped
    silently, there is nowhere to keep a view. On SQL destinations other than DuckDB and
    PostgreSQL the SQL may not parse: a failure there is a note, not a failed load. On the
    tested ones it raises, because it is a bug.

    A run that `loaded` nothing changed no table, so views this pipeline already created with
    the same SQL in the same dataset (at `where`, e.g. the DuckDB file) are still right: they
    are left alone and the destination is not opened; an empty list is returned.
    """
    if not _keeps_views(pipeline):
        return []
    digest = _views_digest(pipeline, where)
    if not loaded and _recorded_digest(pipeline) == digest:
        return []
    name = pipeline.destination.destination_name
    try:
        created = _create(pipeline)
    except DatabaseException as exc:
        if name in TESTED_DIALECTS:
            raise
        if notes is not None:
            notes.append(f"dashboard views not created on {name}: {exc}")
        return []
    if _recorded_digest(pipeline) != digest:  # written only on change, like the DuckDB path
        pipeline.set_local_state_val(VIEWS_STATE_KEY, digest)
    return created


def _views_digest(pipeline: Pipeline, where: str) -> str:
    """What the views created last depend on: their SQL, the destination and the dataset."""
    digest = hashlib.sha256()
    for part in (pipeline.destination.destination_name, where, pipeline.dataset_name):
        digest.update(f"{part}\0".encode())
    for view in VIEWS:
        digest.update(f"{view.name}\0{view.sql}\0".encode())
    return digest.hexdigest()


def _recorded_digest(pipeline: Pipeline) -> str | None:
    """The digest recorded in the pipeline's local state (never sent to the destination)."""
    try:
        value = pipeline.get_local_state_val(VIEWS_STATE_KEY)
    except KeyError:
        return None
    return value if isinstance(value, str) else None


def _create(pipeline: Pipeline) -> list[str]:
    capabilities = pipeline.destination.capabilities()
    with pipeline.sql_client() as client:
        existing = _existing_tables(client, pipeline.dataset_name)
        names = {
            table: client.make_qualified_table_name(table)
            if table in existing
            else _stub(table, capabilities)
            for table in _STUB_COLUMNS
        }
        names.update({view: client.make_qualified_table_name(view) for view in VIEW_NAMES})
        with client.begin_transaction():
            for view in VIEWS:
                client.execute_sql(
                    f"CREATE OR REPLACE VIEW {names[view.name]} AS {render(view, names)}"
                )
    return list(VIEW_NAMES)


def render(view: View, names: Mapping[str, str]) -> str:
    """The view's SELECT with each reference replaced by the given relation name."""
    return _REFERENCE.sub(lambda match: names[match.group("name")], view.sql).strip()


def _existing_tables(client: Any, dataset: str) -> set[str]:
    literal = dataset.replace("'", "''")
    rows = client.execute_sql(
        "SELECT table_name FROM information_schema.tables "  # noqa: S608 - quoted literal
        f"WHERE table_schema = '{literal}' AND table_catalog = current_database()"
    )
    return {row[0] for row in rows or []}


def _stub(table: str, capabilities: DestinationCapabilitiesContext) -> str:
    """An empty relation with the table's columns, typed as the destination would type them.

    PostgreSQL refuses to change a view column's type on `CREATE OR REPLACE`, so the stub's
    `varchar` must be the `varchar` dlt will create, not a `text`.
    """
    columns = _STUB_COLUMNS[table]
    table_schema: Any = {"name": table, "columns": {str(c.get("name")): c for c in columns}}
    selected = ", ".join(
        f"CAST(NULL AS {destination_column_type(capabilities, column, table_schema)}) "
        f"AS {column['name']}"
        for column in columns
    )
    return f"(SELECT {selected} WHERE 1 = 0)"


def _keeps_views(pipeline: Pipeline) -> bool:
    """SQL destinations run by dlt's SQL job clients keep views; the filesystem does not."""
    return runs_sql(pipeline.destination)
