"""`--dry-run`: what a run would request and where it would load, without doing any of it.

Before pointing a schedule at a warehouse, or after changing a filter, an operator wants to see
the mode the next run takes (first run, scheduled incremental, reconciliation, backfill), where
it stops, what it sends and where it writes. A dry run answers from the configuration and the
pipeline's local state file alone: no request (so not even the page count of a full scan,
which only the API's first page tells), no lock, no DuckDB connection, no write.

dlt's `sync_destination` would restore a missing local state from the destination, but it
writes the local state doing so; a dry run only says that the run would do it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any, Final

from pipelines.command.orgs import configured_orgs
from pipelines.command.request import RunRequest
from pipelines.command.settings import check_settings
from pipelines.failures import OK_EXIT, combined_status
from pipelines.output.outcome import report_org_failure
from pipelines.output.report_json import RunReport
from sources.opencx import internals, opencx, schema, stored_cursor
from sources.opencx.activity import plan_windows
from sources.opencx.arguments import SourceArguments
from sources.opencx.clock import as_utc, format_timestamp, utc_now
from sources.opencx.errors import ConfigValueError
from sources.opencx.reconcile import covers_everything
from sources.opencx.resources import ACTIVITY_STATE_KEY
from sources.opencx.scan import plan_scan

HEADER: Final = "dry run: nothing is requested, loaded or changed"
NO_REQUEST_PAGES = "unknown without a request (the API tells the total with the first page)"


def dry_run(request: RunRequest) -> int:
    """Print the plan of each pipeline the command would run (one per org); its exit status.

    Every setting is checked by the run's own check (`settings.check_settings`), so a setting
    the run refuses ends the dry run with the same line and status. With several orgs, an org
    whose settings fail prints the run's `error: org <org>: ...` line and the others are
    planned, as the run would load them.
    """
    RunReport.start(request.report_json)  # the run's check of the path; a dry run writes none
    org_names = configured_orgs(request)
    if request.demo:
        raise ConfigValueError(
            "--dry-run describes a run against the API; the demo starts its own simulator, "
            "run it without --dry-run"
        )
    if not org_names:
        lines = list(describe(request, None))  # a bad setting raises before anything is printed
        print(HEADER)
        print("\n".join(lines))
        return OK_EXIT
    print(HEADER)
    return combined_status([plan_org(request, org) for org in org_names])


def plan_org(request: RunRequest, org: str) -> int:
    """Print `org`'s plan, or its error as the run prints it; the status the run would end with."""
    try:
        lines = list(describe(request, org))
    except Exception as exc:
        return report_org_failure(org, exc, verbose=request.verbose, quiet=request.quiet)
    print("\n".join(lines))
    return OK_EXIT


def describe(request: RunRequest, org: str | None) -> Iterator[str]:
    """The plan of one pipeline (the one-org run's, or `org`'s), line by line."""
    checked = check_settings(request, org)
    config, arguments, target = checked.config, checked.arguments, checked.target
    body = arguments.filters.to_body()
    name = target.pipeline_name
    where = target.destination if target.duckdb_path is None else f"duckdb {target.duckdb_path}"
    state_path = internals.local_state_path(name)
    state = internals.read_local_state(state_path)
    yield f"{'' if org is None else f'org {org}: '}pipeline {name}"
    yield f"  destination: {where}, dataset {target.dataset}"
    yield f"  API: {config['base_url']}, key configured ({checked.key_name})"
    yield from scan_lines(arguments, body, state)
    yield from activity_lines(arguments, state)
    kept = {k: v for k, v in body.items() if k not in ("sortBy", "sortOrder")}
    filters_text = json.dumps(kept, sort_keys=True, ensure_ascii=False) if kept else "none"
    page = arguments.filters.page
    start = "" if page is None else f", from page {page}"
    yield f"  filters: {filters_text}{start}"
    yield f"  local state: {state_path if state is not None else 'none'}"


def _as_datetime(value: Any) -> datetime | None:
    """A stored instant (a datetime, or ISO 8601 text in a state file) in UTC; None stays."""
    return None if value is None else as_utc(value if isinstance(value, datetime) else str(value))


def scan_lines(
    arguments: SourceArguments, body: dict[str, Any], state: dict[str, Any] | None
) -> Iterator[str]:
    """Mode, sort, cursor and stop point, pages: mirrors `insight_pages`' choice."""
    cursor = _as_datetime(stored_cursor(state))
    lookback, max_pages = arguments.lookback_hours, arguments.max_pages
    start_page = arguments.filters.page or 1
    since, until = arguments.since, arguments.until
    start: datetime | None = None
    if since is not None or until is not None:
        start = since
        mode = (
            f"backfill of insights last seen in [{_moment(since, 'the beginning')}, "
            f"{_moment(until, 'now')}); the stored cursor does not move"
        )
        full_scan = arguments.full_refresh or start is None
    elif cursor is None:
        mode = "first run: full scan, sets the cursor"
        if state is None:
            mode += (
                " (no local state; the run would first restore it from the destination, "
                "and be incremental if the destination has it)"
            )
        full_scan = True
    elif arguments.full_refresh:
        mode = (
            "reconciliation: full scan, merges, marks confirmed deletions; keeps the cursor"
            if covers_everything(body, start_page)
            else "full scan with narrowing filters: merges, marks no deletions; keeps the cursor"
        )
        full_scan = True
    else:
        start = cursor - timedelta(hours=lookback)
        mode = "scheduled incremental: recent first, down to the cursor minus the lookback"
        full_scan = False
    plan = plan_scan(body, start, full_scan=full_scan, start_page=start_page, max_pages=max_pages)
    yield f"  mode: {mode}"
    yield f"  sort: {plan.body['sortBy']} {plan.body['sortOrder']}"
    cursor_text = "none" if cursor is None else format_timestamp(cursor)
    if plan.stop_below is not None:
        yield (
            f"  cursor last_seen_at: {cursor_text}; stops at the first page reaching below "
            f"{format_timestamp(plan.stop_below)}"
            + ("" if since is not None else f" (cursor - {lookback:g} h lookback)")
        )
        yield f"  pages: {NO_REQUEST_PAGES}; at most {max_pages}"
    else:
        yield f"  cursor last_seen_at: {cursor_text}"
        yield f"  pages: all of them, {NO_REQUEST_PAGES}; at most {max_pages}"


def activity_lines(arguments: SourceArguments, state: dict[str, Any] | None) -> Iterator[str]:
    """The session-date windows `insight_activity` would read (first, last, how many)."""
    if not arguments.activity:
        yield "  activity: off"
        return
    activity = internals.resource_state(state, opencx.name, schema.ACTIVITY)
    stored = activity.get(ACTIVITY_STATE_KEY)
    windows_settings = arguments.windows
    windows = plan_windows(
        utc_now(),
        _as_datetime(stored),
        windows_settings,
        arguments.since,
        arguments.until,
    )
    first = last = None
    count = 0
    for window in windows:
        first = first or window
        last = window
        count += 1
    if first is None or last is None:
        yield "  activity: no window to read"
        return
    yield (
        f"  activity: {count} windows of {windows_settings.window_hours:g} h, first "
        f"[{format_timestamp(first[0])}, {format_timestamp(first[1])}), last "
        f"[{format_timestamp(last[0])}, {format_timestamp(last[1])}); at least one request each"
    )


def _moment(value: datetime | None, otherwise: str) -> str:
    """A resolved bound as the API would get it (`7d` shows as the time it stands for)."""
    return otherwise if value is None else format_timestamp(value)
