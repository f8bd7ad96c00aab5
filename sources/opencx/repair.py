"""Repairs what an interrupted load can leave behind in `insights` and `insight_history`.

dlt copies a load's files into staging tables and then merges. If the process dies after the
database committed a staging copy but before dlt recorded that job as done, the resumed load
copies the same file again, so the staging table holds each of its rows twice. Neither merge
removes them: the `insights` merge is declared deduplicated (a run holds one version per
insight, so dlt's `ROW_NUMBER()` pass would be pure cost on every other load) and dlt's scd2
merge never deduplicates. Both final tables then hold every row of that file twice, whole-row
identical, so keeping one of each is exact. Only needed after a resumed load
(`pipelines.load.owed_repair` remembers when it is owed).
"""

from __future__ import annotations

from typing import Any

from dlt import Pipeline
from dlt.destinations.exceptions import DatabaseUndefinedRelation

from sources.opencx import schema
from sources.opencx.internals import runs_sql

# the tables whose merges keep a repeated staging copy's rows
REPAIRED_TABLES = (schema.INSIGHTS, schema.HISTORY)


def dedupe_after_resumed_load(pipeline: Pipeline) -> dict[str, int]:
    """Remove whole-row duplicates from `REPAIRED_TABLES`; returns how many per table.

    Only SQL destinations run dlt's merges. dlt's filesystem has nothing to repair: Delta
    upserts, which a repeated job leaves as it was, and plain Parquet appends each job's rows
    under a file name fixed by the job, which a repeated job overwrites. Its DuckDB view over
    the files could not rewrite a table anyway.
    """
    if not runs_sql(pipeline.destination):
        return {}
    with pipeline.sql_client() as client:
        return {table: _dedupe(client, table) for table in REPAIRED_TABLES}


def _dedupe(client: Any, table_name: str) -> int:
    """Duplicates removed from one table, in one transaction (0 if it does not exist)."""
    table = client.make_qualified_table_name(table_name)
    scratch = client.make_qualified_table_name(f"{table_name}_dedupe")
    try:
        total = client.execute_sql(f"SELECT COUNT(*) FROM {table}")  # noqa: S608
    except DatabaseUndefinedRelation:
        return 0
    distinct = client.execute_sql(
        f"SELECT COUNT(*) FROM (SELECT DISTINCT * FROM {table}) AS versions"  # noqa: S608
    )
    extra = int(total[0][0]) - int(distinct[0][0])
    if extra <= 0:
        return 0
    with client.begin_transaction():
        client.execute_sql(f"CREATE TABLE {scratch} AS SELECT DISTINCT * FROM {table}")  # noqa: S608
        client.execute_sql(f"DELETE FROM {table}")  # noqa: S608
        client.execute_sql(f"INSERT INTO {table} SELECT * FROM {scratch}")  # noqa: S608
        client.execute_sql(f"DROP TABLE {scratch}")
    return extra
