"""Every assumption the connector makes about dlt's and DuckDB's internals, and nothing else.

The connector uses dlt's and DuckDB's public API. What it cannot do that way is done here and
only here, one name per assumption, and `tests/test_internals_contract.py` pins each one with a
test named after it: a dlt or DuckDB release that changes one fails there, by name, instead of
silently in a user's run. `pipelines/command/versions.py` holds the versions these were tested with;
the command refuses others.

The assumptions, and why each is worth it:

1. **Where an incremental cursor is kept** in pipeline state:
   `sources.<source>.resources.<resource>.incremental.<cursor>.last_value`. The runner, the dry
   run, the Airflow DAG and the source must know whether a first run is ahead before dlt's
   incremental runs (`resource_state`, `incremental_last_value`).
2. **Where and how the local state is stored**: `<pipelines dir>/<pipeline>/state.json`, in dlt's
   state encoding. `--dry-run` reads it without creating a `Pipeline`, which would write it;
   the run lock lives beside it (`pipelines_dir`, `local_state_path`, `read_local_state`).
3. **scd2's default boundary is the load package's creation time**: a first load appends the
   history with the validity scd2 would have written (`package_created_at`).
4. **A SQL destination's client derives from `SqlJobClientBase`**: the repair, the dashboard
   views, the state pruning and the reconciliation need SQL (`has_sql_client`, `runs_sql`).
5. **The filesystem destination's `destination_type`** is `FILESYSTEM_TYPE`, also under another
   name: plain files and Delta tables are loaded and read back differently.
6. **dlt takes a DuckDB file recorded in local state under `DUCKDB_FILE_STATE_KEY`** as the
   pipeline's file (dlt 1.31: `Pipeline._bind_local_files`), so `dlt.attach(...)` finds the
   file the command wrote from any working directory.
7. **dlt connects to DuckDB with `custom_user_agent` as its only connect-time option**
   (`duckdb_connect_options`), so a connection the run holds open with the same options is the
   database dlt's connections join: one open file per run, and a reader that wants it during
   the run is refused at once instead of failing the load half-way.
8. **DuckDB's lock conflict reads** `Could not set lock on file "<path>"` … `Conflicting lock is
   held in <program> (PID <n>)` (`DUCKDB_LOCK_CONFLICT`, `DUCKDB_LOCK_HOLDER`): a file held by
   another process is a one-line error with exit status 7, naming the holder.
9. **dlt's state and loads tables**: each state row names its pipeline (`pipeline_name`) and
   load (`_dlt_load_id`), a completed load has `status` `COMPLETED_LOAD_STATUS` in `_dlt_loads`,
   and dlt restores from the newest completed row, so older rows can be pruned.
10. **A collector learns each step through its `_start(step)` / `_stop()` hooks** (abstract in
    dlt's `Collector`): the progress line says which step runs (`StepCollector`).
11. **A destination names its column types through its capabilities' type mapper**
    (`destination_column_type`): a dashboard view over a table not loaded yet reads an empty
    relation typed as dlt will create the table.

Outside the connector's runs, two diagnostics read dlt's internals on purpose: the benchmarks
measure dlt's state as stored (`bench/destinations.py`: `state.json`, `_dlt_pipeline_state`),
and the kill-point tests pause dlt's own methods to kill a run at each stage
(`tests/reliability/paused_cli.py`). Neither is part of a run.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import dlt
from dlt.common.destination import Destination
from dlt.common.destination.capabilities import DestinationCapabilitiesContext
from dlt.common.pipeline import get_dlt_pipelines_dir
from dlt.common.runtime.collector_base import Collector
from dlt.common.schema.typing import TColumnSchema
from dlt.common.versioned_state import json_decode_state

# 1. the incremental cursor
_SOURCES, _RESOURCES = "sources", "resources"
_INCREMENTAL, _LAST_VALUE = "incremental", "last_value"
# 2. the local state
LOCAL_STATE_FILE: Final = "state.json"
# 5. the filesystem destination
FILESYSTEM_TYPE: Final = "dlt.destinations.filesystem"
# 6. the DuckDB file dlt takes from local state
DUCKDB_FILE_STATE_KEY: Final = "duckdb_database"
# 7. the connect-time options dlt's DuckDB client passes
_DUCKDB_CONNECT_OPTIONS: Final = ("custom_user_agent",)
# 8. DuckDB's lock conflict
DUCKDB_LOCK_CONFLICT: Final = re.compile(r'Could not set lock on file "(?P<path>[^"]+)"')
DUCKDB_LOCK_HOLDER: Final = re.compile(
    r"Conflicting lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)"
)
# 9. dlt's state and loads tables
STATE_PIPELINE_COLUMN: Final = "pipeline_name"
STATE_LOAD_ID_COLUMN: Final = "_dlt_load_id"
LOADS_LOAD_ID_COLUMN: Final = "load_id"
LOADS_STATUS_COLUMN: Final = "status"
COMPLETED_LOAD_STATUS: Final = 0


def resource_state(state: Mapping[str, Any] | None, source: str, resource: str) -> dict[str, Any]:
    """What dlt keeps for `resource` of `source` in a pipeline's state (empty if nothing)."""
    sources = (state or {}).get(_SOURCES, {})
    return dict(sources.get(source, {}).get(_RESOURCES, {}).get(resource, {}))


def resource_state_in_source(source_state: Mapping[str, Any], resource: str) -> dict[str, Any]:
    """What dlt keeps for `resource` in its source's state (`dlt.current.source_state()`)."""
    return dict(source_state.get(_RESOURCES, {}).get(resource, {}))


def incremental_last_value(resource: Mapping[str, Any], cursor: str) -> Any:
    """The last value dlt's incremental on `cursor` stored in `resource`'s state, or None."""
    return resource.get(_INCREMENTAL, {}).get(cursor, {}).get(_LAST_VALUE)


def pipelines_dir() -> Path:
    """Dlt's default directory of pipelines' working folders (`DLT_DATA_DIR` moves it)."""
    return Path(get_dlt_pipelines_dir())


def local_state_path(pipeline_name: str, directory: Path | None = None) -> Path:
    """The file dlt keeps `pipeline_name`'s local state in."""
    return (directory or pipelines_dir()) / pipeline_name / LOCAL_STATE_FILE


def read_local_state(path: Path) -> dict[str, Any] | None:
    """The local state in `path` as dlt's `pipeline.state` shows it; None if there is none."""
    if not path.is_file():
        return None
    return json_decode_state(path.read_text(encoding="utf-8"))


def package_created_at() -> datetime:
    """When the load package being extracted was created: scd2's default boundary."""
    created_at: datetime = dlt.current.load_package_state()["state"]["created_at"]
    return created_at


def has_sql_client(client_class: type | None) -> bool:
    """Whether a destination's client class runs SQL (merges, scd2, its own state table)."""
    from dlt.destinations.job_client_impl import SqlJobClientBase  # noqa: PLC0415

    return client_class is not None and issubclass(client_class, SqlJobClientBase)


def runs_sql(destination: Destination[Any, Any] | None) -> bool:
    """Whether `destination` loads through SQL; dlt's filesystem does not."""
    return destination is not None and has_sql_client(destination.client_class)


def duckdb_connect_options(global_config: Mapping[str, Any] | None) -> dict[str, Any]:
    """The options of `global_config` dlt passes to `duckdb.connect` (the rest it SETs after)."""
    configured = global_config or {}
    return {key: configured[key] for key in _DUCKDB_CONNECT_OPTIONS if key in configured}


def destination_column_type(
    capabilities: DestinationCapabilitiesContext,
    column: TColumnSchema,
    table: Mapping[str, Any],
) -> str:
    """The SQL type dlt creates `column` of `table` with on the destination of `capabilities`."""
    mapper: Any = capabilities.get_type_mapper()
    return str(mapper.to_destination_type(column, table))


class StepCollector(Collector):
    """dlt's collector slot, used only to know which step runs (extract, normalize, load).

    After the last page, normalising and loading a big backfill takes a while too; the
    progress line says which step it is, so a run that reads no pages is still seen alive.
    """

    def __init__(self) -> None:
        self.current = ""

    def update(
        self,
        name: str,
        inc: int = 1,
        total: int | None = None,
        inc_total: int | None = None,
        message: str | None = None,
        label: str | None = None,
    ) -> None:
        """Ignored: row counters are not what a run against a paged API needs."""

    def _start(self, step: str) -> None:
        self.current = step.split(" ", 1)[0].lower()

    def _stop(self) -> None:
        self.current = ""
