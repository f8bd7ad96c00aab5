"""The summary a load prints: rows per table, requests, retries, time, cursor movement, notes.

What a cron log needs of a run that loaded, on stdout; the same lines go to the log file (if
any), where an operator reads runs side by side. The cursor is written as every instant of a
run is (`sources.opencx.clock.format_timestamp`: `2026-12-07T18:00:00.000Z`).
"""

from __future__ import annotations

import logging
from typing import Any

from dlt import Pipeline

from pipelines.output.logs import log_to_file
from sources.opencx import stored_cursor
from sources.opencx.batches import ScanStats
from sources.opencx.clock import format_timestamp

summary_logger = logging.getLogger("pipelines.summary")
SUMMARY_TABLES = (
    "insights", "categories", "teams", "people", "insight_history", "insight_activity",
)  # fmt: skip


def rows_loaded(pipeline: Pipeline) -> dict[str, int]:
    """Rows this run's load wrote per table (every table, 0 for those it did not touch)."""
    trace = pipeline.last_trace
    normalize = trace.last_normalize_info if trace else None
    counts = dict(normalize.row_counts) if normalize else {}
    return {table: int(counts.get(table, 0)) for table in SUMMARY_TABLES}


def print_summary(
    pipeline: Pipeline,
    stats: ScanStats,
    cursor_before: Any,
    elapsed: float,
    *,
    location: str,
    dataset: str,
    org: str | None = None,
) -> None:
    """Print the summary of `pipeline`'s load into `location` (and keep it in the log file).

    With several orgs, each block starts with `org <org>: `.
    """
    rows = ", ".join(f"{table} {n}" for table, n in rows_loaded(pipeline).items())
    requests = stats.requests.snapshot()
    throttled = f", 429s {requests.rate_limited}" if requests.rate_limited else ""
    cursor_after = stored_cursor(pipeline.state)
    lines = [
        f"{'' if org is None else f'org {org}: '}loaded into {location}, "
        f"dataset {dataset} (pipeline {pipeline.pipeline_name})",
        f"  strategy: {stats.strategy}, unchanged skipped: {stats.unchanged}, "
        f"marked deleted: {stats.deleted}",
        f"  rows merged: {rows}",
        f"  requests: {requests.requests} (retries {requests.retries}{throttled}), "
        f"elapsed {elapsed:.1f} s",
        f"  cursor last_seen_at: {_fmt(cursor_before)} -> {_fmt(cursor_after)}",
        *(f"  note: {_one_line(note)}" for note in stats.notes),
    ]
    for line in lines:
        print(line)
        log_to_file(summary_logger, logging.INFO, "%s", line)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _fmt(value: Any) -> str:
    return "none" if value is None else format_timestamp(value)
