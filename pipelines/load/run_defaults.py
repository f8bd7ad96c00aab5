"""dlt settings the connector runs with unless the user configured them.

Some of dlt's defaults suit the connector badly (see the callers for why), but they are dlt's
settings, read from dlt's config when a step starts: the user's value, from any provider,
always wins. The connector's value lives in the environment for the duration of the run
only, so it never leaks into other pipelines of the same process.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import dlt

from sources.opencx.table_hints import LOAD_ID_KEY

LOAD_WORKERS_KEY = "load.workers"


@contextlib.contextmanager
def unless_configured(key: str, value: str) -> Iterator[None]:
    """Inside the block, dlt's config `key` (dotted, e.g. ``load.workers``) reads `value`.

    Unless the user set `key` in any config provider, or the block is already inside one
    that set it.
    """
    if dlt.config.get(key) is not None:
        yield
        return
    env_name = key.replace(".", "__").upper()
    os.environ[env_name] = value
    try:
        yield
    finally:
        os.environ.pop(env_name, None)


@contextlib.contextmanager
def one_load_job_at_a_time() -> Iterator[None]:
    """The loader runs the load's jobs one after the other, unless `load.workers` is set.

    For DuckDB: two bulk inserts at once hold two batches of uncommitted rows in memory, and
    gain little on a single-threaded DuckDB (`pipelines.destination.duckdb_file` bounds its
    memory and threads).
    """
    with unless_configured(LOAD_WORKERS_KEY, "1"):
        yield


@contextlib.contextmanager
def batches_built_as_they_arrive() -> Iterator[None]:
    """Each batch goes through the transformers before dlt reads the next one from the scan.

    The scan's batch feeds five transformers through a dlt fork, which dlt's default
    "round_robin" mode treats as one more generator to visit in turn with the others: the
    tables of a batch were built only after later batches had been read, on a small load
    after the last page. "fifo" drains the fork first, so the Arrow tables are built while
    the next pages are in flight (the main thread only waits for them otherwise), and no
    more than one batch waits in memory.
    """
    with unless_configured("extract.next_item_mode", "fifo"):
        yield


@contextlib.contextmanager
def load_id_on_every_row() -> Iterator[None]:
    """Have dlt add `_dlt_load_id` to the Arrow rows, unless the user set the option.

    dlt's parquet normalizer leaves it out of Arrow rows by default; with it, every table
    joins `_dlt_loads`, so a reader can tell when each row was loaded (dbt's source freshness
    needs that, and `updated_at` is the API's time, not the load's). The source declares
    the column when the option is on (`sources.opencx.table_hints`), so it is set before the
    source is built.
    """
    with unless_configured(LOAD_ID_KEY, "true"):
        yield
