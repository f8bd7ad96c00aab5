"""The DuckDB file a run loads into: where it is and how its readers find it.

Two things go wrong with a local DuckDB file that dlt does not handle for us:

* Relative paths. dlt resolves a relative `destination.duckdb.credentials` against the working
  directory, so cron and a shell would write two different files. Every path here is taken
  relative to the project, like the default `data/opencx_insights.duckdb`.
* Readers. `dlt.attach("opencx_insights").dataset()` and `dlt pipeline opencx_insights show`
  rebuild the destination from config, which in a notebook names no file, and then open (and
  create, empty) `opencx_insights.duckdb` in the directory of the pipeline's first run. dlt 1.31
  still honours a file path recorded in the pipeline's local state (`duckdb_database`, read in
  `Pipeline._bind_local_files`) ahead of that default, so recording the file the run writes
  makes every reader of the pipeline find it, from any working directory, without config.
  (`.dlt/config.toml` cannot carry it: dlt refuses credentials from a non-secret provider.)
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dlt

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CREDENTIALS_KEY = "destination.duckdb.credentials"
# the pipeline local-state key dlt 1.31 reads as the DuckDB file of a pipeline
LOCATION_STATE_KEY = "duckdb_database"


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


def record_for_readers(pipeline_name: str, path: Path) -> None:
    """Record `path` as the pipeline's DuckDB file, where `dlt.attach(...)` looks first.

    Written only when it changes, so a run that fails later leaves the state file as it was
    whenever the file did not move.
    """
    pipeline = dlt.pipeline(pipeline_name=pipeline_name)
    try:
        recorded = pipeline.get_local_state_val(LOCATION_STATE_KEY)
    except KeyError:
        recorded = None
    if recorded != str(path):
        pipeline.set_local_state_val(LOCATION_STATE_KEY, str(path))
