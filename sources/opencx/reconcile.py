"""Reconciliation: after a complete full scan, find the insights the API no longer returns.

Resolving, archiving or deleting an insight does not move `last_seen_at`, so only a full scan
sees them. Deletions are recorded, not applied: the `insights` row stays, with `deleted_at` set
to the time the scan found it missing, and its history gets a closing version. Nothing is marked
unless the scan finished and covered the whole population (no narrowing filters).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import dlt
from dlt.destinations.exceptions import DatabaseUndefinedRelation

from sources.opencx import schema
from sources.opencx.rows import TOMBSTONE

LOOKUP_CHUNK = 500
# Filters that keep the population whole; any other filter makes absence meaningless.
NON_NARROWING = frozenset({"sortBy", "sortOrder"})


def covers_everything(filters_body: dict[str, Any], start_page: int) -> bool:
    """Whether a full scan with these filters sees every insight (so absence means deletion)."""
    narrowing = {k for k in filters_body if k not in NON_NARROWING}
    if filters_body.get("status") == "all":
        narrowing.discard("status")
    return not narrowing and start_page == 1


def tombstones(seen_ids: set[str], found_missing_at: datetime) -> Iterator[list[dict[str, Any]]]:
    """Current `insights` rows (not yet marked deleted) whose id the complete scan did not see."""
    missing = sorted(_live_ids() - seen_ids)
    for start in range(0, len(missing), LOOKUP_CHUNK):
        rows = _rows_by_id(missing[start : start + LOOKUP_CHUNK])
        for row in rows:
            row["deleted_at"] = found_missing_at
            row[TOMBSTONE] = True
        if rows:
            yield rows


def _live_ids() -> set[str]:
    pipeline = dlt.current.pipeline()
    try:
        with pipeline.sql_client() as client:
            table = client.make_qualified_table_name(schema.INSIGHTS)
            # the table name comes from dlt's own quoting; no user input reaches this SQL
            sql = f"SELECT id FROM {table} WHERE deleted_at IS NULL"  # noqa: S608
            result = client.execute_sql(sql)
    except DatabaseUndefinedRelation:
        return set()
    return {row[0] for row in result or []}


def _rows_by_id(ids: list[str]) -> list[dict[str, Any]]:
    pipeline = dlt.current.pipeline()
    quoted = ", ".join("'" + i.replace("'", "''") + "'" for i in ids)
    with pipeline.sql_client() as client:
        table = client.make_qualified_table_name(schema.INSIGHTS)
        sql = f"SELECT * FROM {table} WHERE id IN ({quoted})"  # noqa: S608 - ids are quoted
        with client.execute_query(sql) as cursor:
            names = [d[0] for d in cursor.description]
            fetched = cursor.fetchall()
    return [
        {k: v for k, v in zip(names, row, strict=True) if not k.startswith("_dlt_")}
        for row in fetched
    ]
