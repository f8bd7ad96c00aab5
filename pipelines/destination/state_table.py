"""Keeps dlt's `_dlt_pipeline_state` table from growing with every load.

dlt appends the whole compressed pipeline state to `_dlt_pipeline_state` on every load that
changed it and never deletes a row on a SQL destination (it compacts only on the filesystem
destination, dlt-hub/dlt#1657; dlt-hub/dlt#2186 reports 20 GB on Snowflake). This connector's
state holds the fingerprints of the lookback window, about 200 kB at 100k insights, so an hourly
schedule would add gigabytes a year that nobody reads: dlt restores a pipeline from the row of
its newest completed load. After a successful load the rows of completed loads older than the
newest `KEEP_STATES` are deleted; rows of loads that did not complete are left to dlt.

A resumed load must not store a state row twice: a kill after the row's INSERT committed and
before dlt recorded the job leaves the row, and the resume inserts it again. On PostgreSQL, where
dlt makes `_dlt_id` UNIQUE (`destination.postgres.create_indexes`), that job then fails
terminally and the run with it. So before a run resumes pending packages, the rows of packages
whose state job is still to run are deleted: they can only be that job's own, committed early.
"""

from __future__ import annotations

from dlt import Pipeline
from dlt.common.storages.load_package import LoadPackageInfo
from dlt.destinations.exceptions import DatabaseUndefinedRelation

from pipelines.destination.duckdb_file import not_created_yet
from sources.opencx.internals import (
    COMPLETED_LOAD_STATUS,
    LOADS_LOAD_ID_COLUMN,
    LOADS_STATUS_COLUMN,
    STATE_LOAD_ID_COLUMN,
    STATE_PIPELINE_COLUMN,
    runs_sql,
)

KEEP_STATES = 10


def prune_state_history(pipeline: Pipeline, keep: int | None = None) -> int:
    """Delete this pipeline's state rows beyond the newest `keep` completed; returns how many."""
    keep = KEEP_STATES if keep is None else keep
    if not runs_sql(pipeline.destination):
        return 0
    dlt_schema = pipeline.default_schema
    naming = dlt_schema.naming
    with pipeline.sql_client() as client:
        state = client.make_qualified_table_name(dlt_schema.state_table_name)
        loads = client.make_qualified_table_name(dlt_schema.loads_table_name)
        name, load_id, dlt_load_id, status = (
            client.escape_column_name(naming.normalize_identifier(column))
            for column in (
                STATE_PIPELINE_COLUMN,
                LOADS_LOAD_ID_COLUMN,
                STATE_LOAD_ID_COLUMN,
                LOADS_STATUS_COLUMN,
            )
        )
        done = COMPLETED_LOAD_STATUS
        completed = f"SELECT {load_id} FROM {loads} WHERE {status} = {done}"  # noqa: S608
        try:
            rows = client.execute_sql(
                f"SELECT s.{dlt_load_id} FROM {state} AS s WHERE s.{name} = %s"  # noqa: S608
                f" AND s.{dlt_load_id} IN ({completed}) ORDER BY s.{dlt_load_id} DESC",
                pipeline.pipeline_name,
            )
        except DatabaseUndefinedRelation:
            return 0
        if rows is None or len(rows) <= keep:
            return 0
        oldest_kept = rows[keep - 1][0]
        client.execute_sql(
            f"DELETE FROM {state} WHERE {name} = %s AND {dlt_load_id} < %s"  # noqa: S608
            f" AND {dlt_load_id} IN ({completed})",
            pipeline.pipeline_name,
            oldest_kept,
        )
        return len(rows) - keep


def delete_state_rows_a_resume_would_repeat(pipeline: Pipeline) -> int:
    """Delete the state rows of pending packages whose state job dlt will run again.

    Call before resuming the pending packages; returns how many packages had such a job.
    """
    if not runs_sql(pipeline.destination) or not_created_yet(pipeline):
        return 0
    if pipeline.default_schema_name is None:
        return 0
    dlt_schema = pipeline.default_schema
    load_ids = [
        load_id
        for load_id in pipeline.list_normalized_load_packages()
        if _state_job_to_run(pipeline.get_load_package_info(load_id), dlt_schema.state_table_name)
    ]
    if not load_ids:
        return 0
    with pipeline.sql_client() as client:
        state = client.make_qualified_table_name(dlt_schema.state_table_name)
        load_id = client.escape_column_name(
            dlt_schema.naming.normalize_identifier(STATE_LOAD_ID_COLUMN)
        )
        placeholders = ", ".join(["%s"] * len(load_ids))
        try:
            client.execute_sql(
                f"DELETE FROM {state} WHERE {load_id} IN ({placeholders})",  # noqa: S608
                *load_ids,
            )
        except DatabaseUndefinedRelation:  # nothing loaded yet: no row to delete
            return 0
    return len(load_ids)


def _state_job_to_run(package: LoadPackageInfo, state_table: str) -> bool:
    """Whether the package's state job is new or started (a resumed load runs it)."""
    return any(
        job.job_file_info.table_name == state_table
        for jobs in ("new_jobs", "started_jobs")
        for job in package.jobs.get(jobs, [])
    )
