"""Keeps dlt's `_dlt_pipeline_state` table from growing with every load.

dlt appends the whole compressed pipeline state to `_dlt_pipeline_state` on every load that
changed it and never deletes a row on a SQL destination (it compacts only on the filesystem
destination, dlt-hub/dlt#1657; dlt-hub/dlt#2186 reports 20 GB on Snowflake). This connector's
state holds the fingerprints of the lookback window, about 200 kB at 100k insights, so an hourly
schedule would add gigabytes a year that nobody reads: dlt restores a pipeline from the row of
its newest completed load. After a successful load the rows of completed loads older than the
newest `KEEP_STATES` are deleted; rows of loads that did not complete are left to dlt.
"""

from __future__ import annotations

from dlt import Pipeline
from dlt.destinations.exceptions import DatabaseUndefinedRelation

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
