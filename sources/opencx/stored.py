"""Reads loaded `insights` rows back from the destination, for reconciliation.

SQL destinations answer through dlt's `sql_client`. dlt's filesystem destination has one too,
but over Delta tables it needs DuckDB's `delta` extension, which DuckDB downloads on first use
from extensions.duckdb.org: a scheduler without internet access, or a DuckDB release the
extension is not yet published for, would fail in the middle of a reconciliation. Delta tables
are therefore read with the `deltalake` package, which dlt's Delta support installs anyway and
which reads local folders and S3/GCS/Azure with the destination's own credentials.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from dlt import Pipeline
from dlt.destinations.exceptions import DatabaseUndefinedRelation

from sources.opencx import schema
from sources.opencx.internals import FILESYSTEM_TYPE

_EMPTY = pa.table(
    {"id": pa.array([], pa.string()), "deleted_at": pa.array([], pa.timestamp("us", tz="UTC"))}
)


def live_ids(pipeline: Pipeline) -> set[str]:
    """Ids of the insights the destination holds as not deleted; empty before the first load."""
    delta = _delta_insights(pipeline)
    if delta is not None:
        live = delta.filter(pc.is_null(delta["deleted_at"]))
        return {str(i) for i in live["id"].to_pylist()}
    try:
        with pipeline.sql_client() as client:
            table = client.make_qualified_table_name(schema.INSIGHTS)
            # the table name comes from dlt's own quoting; no user input reaches this SQL
            sql = f"SELECT id FROM {table} WHERE deleted_at IS NULL"  # noqa: S608
            result = client.execute_sql(sql)
    except DatabaseUndefinedRelation:
        return set()
    return {row[0] for row in result or []}


def rows_by_id(pipeline: Pipeline, ids: Sequence[str]) -> list[dict[str, Any]]:
    """The stored `insights` rows of `ids`, without dlt's own columns."""
    delta = _delta_insights(pipeline)
    if delta is not None:
        wanted = delta.filter(pc.is_in(delta["id"], value_set=pa.array(list(ids), pa.string())))
        return [_public(row) for row in wanted.to_pylist()]
    quoted = ", ".join("'" + i.replace("'", "''") + "'" for i in ids)
    with pipeline.sql_client() as client:
        table = client.make_qualified_table_name(schema.INSIGHTS)
        sql = f"SELECT * FROM {table} WHERE id IN ({quoted})"  # noqa: S608 - ids are quoted
        with client.execute_query(sql) as cursor:
            names = [d[0] for d in cursor.description]
            fetched = cursor.fetchall()
    return [_public(dict(zip(names, row, strict=True))) for row in fetched]


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if not k.startswith("_dlt_")}


def _delta_insights(pipeline: Pipeline) -> pa.Table | None:
    """The `insights` Delta table as Arrow; None when it is stored otherwise (SQL answers).

    Decided by the loaded schema: a table dlt wrote as Delta stays Delta.
    """
    destination = pipeline.destination
    if destination is None or destination.destination_type != FILESYSTEM_TYPE:
        return None
    if pipeline.default_schema_name is None:  # nothing was ever loaded
        return _EMPTY
    stored = pipeline.default_schema.tables.get(schema.INSIGHTS)
    if stored is None:
        return _EMPTY
    if stored.get("table_format") != "delta":
        return None
    from dlt.common.libs.deltalake import get_delta_tables  # noqa: PLC0415 - optional extra

    return get_delta_tables(pipeline, schema.INSIGHTS)[schema.INSIGHTS].to_pyarrow_table()
