"""Skips dlt's restore from the destination when the DuckDB file holds the state we hold.

Before every run dlt asks the destination for the newest committed pipeline state, so that a
machine whose local state is behind (another machine loaded since, or the dataset was dropped)
restores or wipes it. When this machine made the last load, which is every scheduled run on one
machine, the answer is the state it already has, and asking costs 25-60 ms of a run that
spends about a second in all: dlt resolves a client's configuration, builds an empty schema,
opens the destination and queries it.

For a DuckDB file the run holds open anyway, one query on that connection gives the same
answer: the newest row of `_dlt_pipeline_state` that belongs to a completed load (dlt's own
`get_stored_state` condition). When its version and hash equal the local state's, and every
schema the state names is stored locally, dlt's restore would change nothing, so the pipeline
is marked as restored, which is what dlt itself records after restoring once per instance
(`Pipeline._state_restored`). Any other answer (a newer or older version, no row, no table, no
dataset, a schema missing locally) leaves the restore to dlt, which handles the case as always.

dlt's documented switch, `restore_from_destination = false`, is not an option: it also stops
the run from writing its new state into the destination, which a fresh machine restores from.
"""

from __future__ import annotations

from typing import Any

import duckdb
from dlt.pipeline.pipeline import Pipeline


def mark_restored_when_current(
    pipeline: Pipeline, connection: duckdb.DuckDBPyConnection | None
) -> bool:
    """Spare the next `pipeline.run` dlt's restore if `connection`'s file holds our state."""
    if connection is None or not holds_local_state(pipeline, connection):
        return False
    pipeline._state_restored = True  # what dlt sets once it has restored
    return True


def holds_local_state(pipeline: Pipeline, connection: duckdb.DuckDBPyConnection) -> bool:
    """Whether the destination's newest committed state is the local state, schemas included."""
    if pipeline.default_schema_name is None:
        return False
    local = pipeline.state
    if not set(local.get("schema_names", [])) <= set(pipeline.schema_names):
        return False
    ours = (local.get("_state_version"), local.get("_version_hash"))
    return newest_committed_state(pipeline, connection) == ours


def newest_committed_state(
    pipeline: Pipeline, connection: duckdb.DuckDBPyConnection
) -> tuple[Any, Any] | None:
    """(version, version_hash) of the newest state row of a completed load; None if none."""
    schema = pipeline.default_schema
    naming = schema.naming
    dataset = _quoted(naming.normalize_table_identifier(pipeline.dataset_name))
    state_table = f"{dataset}.{_quoted(schema.state_table_name)}"
    loads_table = f"{dataset}.{_quoted(schema.loads_table_name)}"
    query = (
        f"SELECT s.version, s.version_hash FROM {state_table} AS s"  # noqa: S608 - quoted names
        f" JOIN {loads_table} AS l ON l.load_id = s._dlt_load_id"
        " WHERE s.pipeline_name = ? AND l.status = 0 ORDER BY l.load_id DESC LIMIT 1"
    )
    try:
        row = connection.execute(query, [pipeline.pipeline_name]).fetchone()
    except duckdb.Error:  # no dataset or no state table yet: dlt's restore knows what to do
        return None
    return (row[0], row[1]) if row else None


def _quoted(identifier: str) -> str:
    """`identifier` as a DuckDB quoted identifier."""
    return '"' + identifier.replace('"', '""') + '"'
