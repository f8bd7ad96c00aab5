"""Airflow 3 DAGs for the OpenCX insights load, built on dlt's `PipelineTasksGroup`.

Two DAGs, because the two loads differ in schedule, mode, timeout and in what a backfill means:

* `opencx_insights_hourly`: the scheduled (incremental) load, at minute 0 of every hour (UTC);
* `opencx_insights_reconcile`: the reconciliation (`full_refresh`), every night at 02:30 UTC.

Both run the pipeline `opencx_insights` (the one `pipelines/insights.py` runs) and must never
overlap: they share its cursor and fingerprints, and a DuckDB file takes one writer. Each DAG
has `max_active_runs=1`, and every task takes the single slot of the Airflow pool
`opencx_insights` (create it once: `airflow pools set opencx_insights 1 "OpenCX loads"`), so an
hourly run waits while the reconciliation runs and the other way round, on any executor.

The dlt helper wipes the pipeline's local working folder around every task, so each task
restores the pipeline state (cursor, fingerprints) from the destination before it builds the
source: the source decides between a first run and a reconciliation from that state.

Backfills: a run of the hourly DAG made by `airflow backfill create` (run type `backfill`)
loads the insights last seen inside its data interval, and a run triggered with the params
`since`/`until` loads that range. Both become the source's `since`/`until`, which bound the
scan and leave the stored cursor alone. dlt's `allow_external_schedulers` would read the same
interval, but only for an incremental created with it, and on every run: the scheduled runs
would then read exactly their hour, losing the lookback (late-analysed insights) and never
moving the cursor. The schedules use data-interval timetables so a run's interval is its hour
(Airflow 3's plain cron schedules give every run an empty interval).

Configuration is the connector's (docs/configuration.md): `SOURCES__OPENCX__API_KEY` and any
other `SOURCES__OPENCX__*` in the workers' environment (or, with
`PROVIDERS__ENABLE_AIRFLOW_SECRETS=true`, the Airflow Variable `dlt_secrets_toml` holding a
`.dlt/secrets.toml` document). `OPENCX_DESTINATION` (default
`duckdb`) names the dlt destination, with its credentials in `DESTINATION__<NAME>__CREDENTIALS`;
for DuckDB that is the file (default `data/opencx_insights.duckdb` in the project).

dlt's deploy template passes `provide_context=True` to `add_run`; Airflow 3's PythonOperator
rejects that argument, and it is not needed: the task reads its context with
`get_current_context()`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The DAG lives in the project; put the project on the path unless it is installed.
if (PROJECT_ROOT / "sources" / "opencx").is_dir() and str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))
# dlt's anonymous telemetry would try to reach the internet from every task, as in the CLI.
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
# dlt looks every one of its config keys up as an Airflow Variable when Airflow is installed:
# measured, 20 s of a 24 s task (300 insights, `airflow dags test`). Opt back in with
# PROVIDERS__ENABLE_AIRFLOW_SECRETS=true to keep secrets in the `dlt_secrets_toml` Variable.
os.environ.setdefault("PROVIDERS__ENABLE_AIRFLOW_SECRETS", "false")
# Each batch's tables are built before the scan reads the next batch, as in the CLI
# (pipelines.load.run_defaults.batches_built_as_they_arrive says why).
os.environ.setdefault("EXTRACT__NEXT_ITEM_MODE", "fifo")
# Every row carries its load's `_dlt_load_id`, as in the CLI
# (pipelines.load.run_defaults.load_id_on_every_row says why).
os.environ.setdefault("NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_LOAD_ID", "true")

import dlt  # noqa: E402
from airflow.sdk import DAG, CronDataIntervalTimetable, Param, get_current_context  # noqa: E402
from dlt.helpers.airflow_helper import PipelineTasksGroup  # noqa: E402

PIPELINE_NAME = "opencx_insights"
DATASET_NAME = "opencx"
POOL = "opencx_insights"
HOURLY_DAG_ID = "opencx_insights_hourly"
RECONCILE_DAG_ID = "opencx_insights_reconcile"
HOURLY_CRON = "0 * * * *"
NIGHTLY_CRON = "30 2 * * *"
START_DATE = datetime(2026, 1, 1, tzinfo=timezone.utc)
DEFAULT_DUCKDB = "data/opencx_insights.duckdb"
BACKFILL_RUN_TYPE = "backfill"


def load_window(context: Mapping[str, Any]) -> dict[str, str]:
    """`since`/`until` for this run: the trigger's params, a backfill's interval, or none.

    A scheduled or plain manual run returns {} and so runs the incremental load (cursor and
    lookback); anything else bounds the scan and leaves the cursor where it is.
    """
    params = context.get("params") or {}
    window = {key: str(params[key]) for key in ("since", "until") if params.get(key)}
    if window:
        return window
    dag_run = context.get("dag_run")
    if getattr(dag_run, "run_type", None) != BACKFILL_RUN_TYPE:
        return {}
    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    if start is None or end is None or start >= end:
        raise ValueError(f"backfill run without a usable data interval: {start} .. {end}")
    return {"since": start.isoformat(), "until": end.isoformat()}


class OpenCXLoad:
    """The `data` of a task: builds the source when the task runs, not when the DAG is parsed.

    Building it at run time lets the source see the pipeline state restored from the
    destination and the run's params and interval. `stats` keeps the run's counters so the
    task can fail when a reconciliation withheld deletions (the CLI's exit status 6).
    """

    def __init__(self, pipeline: dlt.Pipeline, *, full_refresh: bool) -> None:
        """Remember the pipeline the helper will run and the mode of this DAG."""
        self.pipeline = pipeline
        self.full_refresh = full_refresh
        self.stats: Any = None

    def __call__(self) -> Any:
        """Restore the state, then build the `opencx` source for this run."""
        from pipelines.load import first_load  # noqa: PLC0415
        from sources.opencx import opencx, stored_cursor  # noqa: PLC0415 - keeps parsing light
        from sources.opencx.batches import ScanStats  # noqa: PLC0415

        self.pipeline.sync_destination()
        self.pipeline.activate()
        self.stats = ScanStats()
        window = {} if self.full_refresh else load_window(get_current_context())
        if self.full_refresh:
            window["full_refresh"] = True
        source = opencx(**window, stats=self.stats)
        # as the command does (pipelines/load/first_load.py): empty tables take an append
        no_cursor = stored_cursor(self.pipeline.state) is None
        if no_cursor and first_load.destination_is_empty(self.pipeline):
            first_load.append_into_empty_tables(source)
        return source

    def check_finished(self, _context: Any, _result: Any = None) -> None:
        """Drop dlt's staging dataset, then fail the task if the reconciliation marked nothing.

        Airflow's `post_execute` hook of the task: it runs after dlt's task function returned
        (the load committed) and an exception here fails the task. The staging dataset goes as
        after a command's run (pipelines/destination/staging.py): readers see only the dataset.
        """
        from pipelines.destination.staging import drop_staging_if_owed  # noqa: PLC0415

        drop_staging_if_owed(self.pipeline, owed=True)
        withheld = getattr(self.stats, "deletions_withheld", None)
        if withheld:
            raise RuntimeError(f"loaded, but deletions were withheld: {' '.join(withheld.split())}")


def destination() -> Any:
    """The dlt destination: `OPENCX_DESTINATION`, or DuckDB at an absolute path.

    Read from the environment only: DAG files are parsed often and must not reach the metadata
    database. DuckDB needs an explicit file because the helper's working folder, where dlt
    would put it by default, is deleted after every task, and loads with the command's bounded
    memory and threads.
    """
    name = os.environ.get("OPENCX_DESTINATION", "duckdb")
    if name != "duckdb":
        return name
    from pipelines.destination.duckdb_file import credentials  # noqa: PLC0415 - keeps DAG parsing light

    path = Path(os.environ.get("DESTINATION__DUCKDB__CREDENTIALS") or DEFAULT_DUCKDB).expanduser()
    # the command's bounded memory and threads (pipelines/destination/duckdb_file.py), not
    # the whole machine
    return dlt.destinations.duckdb(credentials=credentials(PROJECT_ROOT / path))


def add_load(dag_id: str, *, full_refresh: bool, timeout: timedelta) -> None:
    """The task group of one DAG: one task running the whole source in the shared pool.

    dlt's `PipelineTasksGroup` and `add_run` as documented, nothing overridden. The pipeline
    must be created right after its group, which points dlt at a fresh working folder;
    `decompose="none"` because the source's resources share one scan.
    """
    tasks = PipelineTasksGroup(dag_id, use_data_folder=False, wipe_local_data=True)
    pipeline = dlt.pipeline(
        pipeline_name=PIPELINE_NAME, destination=destination(), dataset_name=DATASET_NAME
    )
    load = OpenCXLoad(pipeline, full_refresh=full_refresh)
    tasks.add_run(
        pipeline,
        load,
        decompose="none",
        # the CLI's exit status 6, once the load committed (dlt's add_run hands this to the task)
        post_execute=load.check_finished,
        pool=POOL,
        pool_slots=1,
        # No task retries: the connector already retries every request (with backoff), so a
        # failed task is a configuration or API problem worth seeing at once, and the next
        # run starts from the state the last successful load committed.
        retries=0,
        execution_timeout=timeout,
    )


def interval_schedule(cron: str) -> Any:
    """A cron schedule whose runs cover [previous tick, tick): the interval a backfill loads."""
    return CronDataIntervalTimetable(cron, timezone="UTC")


WINDOW_PARAMS = {
    "since": Param(None, type=["null", "string"], description="backfill from (ISO 8601)"),
    "until": Param(None, type=["null", "string"], description="backfill until (ISO 8601)"),
}

with DAG(
    dag_id=HOURLY_DAG_ID,
    description="OpenCX insights: scheduled (incremental) load",
    schedule=interval_schedule(HOURLY_CRON),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    params=WINDOW_PARAMS,
    tags=["opencx", "dlt"],
):
    add_load(HOURLY_DAG_ID, full_refresh=False, timeout=timedelta(minutes=55))

with DAG(
    dag_id=RECONCILE_DAG_ID,
    description="OpenCX insights: nightly reconciliation (status changes, deletions)",
    schedule=interval_schedule(NIGHTLY_CRON),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    tags=["opencx", "dlt"],
):
    add_load(RECONCILE_DAG_ID, full_refresh=True, timeout=timedelta(hours=4))
