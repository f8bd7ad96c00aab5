"""A first load into empty tables appends `insights` and `insight_history` instead of merging.

dlt merges by copying each file into a staging table and then running SQL against the final
table: for `insights` a DELETE of the staged keys and an INSERT, for the history dlt's scd2
UPDATE of open versions and INSERT of new ones. Into empty tables those statements insert every
staged row and nothing else, because a run holds one version per insight (see
`INSIGHTS_DISPOSITION`). dlt's `append` gives the same rows straight from the file, without
the staging copy, the merge statements, or the copy left behind in the staging dataset (which
doubled the DuckDB file after a first load). The history rows carry the validity dlt's scd2
would have given them: open, valid from the load package's creation, dlt's default boundary,
in the validity columns with the hints dlt's scd2 declares for them (taken from the resource's
own scd2 table schema, so the next run's merge finds them as it would have made them).

The categories, teams and people keep merging: a run may emit one of them twice (a renamed
category, latest wins), which only the merge resolves; they are a few hundred rows at most.

Empty means that neither table holds a row at the destination (an absent table or dataset is
empty; a DuckDB file not created yet is not even opened to ask). It is asked only when the
pipeline has no cursor, so a scheduled run never pays the query; a lost local state whose
destination still holds rows merges as always. SQL destinations only: files have their own
dispositions (`pipelines.destination.lake`). The next run applies the source's merge hints
again, and dlt's scd2 takes over from the versions appended here.
"""

from __future__ import annotations

from typing import Any

from dlt import Pipeline
from dlt.common.schema.typing import TTableSchemaColumns
from dlt.destinations.exceptions import DatabaseUndefinedRelation
from dlt.sources import DltResource, DltSource

from pipelines.destination.duckdb_file import not_created_yet
from sources.opencx import schema
from sources.opencx.internals import package_created_at, runs_sql

APPENDED_TABLES = (schema.INSIGHTS, schema.HISTORY)


def destination_is_empty(pipeline: Pipeline) -> bool:
    """Whether this is a SQL destination without a row in `insights` or `insight_history`."""
    if not runs_sql(pipeline.destination):
        return False
    if not_created_yet(pipeline):
        return True
    with pipeline.sql_client() as client:
        return not any(_has_rows(client, table) for table in APPENDED_TABLES)


def _has_rows(client: Any, table_name: str) -> bool:
    table = client.make_qualified_table_name(table_name)
    try:
        return bool(client.execute_sql(f"SELECT 1 FROM {table} LIMIT 1"))  # noqa: S608
    except DatabaseUndefinedRelation:
        return False


def append_into_empty_tables(source: DltSource) -> None:
    """Load `insights` and `insight_history` of `source` with `append` for this run."""
    source.resources[schema.INSIGHTS].apply_hints(write_disposition="append")
    history = source.resources[schema.HISTORY]
    validity = scd2_validity_columns(history)
    history.apply_hints(write_disposition="append", columns=validity)
    history.add_map(open_since_package_creation)


def scd2_validity_columns(history: DltResource) -> TTableSchemaColumns:
    """The validity columns, hints included, that `history`'s scd2 disposition declares."""
    columns = history.compute_table_schema()["columns"]
    return {name: columns[name] for name in (schema.VALID_FROM, schema.VALID_TO)}


def open_since_package_creation(versions: Any) -> Any:
    """History rows valid from the load package's creation and open, as scd2 would write them."""
    from sources.opencx.rows import with_open_validity  # noqa: PLC0415 - imports pyarrow

    return with_open_validity(versions, package_created_at())
