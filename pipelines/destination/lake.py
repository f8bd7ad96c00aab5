"""Files as a destination: what the OpenCX tables become in dlt's `filesystem` destination.

dlt's filesystem destination (a local folder, or S3/GCS/Azure through `bucket_url`) writes
either plain files or Delta tables, and what each supports decides how the source is loaded:

- **Plain Parquet** (no table format): dlt has no merge strategy for plain files and falls back
  to `append` with a warning per table per load. The tables are declared `append` here instead,
  so the behaviour is explicit and the run stays quiet: every load adds one file per table with
  the rows it read, `insight_history` included (its validity columns stay empty).
- **Delta** (`table_format = "delta"`): merges are Delta `upsert`s on the primary key, so
  `insights`, `categories`, `teams`, `people` and `insight_activity` hold one row per key.
  dlt 1.31 has no `scd2` on Delta (extraction fails with "`scd2` merge strategy not
  supported"), so `insight_history` is not loaded, and the run says so in a note. `upsert`
  ignores `merge_key`, so `insight_activity` drops it: a re-read window updates and adds rows
  but does not remove one whose insight left the window.

The table format is not a dlt setting (dlt takes it per resource or per `run`), so the project
reads it from the destination's own config section, beside `bucket_url`:
`[destination.filesystem] table_format = "delta"` or `DESTINATION__FILESYSTEM__TABLE_FORMAT`.
"""

from __future__ import annotations

from typing import Any, Final

import dlt
from dlt.common.destination import Destination
from dlt.common.schema.typing import TUpsertStrategyDict
from dlt.sources import DltSource

from sources.opencx import schema
from sources.opencx.errors import ConfigValueError
from sources.opencx.internals import FILESYSTEM_TYPE

DELTA: Final = "delta"
TABLE_FORMATS = (DELTA,)
NO_HISTORY_ON_DELTA = (
    f"{schema.HISTORY} is not loaded: dlt 1.31 has no scd2 merge on Delta tables; "
    "load into a SQL destination (duckdb, motherduck, postgres, ...) to keep history"
)


def table_format_key(destination_name: str) -> str:
    """The config key this project reads the table format from, for a destination name."""
    return f"destination.{destination_name}.table_format"


def is_filesystem(destination: Destination[Any, Any] | None) -> bool:
    """Whether `destination` is dlt's filesystem, also under another name (`destination_type`)."""
    return destination is not None and destination.destination_type == FILESYSTEM_TYPE


def configured_table_format(destination_name: str) -> str | None:
    """`delta`, or None for plain Parquet; anything else is refused in one line."""
    key = table_format_key(destination_name)
    value = dlt.config.get(key, str)
    if value is None or not str(value).strip() or str(value).strip().lower() == "parquet":
        return None
    normalized = str(value).strip().lower()
    if normalized not in TABLE_FORMATS:
        raise ConfigValueError(
            f"table format {value!r} ({key.upper().replace('.', '__')} or [destination."
            f'{destination_name}] table_format) is not supported: use "delta", or leave it '
            "unset for plain Parquet files"
        )
    return normalized


def table_format_of(destination: Destination[Any, Any] | None) -> str | None:
    """The table format a filesystem destination writes; None for any other destination."""
    if destination is None or not is_filesystem(destination):
        return None
    return configured_table_format(destination.destination_name)


def describe(destination_name: str) -> str:
    """The destination as the summary names it; for files, also which kind is written."""
    factory = Destination.from_reference(destination_name)
    if factory is None or not is_filesystem(factory):
        return destination_name
    kind = "Delta tables" if table_format_of(factory) == DELTA else "Parquet files"
    return f"{destination_name} ({kind})"


DELTA_MERGE: TUpsertStrategyDict = {"disposition": "merge", "strategy": "upsert"}
"""Delta merges by upsert only (the source's `insights` asks for delete-insert)."""


def for_files(source: DltSource, table_format: str | None, notes: list[str]) -> DltSource:
    """Adapt the source's tables to plain Parquet files or Delta tables (see the module doc)."""
    for name, resource in source.resources.items():
        if not resource.selected:
            continue  # `insight_pages` only feeds the transformers; it has no table
        if table_format == DELTA:
            if name == schema.HISTORY:
                resource.selected = False
                notes.append(NO_HISTORY_ON_DELTA)
                continue
            resource.apply_hints(table_format=DELTA)
            if name == schema.INSIGHTS:
                resource.apply_hints(write_disposition=DELTA_MERGE)
            if name == schema.ACTIVITY:
                resource.apply_hints(merge_key="")
        else:
            resource.apply_hints(write_disposition="append", file_format="parquet")
    return source
