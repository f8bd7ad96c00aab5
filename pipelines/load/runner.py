"""One pipeline's load: its lock, its destination, the dlt pipeline, the catch-up, the summary.

dlt does the loading; this module decides the order of what happens around it, so a second run
of the same pipeline stops before anything, a run after a kill finishes what the killed one
left before it loads what is new, and a first run that fails leaves nothing behind. Where the
pipeline loads was resolved and checked by the command before (`pipelines.load.target`).
"""

from __future__ import annotations

import contextlib
import io
import time
from collections.abc import Mapping
from typing import Any

import dlt
from dlt import Pipeline

from pipelines.destination import duckdb_file, lake
from pipelines.destination.comments import comment_dataset
from pipelines.destination.staging import drop_staging_if_owed, owe_staging_drop
from pipelines.destination.state_table import (
    delete_state_rows_a_resume_would_repeat,
    prune_state_history,
)
from pipelines.load import first_load, first_run_cleanup
from pipelines.load.demo import DemoData, demo_simulator
from pipelines.load.last_success import record_success
from pipelines.load.owed_repair import owe_repair, repair_if_owed
from pipelines.load.run_defaults import (
    batches_built_as_they_arrive,
    load_id_on_every_row,
    one_load_job_at_a_time,
)
from pipelines.load.runlock import run_lock
from pipelines.load.target import Target
from pipelines.load.working_folder import drop_if_half_wiped
from pipelines.output.outcome import finished_status
from pipelines.output.progress import progress_reporter
from pipelines.output.report_json import PipelineRun, iso
from pipelines.output.summary import print_summary, rows_loaded
from sources.opencx import opencx, stored_cursor
from sources.opencx.batches import ScanStats
from sources.opencx.internals import StepCollector, pipelines_dir
from sources.opencx.view_tables import declare_views
from sources.opencx.views import create_views


def load(
    target: Target,
    source_args: Mapping[str, Any],
    record: PipelineRun,
    *,
    demo: DemoData | None = None,
    quiet: bool = False,
    progress_every: float,
) -> int:
    """One load; returns the exit status (errors propagate to the caller's reporter).

    The pipeline's lock first, so a second run of the same pipeline stops before touching the
    destination (whose DuckDB file the first run holds), the state or the API. A run that fails
    before a load completed removes the pipeline folder and DuckDB file it created
    (`first_run_cleanup`); a folder a killed run left half deleted is dropped first
    (`working_folder`). `record` keeps what the load did, for the JSON report; a run that
    ends here successfully, with or without anything new, is recorded for the freshness
    check (`last_success`).
    """
    started = time.monotonic()
    name = target.pipeline_name
    record.pipeline, record.destination = name, target.destination
    stats = record.stats = ScanStats()
    pipelines_root = pipelines_dir()
    with contextlib.ExitStack() as stack:
        stack.enter_context(duckdb_file.in_use_recognised())
        stack.enter_context(run_lock(pipelines_root, name))
        if quiet:  # nothing on stdout on success, whoever would print there
            stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
        if demo is not None:
            source_args = {**source_args, **stack.enter_context(demo_simulator(demo))}
        destination, location = dlt_destination(target)
        if target.duckdb_path is not None:
            stack.enter_context(one_load_job_at_a_time())
        record.location, record.dataset = location, target.dataset
        steps = StepCollector()
        pipeline = stack.enter_context(
            first_run_cleanup.undone_unless_loaded(
                lambda: drop_if_half_wiped(make_pipeline(target, destination, steps)),
                pipelines_root / name,
                target.duckdb_path,
            )
        )
        if cursor_value(pipeline) is None and not duckdb_file.not_created_yet(pipeline):
            pipeline.sync_destination()  # a fresh machine restores the cursor from there
        cursor_before = cursor_value(pipeline)
        record.cursor_before = iso(cursor_before)
        with progress_reporter(stats, steps, quiet=quiet, period=progress_every):
            run_catching_up(pipeline, source_args, stats)
        if target.duckdb_path is not None:  # for `dlt.attach(...)` readers, once it loaded
            duckdb_file.record_for_readers(pipeline, target.duckdb_path)
        record.rows, record.cursor_after = rows_loaded(pipeline), iso(cursor_value(pipeline))
        elapsed = time.monotonic() - started
        print_summary(pipeline, stats, cursor_before, elapsed, location=location,
                      dataset=target.dataset, org=target.org)  # fmt: skip
        record_success(pipelines_root / name, target)  # last: `--check-freshness` reads it
    return finished_status(stats, target.org)


def dlt_destination(target: Target) -> tuple[Any, str]:
    """The dlt destination of `target` and how the summary names it.

    A DuckDB file is refused first if it cannot be loaded (before any request), and loads
    with the bounded memory and threads of `duckdb_file.credentials`.
    """
    path = target.duckdb_path
    if path is None:
        return target.destination, lake.describe(target.destination)
    duckdb_file.ready_for_load(path, target.dataset)
    return dlt.destinations.duckdb(credentials=duckdb_file.credentials(path)), f"duckdb {path}"


def make_pipeline(
    target: Target, destination: Any, progress: StepCollector | None = None
) -> Pipeline:
    """The dlt pipeline; `progress` learns which dlt step runs (for the progress display)."""
    return dlt.pipeline(
        pipeline_name=target.pipeline_name,
        destination=destination,
        dataset_name=target.dataset,
        progress=progress or StepCollector(),
    )


def run_catching_up(
    pipeline: Pipeline, source_args: Mapping[str, Any], stats: ScanStats | None = None
) -> ScanStats:
    """Finish what a killed run left behind, then load what is new.

    dlt ignores new data while load packages are pending, so a run after a crash would only
    finish the old package. Completing it first (its state commits with it) and then building
    the source from that state makes the same run also catch up with the API. `stats` (new
    if not given) counts the run as it goes, for a progress display on another thread.
    Every row loaded carries its load's `_dlt_load_id` (`load_id_on_every_row`).
    """
    with load_id_on_every_row():
        return _catch_up_and_load(pipeline, source_args, stats)


def _catch_up_and_load(
    pipeline: Pipeline, source_args: Mapping[str, Any], stats: ScanStats | None
) -> ScanStats:
    loaded = False
    staging_owed = owe_staging_drop(pipeline)  # before loading: a kill after the load drops it
    if pipeline.has_pending_data:
        owe_repair(pipeline)
        delete_state_rows_a_resume_would_repeat(pipeline)
        pipeline.run()
        loaded = True
    if repair_if_owed(pipeline) is not None:
        loaded = True  # the tables changed: the views are rebuilt like after any load
    stats = stats if stats is not None else ScanStats()
    source = opencx(**source_args, stats=stats)
    if lake.is_filesystem(pipeline.destination):  # plain Parquet or Delta: see lake's doc
        source = lake.for_files(source, lake.table_format_of(pipeline.destination), stats.notes)
    if cursor_value(pipeline) is None and first_load.destination_is_empty(pipeline):
        first_load.append_into_empty_tables(source)
    declare_views(source, pipeline.destination)  # so `pipeline.dataset()` reads the views too
    with duckdb_file.held_for_the_run(pipeline), batches_built_as_they_arrive():
        info = pipeline.run(source)
        loaded = loaded or info is None or bool(info.loads_ids)
        # the dashboards read the tables just loaded; a run that loaded nothing keeps them as is
        where = duckdb_file.file_of(pipeline)
        views = create_views(pipeline, stats.notes, loaded=loaded, where=where)
        comment_dataset(pipeline, views_replaced=bool(views), where=where)
        if loaded:
            prune_state_history(pipeline)
        drop_staging_if_owed(pipeline, loaded or staging_owed, stats.notes)  # readers see no copy
    return stats


def cursor_value(pipeline: Pipeline) -> Any:
    """The stored `last_seen_at` cursor, or None before the first load."""
    return stored_cursor(pipeline.state)
