"""Dashboard views over the loaded tables, created in the dataset after every load.

The views answer a support lead's Monday questions (what is hit most, is it growing, is the
backlog shrinking, how fast is it resolved) on the warehouse itself, so a BI tool, the notebook
and the report all read the same figures. The SQL is one text for DuckDB and PostgreSQL: both
read `AT TIME ZONE`, `date_trunc('week', ...)`, recursive CTEs, `GROUPING SETS` and
`percentile_cont(...) WITHIN GROUP`, so nothing is generated per dialect.

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

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dlt import Pipeline
from dlt.common.destination.capabilities import DestinationCapabilitiesContext
from dlt.common.schema.typing import TColumnSchema
from dlt.destinations.exceptions import DatabaseException

from sources.opencx import schema
from sources.opencx.internals import (
    COMPLETED_LOAD_STATUS,
    LOADS_STATUS_COLUMN,
    destination_column_type,
    runs_sql,
)

LOADS = "_dlt_loads"
# pipeline local-state key: digest of the views this pipeline created last (see create_views)
VIEWS_STATE_KEY = "opencx_views"
# destinations whose SQL these views are written and tested for (MotherDuck speaks DuckDB)
TESTED_DIALECTS = frozenset({"duckdb", "motherduck", "postgres"})


@dataclass(frozen=True)
class View:
    """One dashboard view: its name, grain and meaning (as documented) and its SQL.

    The SQL names the tables and views it reads as `{name}` placeholders.
    """

    name: str
    grain: str
    meaning: str
    sql: str


_AS_OF = f"""
    SELECT CAST(MAX(loads.inserted_at) AT TIME ZONE 'UTC' AS DATE) AS as_of_day
    FROM {{{LOADS}}} loads WHERE loads.{LOADS_STATUS_COLUMN} = {COMPLETED_LOAD_STATUS}
"""  # noqa: S608 - constants only, no user input

INSIGHTS_ENRICHED = View(
    "insights_enriched",
    "one row per insight not deleted",
    "Every insight still in OpenCX with its category, team and people named, for filtering "
    "and listing.",
    """
SELECT i.id, i.insight_number, i.content, i.sentiment, i.status, i.occurrence_count,
       i.category_id, c.name AS category_name, i.team_id, t.name AS team_name,
       i.resolved_by_key, r.name AS resolved_by_name, i.resolved_at,
       i.archived_by_key, a.name AS archived_by_name, i.archived_at, i.archive_reason,
       i.deep_research_completed_at, i.first_seen_at, i.last_seen_at, i.created_at,
       i.updated_at
FROM {insights} i
LEFT JOIN {categories} c ON c.id = i.category_id
LEFT JOIN {teams} t ON t.id = i.team_id
LEFT JOIN {people} r ON r.person_key = i.resolved_by_key
LEFT JOIN {people} a ON a.person_key = i.archived_by_key
WHERE i.deleted_at IS NULL
ORDER BY i.insight_number
""",
)

DAILY_INSIGHT_SESSIONS = View(
    "daily_insight_sessions",
    "one row per (day, insight) with sessions that day",
    "Sessions per UTC day and insight, summed over insight_activity windows starting that day "
    "whose counts are window-scoped (count_scope = 'window'); insights not deleted.",
    """
SELECT CAST(a.window_start AT TIME ZONE 'UTC' AS DATE) AS day, a.insight_id,
       CAST(SUM(a.occurrence_count) AS BIGINT) AS sessions,
       e.category_id, e.category_name, e.team_id, e.team_name, e.sentiment
FROM {insight_activity} a
JOIN {insights_enriched} e ON e.id = a.insight_id
WHERE a.count_scope = 'window'
GROUP BY CAST(a.window_start AT TIME ZONE 'UTC' AS DATE), a.insight_id,
         e.category_id, e.category_name, e.team_id, e.team_name, e.sentiment
ORDER BY day, sessions DESC, a.insight_id
""",
)


def _top_insights(days: int) -> View:
    """Ranking over the `days` complete days before the as-of day, against the `days` before."""
    return View(
        f"top_insights_{days}d",
        "one row per insight with sessions in the period",
        f"Insights ranked by sessions in the last {days} complete days (ties share a rank), "
        f"with their share of all sessions and the change against the {days} days before.",
        f"""
WITH periods AS (
    SELECT as_of_day - {days} AS first_day, as_of_day - 1 AS last_day,
           as_of_day - {2 * days} AS previous_first_day, as_of_day - {days + 1} AS previous_last_day
    FROM ({_AS_OF}) anchor
),
current_period AS (
    SELECT s.insight_id, SUM(s.sessions) AS sessions
    FROM {{daily_insight_sessions}} s JOIN periods p ON s.day BETWEEN p.first_day AND p.last_day
    GROUP BY s.insight_id
),
previous_period AS (
    SELECT s.insight_id, SUM(s.sessions) AS sessions
    FROM {{daily_insight_sessions}} s
    JOIN periods p ON s.day BETWEEN p.previous_first_day AND p.previous_last_day
    GROUP BY s.insight_id
),
total AS (SELECT SUM(sessions) AS sessions FROM current_period)
SELECT CAST(RANK() OVER (ORDER BY c.sessions DESC) AS BIGINT) AS rank,
       c.insight_id, e.insight_number, e.content, e.category_name, e.team_name, e.sentiment,
       e.status, CAST(c.sessions AS BIGINT) AS sessions,
       CAST(c.sessions AS FLOAT8) / CAST(total.sessions AS FLOAT8) AS share_of_sessions,
       CAST(COALESCE(pp.sessions, 0) AS BIGINT) AS previous_sessions,
       CAST(c.sessions - COALESCE(pp.sessions, 0) AS BIGINT) AS change,
       CASE WHEN pp.sessions > 0
            THEN CAST(c.sessions - pp.sessions AS FLOAT8) / CAST(pp.sessions AS FLOAT8)
       END AS change_ratio,
       p.first_day, p.last_day
FROM current_period c
CROSS JOIN total
CROSS JOIN periods p
JOIN {{insights_enriched}} e ON e.id = c.insight_id
LEFT JOIN previous_period pp ON pp.insight_id = c.insight_id
ORDER BY rank, e.insight_number
""",  # noqa: S608 - constants only, no user input
    )


TOP_INSIGHTS_7D = _top_insights(7)
TOP_INSIGHTS_30D = _top_insights(30)

WEEKLY_INSIGHT_FLOW = View(
    "weekly_insight_flow",
    "one row per week, from the first insight's week to the as-of week",
    "Insights created, resolved, archived and deleted in each Monday-to-Sunday UTC week, by "
    "their current timestamps (deleted insights count too); weeks without any are zeros.",
    f"""
WITH RECURSIVE bounds AS (
    SELECT CAST(date_trunc('week', MIN(i.created_at) AT TIME ZONE 'UTC') AS DATE) AS first_week,
           CAST(date_trunc('week', CAST(MAX(anchor.as_of_day) AS TIMESTAMP)) AS DATE)
               AS last_week
    FROM {{insights}} i CROSS JOIN ({_AS_OF}) anchor
),
weeks(week_start) AS (
    SELECT first_week FROM bounds WHERE first_week <= last_week
    UNION ALL
    SELECT CAST(w.week_start + 7 AS DATE) FROM weeks w CROSS JOIN bounds b
    WHERE w.week_start < b.last_week
),
events AS (
    SELECT 'created' AS kind, i.created_at AS happened_at FROM {{insights}} i
    UNION ALL SELECT 'resolved', i.resolved_at FROM {{insights}} i
    UNION ALL SELECT 'archived', i.archived_at FROM {{insights}} i
    UNION ALL SELECT 'deleted', i.deleted_at FROM {{insights}} i
),
weekly AS (
    SELECT CAST(date_trunc('week', happened_at AT TIME ZONE 'UTC') AS DATE) AS week_start,
           kind, COUNT(*) AS n
    FROM events WHERE happened_at IS NOT NULL
    GROUP BY CAST(date_trunc('week', happened_at AT TIME ZONE 'UTC') AS DATE), kind
)
SELECT w.week_start,
       CAST(COALESCE(SUM(CASE WHEN e.kind = 'created' THEN e.n END), 0) AS BIGINT) AS created,
       CAST(COALESCE(SUM(CASE WHEN e.kind = 'resolved' THEN e.n END), 0) AS BIGINT) AS resolved,
       CAST(COALESCE(SUM(CASE WHEN e.kind = 'archived' THEN e.n END), 0) AS BIGINT) AS archived,
       CAST(COALESCE(SUM(CASE WHEN e.kind = 'deleted' THEN e.n END), 0) AS BIGINT) AS deleted
FROM weeks w LEFT JOIN weekly e ON e.week_start = w.week_start
GROUP BY w.week_start
ORDER BY w.week_start
""",  # noqa: S608 - constants only, no user input
)

DAILY_OPEN_BACKLOG = View(
    "daily_open_backlog",
    "one row per day, from the first insight's day to the as-of day",
    "Insights open at the end of each UTC day: created by then and not resolved, archived or "
    "deleted by then, as far as insight_history knows (a resolved insight reopened later counts "
    "as closed until the load that saw it reopen).",
    f"""
WITH RECURSIVE bounds AS (
    SELECT CAST(MIN(i.created_at) AT TIME ZONE 'UTC' AS DATE) AS first_day,
           MAX(anchor.as_of_day) AS last_day
    FROM {{insights}} i CROSS JOIN ({_AS_OF}) anchor
),
days(day) AS (
    SELECT first_day FROM bounds WHERE first_day <= last_day
    UNION ALL
    SELECT CAST(d.day + 1 AS DATE) FROM days d CROSS JOIN bounds b WHERE d.day < b.last_day
),
day_ends AS (
    SELECT day, CAST(day + 1 AS TIMESTAMP) AT TIME ZONE 'UTC' AS day_end FROM days
),
closures AS (
    SELECT h.insight_id, LEAST(h.resolved_at, h.archived_at, h.deleted_at) AS closed_from,
           h.valid_to AS closed_until
    FROM {{insight_history}} h
    WHERE COALESCE(h.resolved_at, h.archived_at, h.deleted_at) IS NOT NULL
    UNION ALL
    SELECT i.id, LEAST(i.resolved_at, i.archived_at, i.deleted_at), NULL
    FROM {{insights}} i
    WHERE COALESCE(i.resolved_at, i.archived_at, i.deleted_at) IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM {{insight_history}} h WHERE h.insight_id = i.id)
),
created AS (
    SELECT d.day, COUNT(i.id) AS n
    FROM day_ends d LEFT JOIN {{insights}} i ON i.created_at < d.day_end
    GROUP BY d.day
),
closed AS (
    SELECT d.day, COUNT(DISTINCT c.insight_id) AS n
    FROM day_ends d
    JOIN closures c ON c.closed_from < d.day_end
                   AND (c.closed_until IS NULL OR c.closed_until > d.day_end)
    JOIN {{insights}} i ON i.id = c.insight_id AND i.created_at < d.day_end
    GROUP BY d.day
)
SELECT c.day, CAST(c.n - COALESCE(x.n, 0) AS BIGINT) AS open_insights
FROM created c LEFT JOIN closed x ON x.day = c.day
ORDER BY c.day
""",  # noqa: S608 - constants only, no user input
)

RESOLUTION_TIMES = View(
    "resolution_times",
    "one row per (category, team), per category, per team, and one in total (`grouped_by`)",
    "Resolved insights (not deleted) and the median and 90th percentile of hours from "
    "created_at to resolved_at (interpolated), by category and team, by each alone and overall.",
    """
WITH resolved AS (
    SELECT category_id, team_id,
           CAST((EXTRACT(EPOCH FROM resolved_at) - EXTRACT(EPOCH FROM created_at)) / 3600.0
                AS FLOAT8) AS hours
    FROM {insights_enriched}
    WHERE resolved_at IS NOT NULL AND created_at IS NOT NULL
),
grouped AS (
    SELECT CASE GROUPING(category_id) * 2 + GROUPING(team_id)
               WHEN 0 THEN 'category and team' WHEN 1 THEN 'category' WHEN 2 THEN 'team'
               ELSE 'total' END AS grouped_by,
           category_id, team_id, COUNT(*) AS resolved,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY hours) AS median_hours,
           percentile_cont(0.9) WITHIN GROUP (ORDER BY hours) AS p90_hours
    FROM resolved
    GROUP BY GROUPING SETS ((category_id, team_id), (category_id), (team_id), ())
    HAVING COUNT(*) > 0
)
SELECT g.grouped_by, g.category_id, c.name AS category_name, g.team_id, t.name AS team_name,
       g.resolved, CAST(g.median_hours AS FLOAT8) AS median_hours,
       CAST(g.p90_hours AS FLOAT8) AS p90_hours
FROM grouped g
LEFT JOIN {categories} c ON c.id = g.category_id
LEFT JOIN {teams} t ON t.id = g.team_id
ORDER BY g.grouped_by, g.resolved DESC, category_name, team_name
""",
)

# in creation order: a view comes after the views it reads
VIEWS: tuple[View, ...] = (
    INSIGHTS_ENRICHED,
    DAILY_INSIGHT_SESSIONS,
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
    """The view's SELECT with its placeholders replaced by the given relation names."""
    return view.sql.format_map(dict(names)).strip()


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
