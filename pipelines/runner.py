"""Runs the OpenCX pipeline: config, destination, the optional demo simulator, the summary.

dlt does the loading; this module only decides *where* (a DuckDB path independent of the working
directory, a fixed pipeline name so ``dlt pipeline opencx_insights info`` works) and reports.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import sys
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dlt
from dlt import Pipeline
from dlt.common.configuration.providers import SettingsTomlProvider

from pipelines import duckdb_file, first_load, first_run_cleanup, lake, orgs, run_settings
from pipelines.errors import UNEXPECTED_EXIT, describe_failure, finished_status
from pipelines.logs import log_to_file
from pipelines.owed_repair import owe_repair, repair_if_owed
from pipelines.progress import progress_reporter
from pipelines.report_json import PipelineRun, RunReport, iso
from pipelines.run_defaults import batches_built_as_they_arrive
from pipelines.runlock import run_lock
from pipelines.state_table import delete_state_rows_a_resume_would_repeat, prune_state_history
from pipelines.working_folder import drop_if_half_wiped
from sources.opencx import opencx, settings, stored_cursor
from sources.opencx.batches import ScanStats
from sources.opencx.clock import utc_now
from sources.opencx.internals import StepCollector, pipelines_dir
from sources.opencx.views import create_views

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DUCKDB = PROJECT_ROOT / "data" / "opencx_insights.duckdb"
DEMO_DUCKDB = PROJECT_ROOT / "data" / "opencx_demo.duckdb"
DEMO_API_KEY = "ocx_demo_key"
# what the demo sets whatever the configuration (the simulator adds its base URL)
DEMO_SETTINGS: dict[str, Any] = {
    "api_key": DEMO_API_KEY,
    "requests_per_minute": 0,
    "activity": True,
    "activity_initial_days": 60,  # top_insights_30d and the 30 days before
}
ROOT_CONFIG_PROVIDER = "opencx_root_config.toml"
summary_logger = logging.getLogger("pipelines.summary")
SUMMARY_TABLES = (
    "insights", "categories", "teams", "people", "insight_history", "insight_activity",
)  # fmt: skip


@dataclass
class RunTarget:
    """Where this run loads and under which pipeline name."""

    pipeline_name: str
    destination: Any
    dataset: str
    description: str
    source_args: dict[str, Any] = field(default_factory=dict)
    duckdb_path: Path | None = None


def register_root_config() -> None:
    """Read the project's root ``config.toml`` after env vars and ``.dlt/`` (those win)."""
    providers = dlt.config.config_providers
    if any(p.name == ROOT_CONFIG_PROVIDER for p in providers):
        return
    provider = SettingsTomlProvider(ROOT_CONFIG_PROVIDER, False, "config.toml", [str(PROJECT_ROOT)])
    dlt.config.register_provider(provider)


def duckdb_path(args: argparse.Namespace, demo: bool, org: str | None = None) -> str:
    """DuckDB file, absolute: flag, then dlt config/env, then the default in the project.

    Relative paths are taken from the project, like the default, so cron and a shell started
    anywhere write the same file. Each org (`--orgs`) has its own default file; a configured
    file is shared by the orgs, each in its own dataset.
    """
    if args.duckdb_path:
        return str(duckdb_file.project_path(args.duckdb_path))
    if demo:
        return str(DEMO_DUCKDB)
    configured = duckdb_file.configured_location()
    if configured:
        return str(duckdb_file.project_path(configured))
    return str(DEFAULT_DUCKDB if org is None else DEFAULT_DUCKDB.with_stem(orgs.pipeline_name(org)))


def resolve_target(args: argparse.Namespace, demo: bool, org: str | None = None) -> RunTarget:
    """Destination, dataset and pipeline name for this run (of `org`, with `--orgs`).

    For DuckDB, also refuses a file that cannot be loaded (before any request) and records the
    file for `dlt.attach(...)` readers.
    """
    name = target_pipeline_name(demo, org)
    dataset = target_dataset(args, org)
    destination_name = args.destination or "duckdb"
    if destination_name != "duckdb":
        return RunTarget(name, destination_name, dataset, lake.describe(destination_name))
    path = Path(duckdb_path(args, demo, org))
    check_duckdb_file(path, dataset)
    destination = dlt.destinations.duckdb(credentials=duckdb_file.credentials(path))
    return RunTarget(name, destination, dataset, f"duckdb {path}", duckdb_path=path)


def target_pipeline_name(demo: bool, org: str | None = None) -> str:
    """The dlt pipeline (state, cursor, lock) of the demo, of `org`, or of the one-org run."""
    if org is not None:
        return orgs.pipeline_name(org)
    return settings.DEMO_PIPELINE_NAME if demo else settings.PIPELINE_NAME


def target_dataset(args: argparse.Namespace, org: str | None = None) -> str:
    """`--dataset` (default `opencx`), suffixed with `_<org>` for an org."""
    if org is not None:
        return orgs.dataset_name(args.dataset, org)
    return str(args.dataset or settings.DATASET_NAME)


def check_duckdb_file(path: Path, dataset: str) -> None:
    """Refuse a file named like the dataset (DuckDB confuses the two) or held by another process."""
    duckdb_file.check_file_name(path, dataset)
    path.parent.mkdir(parents=True, exist_ok=True)
    duckdb_file.ensure_not_in_use(path)


@contextlib.contextmanager
def demo_simulator(args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    """Start the bundled simulator; the demo never talks to api.open.cx."""
    from sources.opencx_simulator import Simulator, SimulatorConfig  # noqa: PLC0415

    # Anchored to today's midnight so repeated demo runs see the same data all day: the
    # second run then shows what a scheduled run with nothing new does.
    today = utc_now().replace(hour=0, minute=0, second=0, microsecond=0)
    config = SimulatorConfig(
        seed=args.demo_seed,
        n_insights=args.demo_insights,
        now=today,
        api_keys={DEMO_API_KEY: ("*",)},
        # per-day session counts, so the dashboard views and the report have sessions to show
        window_scoped_counts=True,
    )
    with Simulator(config) as sim:
        print(f"demo: simulator with {args.demo_insights} insights at {sim.base_url}")
        yield {"base_url": sim.base_url, **DEMO_SETTINGS}


def checked_settings(args: argparse.Namespace, org: str | None) -> run_settings.CheckedSettings:
    """Every setting of the pipeline of `org` checked; the run and `--dry-run` both call this."""
    destination = args.destination or "duckdb"
    path = Path(duckdb_path(args, args.demo, org)) if destination == "duckdb" else None
    return run_settings.check_settings(
        args,
        org,
        duckdb_path=path,
        dataset=target_dataset(args, org),
        fixed=DEMO_SETTINGS if args.demo else None,
    )


def make_pipeline(target: RunTarget, progress: StepCollector | None = None) -> Pipeline:
    """The dlt pipeline; `progress` learns which dlt step runs (for the progress display)."""
    return dlt.pipeline(
        pipeline_name=target.pipeline_name,
        destination=target.destination,
        dataset_name=target.dataset,
        progress=progress or StepCollector(),
    )


def run(args: argparse.Namespace) -> int:
    """The command: a dry run, one load, or one load per org; returns the exit status.

    Errors propagate to the caller's reporter (one line, exit status); `--report-json` is
    written whatever happens, with the same line and status.
    """
    register_root_config()
    if args.dry_run:
        from pipelines.dry_run import dry_run  # noqa: PLC0415 - only for --dry-run

        return dry_run(args)
    report = RunReport.start(args.report_json)
    try:
        org_names = orgs.configured_orgs(args)
        if org_names:
            status = run_orgs(args, org_names, report)
        else:
            status = run_pipeline(args, None, report.new_run(None))
        report.finish(status)
    except BaseException as exc:
        report.fail(exc)
        raise
    finally:
        report.write()
    return status


def run_orgs(args: argparse.Namespace, org_names: list[str], report: RunReport) -> int:
    """Each org in turn; one org's failure does not stop the next (Ctrl-C stops them all).

    Each failure prints its own `error: org <org>: ...` line; the exit status is the first
    failing org's (see `orgs.combined_status`).
    """
    statuses = []
    for org in org_names:
        record = report.new_run(org)
        try:
            statuses.append(run_pipeline(args, org, record))
        except Exception as exc:
            statuses.append(report_org_failure(org, exc, args))
    return orgs.combined_status(statuses)


def report_org_failure(org: str, exc: Exception, args: argparse.Namespace) -> int:
    """The failed org's one line on stderr (and the log file), a line in the summary."""
    if args.verbose:
        traceback.print_exception(exc, file=sys.stderr)
    message, status = describe_failure(exc)
    message = orgs.for_org(org, message)
    print(f"error: org {org}: {message}", file=sys.stderr)
    unexpected = exc if status == UNEXPECTED_EXIT else None
    log_to_file(summary_logger, logging.ERROR, "error (exit %d): org %s: %s", status, org,
                message, exc=unexpected)  # fmt: skip
    if not args.quiet:
        print(f"org {org}: nothing loaded (exit {status})")
    return status


def run_pipeline(args: argparse.Namespace, org: str | None, record: PipelineRun) -> int:
    """One pipeline's load (the one-org run's, or `org`'s); `record` keeps what it did."""
    try:
        status = _load(args, org, record)
    except BaseException as exc:
        record.fail(exc)
        raise
    record.finish(status)
    return status


def _load(args: argparse.Namespace, org: str | None, record: PipelineRun) -> int:
    """One load; returns the exit status (errors propagate to the caller's reporter).

    Every setting is checked first (as `--dry-run` checks them); then the pipeline's lock, so a
    second run of the same pipeline stops before touching the destination (whose DuckDB file
    the first run holds), the state or the API. A run that fails before a load completed
    removes the pipeline folder and DuckDB file it created (`first_run_cleanup`); a folder a
    killed run left half deleted is dropped first (`working_folder`).
    """
    started = time.monotonic()
    source_args = checked_settings(args, org).source_args
    name = target_pipeline_name(args.demo, org)
    record.pipeline, record.destination = name, args.destination or "duckdb"
    stats = record.stats = ScanStats()
    pipelines_root = pipelines_dir()
    with contextlib.ExitStack() as stack:
        stack.enter_context(run_lock(pipelines_root, name))
        if args.quiet:  # nothing on stdout on success, whoever would print there
            stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
        if args.demo:
            source_args = {**source_args, **stack.enter_context(demo_simulator(args))}
        target = resolve_target(args, args.demo, org)
        if target.duckdb_path is not None:
            stack.enter_context(duckdb_file.one_load_job_at_a_time())
        record.location, record.dataset = target.description, target.dataset
        steps = StepCollector()
        pipeline = stack.enter_context(
            first_run_cleanup.undone_unless_loaded(
                lambda: drop_if_half_wiped(make_pipeline(target, steps)),
                pipelines_root / name,
                target.duckdb_path,
            )
        )
        if cursor_value(pipeline) is None and not duckdb_file.not_created_yet(pipeline):
            pipeline.sync_destination()  # a fresh machine restores the cursor from there
        cursor_before = cursor_value(pipeline)
        record.cursor_before = iso(cursor_before)
        with progress_reporter(stats, steps, quiet=args.quiet, period=args.progress_every):
            run_catching_up(pipeline, source_args, stats)
        if target.duckdb_path is not None:  # for `dlt.attach(...)` readers, once it loaded
            duckdb_file.record_for_readers(pipeline, target.duckdb_path)
        record.rows, record.cursor_after = rows_loaded(pipeline), iso(cursor_value(pipeline))
        print_summary(pipeline, target, stats, cursor_before, time.monotonic() - started, org=org)
    return finished_status(stats, org)


def run_catching_up(
    pipeline: Pipeline, source_args: dict[str, Any], stats: ScanStats | None = None
) -> ScanStats:
    """Finish what a killed run left behind, then load what is new.

    dlt ignores new data while load packages are pending, so a run after a crash would only
    finish the old package. Completing it first (its state commits with it) and then building
    the source from that state makes the same run also catch up with the API. `stats` (new
    if not given) counts the run as it goes, for a progress display on another thread.
    """
    loaded = False
    if pipeline.has_pending_data:
        owe_repair(pipeline)
        delete_state_rows_a_resume_would_repeat(pipeline)
        pipeline.run()
        loaded = True
    if repair_if_owed(pipeline) is not None:
        loaded = True  # the tables changed: the views are rebuilt like after any load
    stats = stats if stats is not None else ScanStats()
    source = opencx(**source_args, stats=stats)
    if lake.is_filesystem(pipeline.destination):  # plain Parquet or Delta: see pipelines.lake
        source = lake.for_files(source, lake.table_format_of(pipeline.destination), stats.notes)
    if cursor_value(pipeline) is None and first_load.destination_is_empty(pipeline):
        first_load.append_into_empty_tables(source)
    with duckdb_file.held_for_the_run(pipeline), batches_built_as_they_arrive():
        info = pipeline.run(source)
        loaded = loaded or info is None or bool(info.loads_ids)
        # the dashboards read the tables just loaded; a run that loaded nothing keeps them as is
        create_views(pipeline, stats.notes, loaded=loaded, where=duckdb_file.file_of(pipeline))
        if loaded:
            prune_state_history(pipeline)
    return stats


def cursor_value(pipeline: Pipeline) -> Any:
    """The stored `last_seen_at` cursor, or None before the first load."""
    return stored_cursor(pipeline.state)


def rows_loaded(pipeline: Pipeline) -> dict[str, int]:
    """Rows this run's load wrote per table (every table, 0 for those it did not touch)."""
    trace = pipeline.last_trace
    normalize = trace.last_normalize_info if trace else None
    counts = dict(normalize.row_counts) if normalize else {}
    return {table: int(counts.get(table, 0)) for table in SUMMARY_TABLES}


def print_summary(
    pipeline: Pipeline,
    target: RunTarget,
    stats: ScanStats,
    cursor_before: Any,
    elapsed: float,
    *,
    org: str | None = None,
) -> None:
    """What a cron log needs: rows per table, requests, retries, time, cursor movement, notes.

    The same lines go to the log file (if any), where an operator reads runs side by side.
    With several orgs, each block starts with `org <org>: `.
    """
    rows = ", ".join(f"{table} {n}" for table, n in rows_loaded(pipeline).items())
    requests = stats.requests.snapshot()
    throttled = f", 429s {requests.rate_limited}" if requests.rate_limited else ""
    lines = [
        f"{'' if org is None else f'org {org}: '}loaded into {target.description}, "
        f"dataset {target.dataset} (pipeline {pipeline.pipeline_name})",
        f"  strategy: {stats.strategy}, unchanged skipped: {stats.unchanged}, "
        f"marked deleted: {stats.deleted}",
        f"  rows merged: {rows}",
        f"  requests: {requests.requests} (retries {requests.retries}{throttled}), "
        f"elapsed {elapsed:.1f} s",
        f"  cursor last_seen_at: {_fmt(cursor_before)} -> {_fmt(cursor_value(pipeline))}",
        *(f"  note: {_one_line(note)}" for note in stats.notes),
    ]
    for line in lines:
        print(line)
        log_to_file(summary_logger, logging.INFO, "%s", line)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _fmt(value: Any) -> str:
    return "none" if value is None else str(value)
