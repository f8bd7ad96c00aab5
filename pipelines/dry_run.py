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

import argparse
import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import dlt
from dlt.common.configuration import get_fun_spec, resolve_configuration

from pipelines import orgs
from pipelines.cli import source_overrides
from pipelines.errors import OK_EXIT
from pipelines.preflight import check_base_url_setting, check_destination
from sources.opencx import (
    internals,
    opencx,
    options,
    schema,
    settings,
    stored_cursor,
    window_settings,
)
from sources.opencx.activity import WindowSettings, plan_windows
from sources.opencx.errors import ConfigValueError
from sources.opencx.filters import FILTER_FIELDS, build_filters, format_timestamp, parse_timestamp
from sources.opencx.reconcile import covers_everything
from sources.opencx.resources import ACTIVITY_STATE_KEY
from sources.opencx.scan import plan_scan

NO_REQUEST_PAGES = "unknown without a request (the API tells the total with the first page)"


def dry_run(args: argparse.Namespace) -> int:
    """Print the plan of each pipeline the command would run (one per org); exit 0."""
    if args.demo:
        raise ConfigValueError(
            "--dry-run describes a run against the API; the demo starts its own simulator, "
            "run it without --dry-run"
        )
    targets: list[str | None] = [*orgs.configured_orgs(args)] or [None]
    print("dry run: nothing is requested, loaded or changed")
    for org in targets:
        for line in describe(args, org):
            print(line)
    return OK_EXIT


def describe(args: argparse.Namespace, org: str | None) -> Iterator[str]:
    """The plan of one pipeline (the one-org run's, or `org`'s), line by line."""
    from pipelines.runner import (  # noqa: PLC0415 - runner imports this module lazily
        duckdb_path,
        target_dataset,
        target_pipeline_name,
    )

    config, key_line = resolved_config(args, org)
    check_base_url_setting(config)
    filters = build_filters({n: config[n] for n in FILTER_FIELDS if config[n] is not None})
    body = filters.to_body()
    name = target_pipeline_name(False, org)
    destination = args.destination or "duckdb"
    check_destination(destination, reconciling=bool(config["full_refresh"]))
    where = f"duckdb {duckdb_path(args, False, org)}" if destination == "duckdb" else destination
    state_path = internals.local_state_path(name)
    state = internals.read_local_state(state_path)
    yield f"{'' if org is None else f'org {org}: '}pipeline {name}"
    yield f"  destination: {where}, dataset {target_dataset(args, org)}"
    yield f"  API: {config['base_url']}, {key_line}"
    yield from scan_lines(config, body, filters.page or 1, state)
    yield from activity_lines(config, state)
    kept = {k: v for k, v in body.items() if k not in ("sortBy", "sortOrder")}
    filters_text = json.dumps(kept, sort_keys=True, ensure_ascii=False) if kept else "none"
    start = "" if filters.page is None else f", from page {filters.page}"
    yield f"  filters: {filters_text}{start}"
    yield f"  local state: {state_path if state is not None else 'none'}"


def resolved_config(args: argparse.Namespace, org: str | None) -> tuple[dict[str, Any], str]:
    """Every source argument as the run would resolve it, and a line on the key (never it)."""
    overrides = source_overrides(args)
    if org is None:
        sections = ("sources", settings.SOURCE_SECTION, settings.SOURCE_SECTION)
        key_name = "sources.opencx.api_key"
    else:
        sections = ("sources", settings.SOURCE_SECTION, org)
        key_name = orgs.api_key_key(org)
        org_key: Any = dlt.secrets.get(key_name)
        overrides = {**overrides, "api_key": org_key or ""}
    config = resolve_configuration(
        get_fun_spec(opencx)(), sections=sections, explicit_value=overrides, accept_partial=True
    )
    values = {name: config[name] for name in config if name != "stats"}
    configured = bool(values.get("api_key"))
    key_line = f"key {'configured' if configured else 'MISSING'} ({key_name})"
    return values, key_line


def _as_datetime(value: Any) -> datetime | None:
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.astimezone(timezone.utc)


def scan_lines(
    config: dict[str, Any], body: dict[str, Any], start_page: int, state: dict[str, Any] | None
) -> Iterator[str]:
    """Mode, sort, cursor and stop point, pages: mirrors `insight_pages`' choice."""
    cursor = _as_datetime(stored_cursor(state))
    lookback = options.bounded("lookback_hours", config["lookback_hours"], 0, 24 * 3660)
    max_pages = options.whole("max_pages", config["max_pages"], 1, 10_000_000)
    since, until = config["since"], config["until"]
    start: datetime | None = None
    if since is not None or until is not None:
        start = parse_timestamp("since", since) if since is not None else None
        end = parse_timestamp("until", until) if until is not None else None
        mode = (
            f"backfill of insights last seen in [{_moment(start, 'the beginning')}, "
            f"{_moment(end, 'now')}); the stored cursor does not move"
        )
        full_scan = bool(config["full_refresh"]) or start is None
    elif cursor is None:
        mode = "first run: full scan, sets the cursor"
        if state is None:
            mode += (
                " (no local state; the run would first restore it from the destination, "
                "and be incremental if the destination has it)"
            )
        full_scan = True
    elif config["full_refresh"]:
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


def activity_lines(config: dict[str, Any], state: dict[str, Any] | None) -> Iterator[str]:
    """The session-date windows `insight_activity` would read (first, last, how many)."""
    windows_settings: WindowSettings = window_settings(
        config["activity_window_hours"],
        config["activity_reread_windows"],
        config["activity_initial_days"],
        config["activity_include_open_window"],
    )
    if not config["activity"]:
        yield "  activity: off"
        return
    activity = internals.resource_state(state, opencx.name, schema.ACTIVITY)
    stored = activity.get(ACTIVITY_STATE_KEY)
    since, until = config["since"], config["until"]
    windows = plan_windows(
        datetime.now(timezone.utc),
        _as_datetime(stored),
        windows_settings,
        parse_timestamp("since", since) if since is not None else None,
        parse_timestamp("until", until) if until is not None else None,
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
