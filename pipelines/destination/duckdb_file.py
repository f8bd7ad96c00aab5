"""The DuckDB file a run loads into: where it is, whether it can be written, who can find it.

What goes wrong with a local DuckDB file that dlt does not handle for us:

* Relative paths. dlt resolves a relative `destination.duckdb.credentials` against the working
  directory, so cron and a shell would write two different files. Every path here is taken
  relative to the project, like the default `data/opencx_insights.duckdb`.
* Readers. `dlt.attach("opencx_insights").dataset()` and `dlt pipeline opencx_insights show`
  rebuild the destination from config, which in a notebook names no file, and then open (and
  create, empty) `opencx_insights.duckdb` in the directory of the pipeline's first run. dlt
  still honours a file path recorded in the pipeline's local state ahead of that default (an
  internal, `sources.opencx.internals.DUCKDB_FILE_STATE_KEY`), so recording the file the run
  writes makes every reader of the pipeline find it, from any working directory, without config.
  (`.dlt/config.toml` cannot carry it: dlt refuses credentials from a non-secret provider.)
* Locks. DuckDB lets one process write a file and no process write while any other has it
  open, readers included. A run that finds the file held stops before the first request, with
  the holder's PID from DuckDB's own message.
* Re-opening. dlt opens and closes the file for each step and each load job (about 15 times a
  run), and each close of the last connection checkpoints. A run keeps one connection open
  from its extraction to its end (`held_for_the_run`), so dlt's connections join that open
  database (with the options dlt connects with: `internals.duckdb_connect_options`). A reader
  that wants the file during a run is refused at once, instead of taking it between two of
  dlt's openings and failing the load half-way.
* Creation. DuckDB creates a database file empty and then writes its header: killed in between,
  the file is refused by every later open. A new file is made whole under another name and
  linked into place (`created_whole`).
* Memory. DuckDB sizes itself for the whole machine (80% of RAM, a thread per core), which
  makes a load's peak grow with the tenant and can get a run in a small container killed. The
  load runs with `LOAD_SETTINGS` (`global_config` of the credentials overrides them), and
  its jobs one at a time (`pipelines.load.run_defaults.one_load_job_at_a_time`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import dlt
import duckdb
from dlt import Pipeline
from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials

from sources.opencx.errors import ConfigValueError, DuckDBFileInUseError
from sources.opencx.internals import (
    DUCKDB_FILE_STATE_KEY,
    DUCKDB_LOCK_CONFLICT,
    DUCKDB_LOCK_HOLDER,
    duckdb_connect_options,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DUCKDB = PROJECT_ROOT / "data" / "opencx_insights.duckdb"
DEMO_DUCKDB = PROJECT_ROOT / "data" / "opencx_demo.duckdb"
CREDENTIALS_KEY = "destination.duckdb.credentials"
GLOBAL_CONFIG_KEY = f"{CREDENTIALS_KEY}.global_config"
LOAD_SETTINGS: dict[str, Any] = {
    # the load's statements are bulk inserts and merges of one batch: a second thread halves
    # little and doubles DuckDB's working memory (measured in bench/, loader phase)
    "threads": 1,
    # past this DuckDB spills to a temp file beside the database instead of growing; at 32MB a
    # 100k-insight first load peaked 1.12x a 10k one (128MB: 1.46x), and 1M took 3% longer
    "memory_limit": "32MB",
}
# a database being created (`created_whole`), beside the file it becomes
CREATING_SUFFIX = ".creating"


def project_path(value: str | Path) -> Path:
    """An absolute path for `value`: `~` expanded, a relative path taken from the project.

    The project, not the working directory, so the file is the same whether cron, a shell in
    another directory or `make` starts the run.
    """
    return (PROJECT_ROOT / Path(value).expanduser()).resolve()


def configured_location() -> str | None:
    """The file named by `destination.duckdb.credentials` (env, `.dlt/`, root `config.toml`).

    None when it is unset or dlt's `:pipeline:` marker. Accepts a plain path, dlt's
    `duckdb:///path` form and a `[destination.duckdb.credentials] database = ...` table.
    """
    value: Any = dlt.config.get(CREDENTIALS_KEY)
    if isinstance(value, Mapping):
        value = value.get("database")
    if not isinstance(value, str) or value.strip() in ("", ":pipeline:"):
        return None
    return value.strip().removeprefix("duckdb:///")


def check_file_name(path: Path, dataset: str) -> None:
    """Refuse a file named like the dataset: DuckDB cannot tell the two apart in queries."""
    if path.stem == dataset:
        raise ConfigValueError(
            f"the DuckDB file {path.name} is named like the dataset {dataset!r}, which "
            "DuckDB cannot tell apart; rename the file (--duckdb-path or "
            "DESTINATION__DUCKDB__CREDENTIALS) or the dataset (--dataset)"
        )


def ready_for_load(path: Path, dataset: str) -> None:
    """Refuse a file named like the dataset or held by another process; make its folder."""
    check_file_name(path, dataset)
    path.parent.mkdir(parents=True, exist_ok=True)
    ensure_not_in_use(path)


def credentials(path: Path) -> DuckDbCredentials:
    """Credentials for the file at `path`, with the load's memory and thread settings."""
    return DuckDbCredentials(str(path), global_config=load_settings())


def load_settings() -> dict[str, Any]:
    """`LOAD_SETTINGS`, overridden key by key by a configured `global_config`."""
    configured: Any = dlt.config.get(GLOBAL_CONFIG_KEY, dict)
    if configured is None:
        value: Any = dlt.config.get(CREDENTIALS_KEY)
        configured = value.get("global_config") if isinstance(value, Mapping) else None
    return {**LOAD_SETTINGS, **(configured if isinstance(configured, Mapping) else {})}


def file_of(pipeline: Pipeline) -> str:
    """The DuckDB file the pipeline loads into as given, without resolving any config.

    "" for other destinations: their credentials may hold a password, which stays out of the
    pipeline's state even as a digest (dlt wipes that state when the dataset is gone anyway).
    """
    destination = pipeline.destination
    if destination is None or destination.destination_name != "duckdb":
        return ""
    credentials = destination.config_params.get("credentials")
    if isinstance(credentials, DuckDbCredentials):
        return str(credentials.database)
    return str(credentials) if isinstance(credentials, (str, Path)) else ""


def not_created_yet(pipeline: Pipeline) -> bool:
    """Whether the pipeline loads into a DuckDB file that does not exist yet.

    Such a file has no state to restore and no table to look into, so a first run skips both
    questions instead of opening (and creating) the file to ask them.
    """
    location = file_of(pipeline)
    return bool(location) and Path(location).is_absolute() and not Path(location).exists()


@contextlib.contextmanager
def held_for_the_run(pipeline: Pipeline) -> Iterator[duckdb.DuckDBPyConnection | None]:
    """Keep the pipeline's DuckDB file open while the block runs (nothing for other files).

    Yields the connection that holds it (None when nothing is held), for the run's own reads.

    DuckDB shares one open database between the connections of a process that name the same
    file with the same connection options, so dlt's own connections reuse this one. The options
    are the ones dlt connects with (`internals.duckdb_connect_options` of the pipeline's
    credentials). Relative paths and `:memory:`-like names are left to dlt, which resolves
    them itself.
    """
    location = file_of(pipeline)
    if not location or not Path(location).is_absolute():
        yield None
        return
    credentials = pipeline.destination.config_params.get("credentials")
    options = duckdb_connect_options(getattr(credentials, "global_config", None))
    created_whole(Path(location), options)
    try:
        connection = duckdb.connect(location, config=options)
    except duckdb.IOException as exc:
        in_use = in_use_error(exc)
        if in_use is None:
            raise
        raise in_use from None
    try:
        yield connection
    finally:
        connection.close()


def created_whole(path: Path, options: Mapping[str, Any]) -> None:
    """Create the database at `path` unless it exists, so that no kill leaves it half created.

    DuckDB creates a database by creating the file and then writing its three header blocks; a
    kill in between leaves an empty or partial file that DuckDB refuses to open ever after ("not
    a valid DuckDB database file"), failing every later run. So a new database is made under
    `<file>.creating` (with the options the run connects with) and linked to `path` once DuckDB
    closed it whole: `path` holds a complete database or nothing. A kill's leftover
    `.creating` file is replaced the next time; a file someone else created at `path`
    meanwhile is kept.
    """
    if path.exists():
        return
    scratch = path.with_name(path.name + CREATING_SUFFIX)
    scratch.unlink(missing_ok=True)
    duckdb.connect(str(scratch), config=dict(options)).close()
    try:
        os.link(scratch, path)
    except FileExistsError:
        pass
    finally:
        scratch.unlink()


def ensure_not_in_use(path: Path) -> None:
    """Raise DuckDBFileInUseError if another process has `path` open.

    Opens the file read-write for an instant, exactly as the load will; a file that does not
    exist yet is held by nobody and is not created here.
    """
    if not path.exists():
        return
    try:
        duckdb.connect(str(path)).close()
    except duckdb.IOException as exc:
        in_use = in_use_error(exc)
        if in_use is None:
            raise
        raise in_use from None


@contextlib.contextmanager
def in_use_recognised() -> Iterator[None]:
    """Inside the block, DuckDB's lock conflict, however wrapped, raises DuckDBFileInUseError.

    For a reader that opened the file after the run's own check: dlt wraps DuckDB's error two
    levels deep, and the operator needs to know which file to close, not the wrapping.
    """
    try:
        yield
    except Exception as exc:
        in_use = in_use_error(exc)
        if in_use is None or in_use.__traceback__ is not None:  # not DuckDB's, or raised already
            raise
        raise in_use from exc


def in_use_error(exc: BaseException) -> DuckDBFileInUseError | None:
    """DuckDBFileInUseError for DuckDB's lock conflict anywhere in `exc`'s chain, else None.

    For failures after the start of a run (a reader opened the file during extraction), where
    dlt wraps DuckDB's error two levels deep.
    """
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        if isinstance(current, DuckDBFileInUseError):
            return current
        locked = DUCKDB_LOCK_CONFLICT.search(str(current))
        if locked:
            return DuckDBFileInUseError(locked["path"], _holder(str(current)))
        seen.append(current)
        current = current.__cause__ or current.__context__
    return None


def _holder(message: str) -> str | None:
    """`PID 123 (python3.11)` from DuckDB's message, when it names the holding process."""
    match = DUCKDB_LOCK_HOLDER.search(message)
    if not match:
        return None
    return f"PID {match['pid']} ({Path(match['program']).name})"


def record_for_readers(pipeline: Pipeline, path: Path) -> None:
    """Record `path` as the pipeline's DuckDB file, where `dlt.attach(...)` looks first.

    Called after a load committed, and written only when it changes, so a run that fails
    leaves the pipeline's state file exactly as it was.
    """
    try:
        recorded = pipeline.get_local_state_val(DUCKDB_FILE_STATE_KEY)
    except KeyError:
        recorded = None
    if recorded != str(path):
        pipeline.set_local_state_val(DUCKDB_FILE_STATE_KEY, str(path))
