"""The public tables and their columns: one definition feeding Arrow, dlt hints and the docs.

Column names are part of the connector's public interface (dashboards query them), so they are
declared here once, with types and descriptions, instead of being inferred from whatever the
API happens to return in a given run. Declared columns exist even when every value is null.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dlt.common.schema.typing import TColumnSchema, TTableSchemaColumns

if TYPE_CHECKING:
    import pyarrow as pa

# dlt data types; the Arrow types follow from them (`Column.arrow_type`). Plain names keep
# pyarrow (a quarter of a second) out of a scheduled run that builds no rows.
TEXT, BIGINT, TIMESTAMP = "text", "bigint", "timestamp"
# the views' other types (tables never hold them)
DATE, DOUBLE = "date", "double"


@dataclass(frozen=True)
class Column:
    """One documented column."""

    name: str
    data_type: str
    description: str
    primary_key: bool = False
    required: bool = False

    @property
    def nullable(self) -> bool:
        """Keys and required columns are declared NOT NULL."""
        return not (self.primary_key or self.required)

    @property
    def arrow_type(self) -> pa.DataType:
        """The Arrow type the rows are built with (timestamps in UTC, microseconds)."""
        import pyarrow as pa  # noqa: PLC0415 - see TEXT

        types = {TIMESTAMP: pa.timestamp("us", tz="UTC"), BIGINT: pa.int64(), DATE: pa.date32(),
                 DOUBLE: pa.float64()}  # fmt: skip
        return types.get(self.data_type, pa.string())


INSIGHTS = "insights"
HISTORY = "insight_history"
ACTIVITY = "insight_activity"
CATEGORIES = "categories"
TEAMS = "teams"
PEOPLE = "people"

INSIGHT_COLUMNS: tuple[Column, ...] = (
    Column("id", TEXT, "Insight UUID, as the API gives it.", primary_key=True),
    Column("insight_number", BIGINT, "Human-facing insight number."),
    Column("content", TEXT, "What customers say, as summarised by OpenCX's AI."),
    Column("sentiment", TEXT, "angry, happy or neutral; unknown values are kept."),
    Column(
        "status",
        TEXT,
        "Derived: archived if archived_at is set, else resolved if "
        "resolved_at is set, else unresolved.",
    ),
    Column("occurrence_count", BIGINT, "Sessions in which the insight was seen."),
    Column("category_id", TEXT, "FK to categories.id; null when uncategorised."),
    Column("team_id", TEXT, "FK to teams.id; null when unassigned."),
    Column("resolved_by_key", TEXT, "FK to people.person_key: who resolved it."),
    Column("resolved_at", TIMESTAMP, "When it was resolved."),
    Column("archived_by_key", TEXT, "FK to people.person_key: who archived it."),
    Column("archived_at", TIMESTAMP, "When it was archived."),
    Column("archive_reason", TEXT, "archived_by.reason from the API."),
    Column("deep_research", TEXT, "OpenCX's deep-research write-up, if any."),
    Column("deep_research_completed_at", TIMESTAMP, "When the deep research finished."),
    Column("first_seen_at", TIMESTAMP, "First session in which it was seen."),
    Column("last_seen_at", TIMESTAMP, "Latest session in which it was seen (incremental cursor)."),
    Column("created_at", TIMESTAMP, "When OpenCX created the insight."),
    Column("updated_at", TIMESTAMP, "When OpenCX last changed the insight."),
    Column(
        "deleted_at",
        TIMESTAMP,
        "When a reconciliation found the insight gone from the API; null while the API returns it.",
    ),
)
CATEGORY_COLUMNS: tuple[Column, ...] = (
    Column("id", TEXT, "Category UUID.", primary_key=True),
    Column("name", TEXT, "Category name (latest seen wins)."),
    Column("description", TEXT, "Category description (latest seen wins)."),
)
TEAM_COLUMNS: tuple[Column, ...] = (
    Column("id", TEXT, "Team UUID.", primary_key=True),
    Column("name", TEXT, "Team name (latest seen wins)."),
)
PEOPLE_COLUMNS: tuple[Column, ...] = (
    Column(
        "person_key",
        TEXT,
        "Derived stable key: first 32 hex digits of "
        "sha256(name + U+001F + avatar_url), null parts as empty strings.",
        primary_key=True,
    ),
    Column("name", TEXT, "Display name from resolved_by / archived_by."),
    Column("avatar_url", TEXT, "Avatar URL from resolved_by / archived_by."),
)

HISTORY_TRACKED = (
    "status", "occurrence_count", "category_id", "team_id", "resolved_by_key", "resolved_at",
    "archived_by_key", "archived_at", "archive_reason", "first_seen_at", "last_seen_at",
    "deleted_at",
)  # fmt: skip
VALID_FROM, VALID_TO = "valid_from", "valid_to"
VERSION_HASH = "version_hash"
_INSIGHT_BY_NAME = {col.name: col for col in INSIGHT_COLUMNS}
HISTORY_COLUMNS: tuple[Column, ...] = (
    Column("insight_id", TEXT, "FK to insights.id; one row per version of the insight."),
    *(_INSIGHT_BY_NAME[name] for name in HISTORY_TRACKED),
    Column(
        VERSION_HASH,
        TEXT,
        "Hash of the tracked columns: a new version is written only when it changes.",
        required=True,
    ),
)
ACTIVITY_COLUMNS: tuple[Column, ...] = (
    Column(
        "window_start", TIMESTAMP, "Start of the session-date window (inclusive).", primary_key=True
    ),
    Column("insight_id", TEXT, "FK to insights.id.", primary_key=True),
    Column("window_end", TIMESTAMP, "End of the window (exclusive)."),
    Column(
        "occurrence_count",
        BIGINT,
        "occurrence_count as the API returned it for this window; see count_scope before summing.",
    ),
    Column(
        "count_scope",
        TEXT,
        "window: the API counted only this window's sessions "
        "(additive across windows); lifetime: the API returned the all-time count (not "
        "additive); unknown: could not be told apart in this run.",
    ),
    Column("first_seen_at", TIMESTAMP, "first_seen_at as the API returned it for this window."),
    Column("last_seen_at", TIMESTAMP, "last_seen_at as the API returned it for this window."),
    Column("filters", TEXT, "The other request filters in force, as canonical JSON."),
)

TABLE_COLUMNS: dict[str, tuple[Column, ...]] = {
    INSIGHTS: INSIGHT_COLUMNS,
    CATEGORIES: CATEGORY_COLUMNS,
    TEAMS: TEAM_COLUMNS,
    PEOPLE: PEOPLE_COLUMNS,
    HISTORY: HISTORY_COLUMNS,
    ACTIVITY: ACTIVITY_COLUMNS,
}

TABLE_DESCRIPTIONS: dict[str, str] = {
    INSIGHTS: "OpenCX insights, one row per insight in its current state (merged on id).",
    CATEGORIES: "Categories seen on insights, one row per category (latest seen wins).",
    TEAMS: "Teams seen on insights, one row per team (latest seen wins).",
    PEOPLE: "People who resolved or archived insights, one row per person_key.",
    HISTORY: "Every version of each insight's tracked state, as validity intervals (dlt scd2).",
    ACTIVITY: "Per session-date window and insight, what the API returned for that window.",
}

# Columns dlt writes, not the rows: described here so they are documented like the others.
LOAD_ID = "_dlt_load_id"
LOAD_ID_COLUMN = Column(
    LOAD_ID,
    TEXT,
    "The load that wrote this row (dlt's load id): joins _dlt_loads.load_id, where a completed "
    "load has status 0; null on rows written before the connector recorded it.",
)
VALIDITY_COLUMNS: tuple[Column, ...] = (
    Column(VALID_FROM, TIMESTAMP, "Start of this version's validity (the load that saw it)."),
    Column(VALID_TO, TIMESTAMP, "End of validity; null for the current version."),
)
UNDOCUMENTED_FIELD_DESCRIPTION = (
    "A field the API returned that this connector does not document, kept as text (JSON text "
    "for objects and lists)."
)


def described_columns(table: str) -> tuple[Column, ...]:
    """Every column the connector documents for `table`: its rows' and those dlt writes.

    The descriptions become the warehouse's column comments, the data dictionary's rows and
    the dlt schema's hints (but for the validity columns, whose hints dlt's scd2 sets whole).
    """
    written_by_dlt = (*VALIDITY_COLUMNS, LOAD_ID_COLUMN) if table == HISTORY else (LOAD_ID_COLUMN,)
    return (*TABLE_COLUMNS[table], *written_by_dlt)


@functools.cache
def arrow_schema(table: str) -> pa.Schema:
    """Arrow schema of a table's documented columns."""
    import pyarrow as pa  # noqa: PLC0415 - see TEXT

    return pa.schema(
        [pa.field(c.name, c.arrow_type, nullable=c.nullable) for c in TABLE_COLUMNS[table]]
    )


def dlt_columns(table: str) -> TTableSchemaColumns:
    """Dlt column hints: types, nullability and descriptions land in the dlt schema."""
    return {col.name: dlt_column(col) for col in TABLE_COLUMNS[table]}


def load_id_hint() -> TTableSchemaColumns:
    """The `_dlt_load_id` column as the source declares it (see `table_hints`): nullable."""
    return {LOAD_ID: dlt_column(LOAD_ID_COLUMN)}


def dlt_column(col: Column) -> TColumnSchema:
    """One column's dlt hint (the tables' and the dashboard views' alike)."""
    hint: dict[str, Any] = {
        "name": col.name,
        "data_type": col.data_type,
        "nullable": col.nullable,
        "description": col.description,
    }
    if col.data_type == TIMESTAMP:
        hint["timezone"] = True
    if col.primary_key:
        hint["primary_key"] = True
    return hint  # type: ignore[return-value]
