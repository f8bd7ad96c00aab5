"""Repairs what an interrupted load can leave behind in `insight_history`.

dlt copies a load's files into staging tables and then merges. If the process dies after the
database committed a staging copy but before dlt recorded that job as done, the resumed load
copies the same file again. The ordinary merge deduplicates on the primary key; dlt's scd2 merge
does not, so every version in that file would be inserted twice. Versions are whole-row
identical in that case, so keeping one of each is exact. Only needed after a resumed load.
"""

from __future__ import annotations

from dlt.destinations.exceptions import DatabaseUndefinedRelation
from dlt.pipeline.pipeline import Pipeline

from sources.opencx import schema


def dedupe_history(pipeline: Pipeline) -> int:
    """Remove duplicate history versions in one transaction; returns how many were removed.

    Only SQL destinations run dlt's scd2 merge. dlt's filesystem has nothing to repair: Delta
    has no `insight_history` (no scd2 there) and upserts, which a repeated job leaves as it was,
    and plain Parquet appends each job's rows under a file name fixed by the job, which a
    repeated job overwrites. Its DuckDB view over the files could not rewrite a table anyway.
    """
    if not runs_sql_merges(pipeline):
        return 0
    with pipeline.sql_client() as client:
        table = client.make_qualified_table_name(schema.HISTORY)
        scratch = client.make_qualified_table_name(f"{schema.HISTORY}_dedupe")
        try:
            total = client.execute_sql(f"SELECT COUNT(*) FROM {table}")  # noqa: S608
        except DatabaseUndefinedRelation:
            return 0
        distinct = client.execute_sql(
            f"SELECT COUNT(*) FROM (SELECT DISTINCT * FROM {table}) AS versions"  # noqa: S608
        )
        extra = int(total[0][0]) - int(distinct[0][0])  # type: ignore[index]
        if extra <= 0:
            return 0
        with client.begin_transaction():
            client.execute_sql(f"CREATE TABLE {scratch} AS SELECT DISTINCT * FROM {table}")  # noqa: S608
            client.execute_sql(f"DELETE FROM {table}")  # noqa: S608
            client.execute_sql(f"INSERT INTO {table} SELECT * FROM {scratch}")  # noqa: S608
            client.execute_sql(f"DROP TABLE {scratch}")
        return extra


def runs_sql_merges(pipeline: Pipeline) -> bool:
    """Whether the destination loads through SQL (merges, scd2, its own state table)."""
    from dlt.destinations.job_client_impl import SqlJobClientBase  # noqa: PLC0415

    destination = pipeline.destination
    return destination is not None and issubclass(destination.client_class, SqlJobClientBase)
