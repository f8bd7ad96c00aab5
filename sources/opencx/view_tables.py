"""The dashboard views as tables of the dlt schema, so `pipeline.dataset()` reads them.

dlt's dataset reader knows a relation only through the pipeline's dlt schema: `ds.<name>`
looks the name up in the schema's tables, and `ds("SELECT ...")` resolves every table and
column against it (sqlglot lineage, `SELECT *` expanded from the schema's columns). The views
that `views.create_views` makes after each load were unknown to it, so `ds.top_insights_7d`
was "not found" and `SELECT rank FROM top_insights_7d` failed with "could not be resolved".

Each view is declared here as a table of the source's schema with the columns and dlt types
the view's SQL yields (the same on DuckDB and PostgreSQL; `tests/test_dataset_views.py`
compares them with the columns the destination reports for the view, so a view change that
forgets this declaration fails there). dlt 1.31's loader, drop command and refresh modes
create, alter, truncate and drop only tables that received data (the normalizer marks them
`seen-data`), and a view never receives data: dlt only records the declaration, and the schema
it stores with each load carries it, so a reader without the pipeline (`dlt.dataset(...)`)
knows the views too. (`pipeline.sync_schema()`, which a run never calls, migrates every table
of the schema: it finds each view with its declared columns and changes nothing.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from dlt.common.data_types.typing import TDataType
from dlt.common.destination import Destination
from dlt.common.schema.typing import TColumnSchema, TTableSchema
from dlt.common.schema.utils import new_table
from dlt.sources import DltSource

from sources.opencx import views
from sources.opencx.internals import runs_sql
from sources.opencx.schema import BIGINT, TEXT, TIMESTAMP

DATE, DOUBLE = "date", "double"

_TOP_INSIGHTS: tuple[tuple[str, str], ...] = (
    ("rank", BIGINT), ("insight_id", TEXT), ("insight_number", BIGINT), ("content", TEXT),
    ("category_name", TEXT), ("team_name", TEXT), ("sentiment", TEXT), ("status", TEXT),
    ("sessions", BIGINT), ("share_of_sessions", DOUBLE), ("previous_sessions", BIGINT),
    ("change", BIGINT), ("change_ratio", DOUBLE), ("first_day", DATE), ("last_day", DATE),
)  # fmt: skip

# each view's columns, in the order its SELECT gives them, with the dlt type it yields
VIEW_COLUMNS: Mapping[str, tuple[tuple[str, str], ...]] = {
    views.INSIGHTS_ENRICHED.name: (
        ("id", TEXT), ("insight_number", BIGINT), ("content", TEXT), ("sentiment", TEXT),
        ("status", TEXT), ("occurrence_count", BIGINT), ("category_id", TEXT),
        ("category_name", TEXT), ("team_id", TEXT), ("team_name", TEXT),
        ("resolved_by_key", TEXT), ("resolved_by_name", TEXT), ("resolved_at", TIMESTAMP),
        ("archived_by_key", TEXT), ("archived_by_name", TEXT), ("archived_at", TIMESTAMP),
        ("archive_reason", TEXT), ("deep_research_completed_at", TIMESTAMP),
        ("first_seen_at", TIMESTAMP), ("last_seen_at", TIMESTAMP), ("created_at", TIMESTAMP),
        ("updated_at", TIMESTAMP),
    ),
    views.DAILY_INSIGHT_SESSIONS.name: (
        ("day", DATE), ("insight_id", TEXT), ("sessions", BIGINT), ("category_id", TEXT),
        ("category_name", TEXT), ("team_id", TEXT), ("team_name", TEXT), ("sentiment", TEXT),
    ),
    views.TOP_INSIGHTS_7D.name: _TOP_INSIGHTS,
    views.TOP_INSIGHTS_30D.name: _TOP_INSIGHTS,
    views.WEEKLY_INSIGHT_FLOW.name: (
        ("week_start", DATE), ("created", BIGINT), ("resolved", BIGINT), ("archived", BIGINT),
        ("deleted", BIGINT),
    ),
    views.DAILY_OPEN_BACKLOG.name: (("day", DATE), ("open_insights", BIGINT)),
    views.RESOLUTION_TIMES.name: (
        ("grouped_by", TEXT), ("category_id", TEXT), ("category_name", TEXT), ("team_id", TEXT),
        ("team_name", TEXT), ("resolved", BIGINT), ("median_hours", DOUBLE),
        ("p90_hours", DOUBLE),
    ),
}  # fmt: skip


def declare_views(source: DltSource, destination: Destination[Any, Any] | None) -> None:
    """Declare every view as a table of `source`'s schema, where the views are created.

    Destinations without SQL views (dlt's filesystem) get no declaration: there `ds.<view>`
    would name a table that does not exist.
    """
    if not runs_sql(destination):
        return
    for table in view_tables():
        source.schema.update_table(table)


def view_tables() -> list[TTableSchema]:
    """The views as dlt tables: columns, types, and the view's meaning as description."""
    tables = []
    for view in views.VIEWS:
        table = new_table(view.name, columns=_columns(VIEW_COLUMNS[view.name]))
        table["description"] = view.meaning
        tables.append(table)
    return tables


def _columns(declared: tuple[tuple[str, str], ...]) -> list[TColumnSchema]:
    columns: list[TColumnSchema] = []
    for name, data_type in declared:
        column: TColumnSchema = {
            "name": name,
            "data_type": cast(TDataType, data_type),
            "nullable": True,
        }
        if data_type == TIMESTAMP:
            column["timezone"] = True
        columns.append(column)
    return columns
