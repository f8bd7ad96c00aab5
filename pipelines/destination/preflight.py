"""Checks that must fail before the first request and before the destination is touched.

A misspelled `--destination` used to surface as dlt's multi-paragraph import error (exit 1),
and a reconciliation into a destination without SQL (dlt's filesystem) only failed, or silently
appended, after reading every insight. Both are configuration errors: exit 2, one line, before
anything is read or written.
"""

from __future__ import annotations

from typing import Any

from dlt.common.destination import Destination
from dlt.common.destination.exceptions import DestinationException
from dlt.common.exceptions import MissingDependencyException

from pipelines.destination import lake
from sources.opencx.errors import ConfigValueError
from sources.opencx.internals import has_sql_client

FULL_REFRESH_KEY = "sources.opencx.full_refresh"


def check_destination(destination: str | Any, *, reconciling: bool) -> None:
    """Raise ConfigValueError unless `destination` resolves, and has SQL when `reconciling`."""
    name = destination if isinstance(destination, str) else type(destination).__name__
    try:
        factory = Destination.from_reference(destination)
        client_class = factory.client_class if factory is not None else None
    except (DestinationException, MissingDependencyException, ImportError) as exc:
        raise ConfigValueError(_unusable(name, exc)) from None
    if factory is not None and lake.is_filesystem(factory):
        if lake.table_format_of(factory) == lake.DELTA:
            return  # Delta tables upsert and are read back with deltalake: reconciliation works
        if reconciling:
            key = lake.table_format_key(factory.destination_name)
            raise ConfigValueError(
                f"--full-refresh ({FULL_REFRESH_KEY}) reconciles against the loaded tables and "
                f"needs a SQL destination or Delta tables; {name} writes plain Parquet files, "
                f'which only append: set {key} = "delta" '
                f"({key.upper().replace('.', '__')}=delta) or run without --full-refresh"
            )
    # dlt's filesystem reads its files through DuckDB but has no SQL client of its own
    if reconciling and not has_sql_client(client_class):
        raise ConfigValueError(
            f"--full-refresh ({FULL_REFRESH_KEY}) reconciles against the loaded tables and "
            f"needs a SQL destination; {name} has no SQL client: load into duckdb, motherduck, "
            "postgres, ... or run without --full-refresh"
        )


def _unusable(name: str, exc: BaseException) -> str:
    if isinstance(exc, (MissingDependencyException, ImportError)):
        return (
            f"the dlt destination {name!r} (--destination) needs packages that are not "
            f"installed: pip install 'dlt[{name}]'"
        )
    return (
        f"unknown dlt destination {name!r} (--destination): use a dlt destination name "
        "(duckdb, motherduck, postgres, bigquery, snowflake, filesystem, ...) or a named "
        f"destination with DESTINATION__{name.upper()}__DESTINATION_TYPE set"
    )
