"""When the destination last completed a load of the connector's schema: dlt's `_dlt_loads`.

dlt writes one row per completed load into the dataset's `_dlt_loads` (`status` 0, `inserted_at`
stamped by dlt with the real clock, `schema_name` the source's schema), whichever machine or
scheduler ran it; its columns are part of dlt's documented destination tables. Read only, and
never created: a DuckDB file that does not exist is a destination that never loaded, not one
to make, and an existing file is opened read-only; other destinations are read through
`dlt.dataset`, dlt's public reader, which needs no pipeline and so no working folder.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Final

import dlt
import duckdb
from dlt.destinations.exceptions import DatabaseUndefinedRelation

from sources.opencx.clock import as_utc
from sources.opencx.internals import COMPLETED_LOAD_STATUS
from sources.opencx.settings import SOURCE_SECTION

# dlt names a source's schema after the source: `opencx`
SCHEMA_NAME: Final = SOURCE_SECTION
LOADS_TABLE: Final = "_dlt_loads"


def newest_duckdb_load(path: Path, dataset: str) -> datetime | None:
    """The newest completed load in `dataset` of the DuckDB file at `path`; None if none.

    The caller makes sure no run holds the file (DuckDB refuses a reader while one does, and a
    reader would refuse the run).
    """
    if not path.exists():
        return None
    schema = _normalised(dataset)
    with duckdb.connect(str(path), read_only=True) as connection:
        found = connection.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? "
            "AND table_name = ?",
            [schema, LOADS_TABLE],
        ).fetchone()
        if not found or not found[0]:
            return None
        table = f'"{schema}"."{LOADS_TABLE}"'  # a checked identifier: dlt's normalised name
        row = connection.execute(
            f"SELECT max(inserted_at) FROM {table} WHERE status = ? AND schema_name = ?",  # noqa: S608
            [COMPLETED_LOAD_STATUS, SCHEMA_NAME],
        ).fetchone()
    return _instant(row)


def newest_load(destination: str, dataset: str) -> datetime | None:
    """The newest completed load in `dataset` of the dlt destination `destination`; None if none.

    Credentials come from dlt's configuration; a dataset or loads table that does not exist
    is a destination that never loaded.
    """
    reader = dlt.dataset(destination, dataset, schema=dlt.Schema(SCHEMA_NAME))
    loads = reader.loads_table()
    newest = (
        loads.where("status", "eq", COMPLETED_LOAD_STATUS)
        .where("schema_name", "eq", SCHEMA_NAME)
        .select("inserted_at")
        .max()
    )
    try:
        return _instant(newest.fetchone())
    except DatabaseUndefinedRelation:
        return None


def _normalised(dataset: str) -> str:
    """The dataset as dlt names it in the destination (its naming convention)."""
    return str(dlt.Schema(SCHEMA_NAME).naming.normalize_table_identifier(dataset))


def _instant(row: Any) -> datetime | None:
    if not row or row[0] is None:
        return None
    value = row[0]
    return as_utc(value if isinstance(value, datetime) else str(value))
