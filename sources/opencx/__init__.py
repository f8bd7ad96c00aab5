"""dlt source for OpenCX insights (``POST /insights``) into relational tables.

The `opencx` function's signature is the whole configuration surface: every parameter can be set
in ``config.toml`` under ``[sources.opencx]``, as ``SOURCES__OPENCX__<NAME>`` in the environment,
or passed directly. The API key belongs in ``.dlt/secrets.toml`` or the environment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import dlt
from dlt.common.exceptions import PipelineStateNotAvailable, SourceSectionNotAvailable
from dlt.common.typing import TSecretStrValue
from dlt.sources import DltResource

from sources.opencx import internals, options, settings
from sources.opencx.activity import WindowSettings
from sources.opencx.batches import ScanStats, SeenEntities
from sources.opencx.client import ClientSettings
from sources.opencx.errors import ConfigValueError
from sources.opencx.filters import FILTER_FIELDS, build_filters, parse_timestamp
from sources.opencx.resources import (
    CURSOR,
    EPOCH,
    FAR_FUTURE,
    HISTORY_DISPOSITION,
    INSIGHTS_DISPOSITION,
    PAGES,
    InsightTables,
    categories,
    insight_activity,
    insight_history,
    insight_pages,
    insights,
    people,
    teams,
)

__all__ = ["opencx", "stored_cursor"]


@dlt.source(name="opencx", max_table_nesting=0)
def opencx(
    api_key: TSecretStrValue = dlt.secrets.value,
    base_url: str = settings.DEFAULT_BASE_URL,
    category: str | None = None,
    status: str | None = None,
    sentiment: str | None = None,
    sort_by: str | None = None,
    sort_order: str | None = None,
    min_sessions: int | None = None,
    search: str | None = None,
    team_id: str | None = None,
    insight_number: int | None = None,
    session_language: str | None = None,
    ticket_sentiment: str | None = None,
    channel: str | None = None,
    session_from_date: str | None = None,
    session_to_date: str | None = None,
    session_status: str | None = None,
    session_contact_id: str | None = None,
    ticket_custom_data: list[dict[str, Any]] | None = None,
    contact_custom_data: list[dict[str, Any]] | None = None,
    page: int | None = None,
    full_refresh: bool = False,
    since: str | None = None,
    until: str | None = None,
    lookback_hours: float = settings.DEFAULT_LOOKBACK_HOURS,
    requests_per_minute: float | None = settings.DEFAULT_REQUESTS_PER_MINUTE,
    timeout_seconds: float = settings.DEFAULT_TIMEOUT_SECONDS,
    max_attempts: int = settings.DEFAULT_MAX_ATTEMPTS,
    backoff_base_seconds: float = 0.5,
    max_pages: int = settings.DEFAULT_MAX_PAGES,
    concurrency: int = settings.DEFAULT_CONCURRENCY,
    max_deletion_checks: int = settings.DEFAULT_MAX_DELETION_CHECKS,
    activity: bool = False,
    activity_window_hours: float = 24.0,
    activity_reread_windows: int = 3,
    activity_initial_days: float = 30.0,
    activity_include_open_window: bool = False,
    stats: ScanStats | None = None,
) -> Sequence[DltResource]:
    """OpenCX insights with their categories, teams and people.

    Without state (first run) or with `full_refresh`, every insight is read sorted by creation;
    otherwise only insights seen since the stored `last_seen_at` cursor minus `lookback_hours`.
    `since`/`until` bound a backfill on `last_seen_at` and leave the stored cursor untouched.
    A reconciliation asks for each insight it did not see, up to `max_deletion_checks`, and
    marks only those the API confirms gone.
    Filters (category ... page) are sent as the request body; `page` is the first page to read.
    `activity` adds the per-session-date-window table `insight_activity` (more requests).
    `stats` is not configuration: pass a `ScanStats` to read the run's request counts after it.
    """
    local = dict(locals())
    filters = build_filters(
        {name: local[name] for name in FILTER_FIELDS if local[name] is not None}
    )
    client_settings = ClientSettings(
        api_key=options.api_key(api_key),
        base_url=base_url,
        timeout_seconds=options.bounded(
            "timeout_seconds", timeout_seconds, 0, 3600, low_inclusive=False
        ),
        max_attempts=options.whole("max_attempts", max_attempts, 1, 100),
        backoff_base_seconds=options.bounded("backoff_base_seconds", backoff_base_seconds, 0, 60),
        requests_per_minute=options.bounded("requests_per_minute", requests_per_minute or 0, 0, 1e6)
        or None,
        max_connections=options.whole("concurrency", concurrency, 1, 32),
    )
    cursor = cursor_for_run(full_refresh and has_cursor(), since, until, lookback_hours)
    scan_stats = stats if stats is not None else ScanStats()
    page_cap = options.whole("max_pages", max_pages, 1, 10_000_000)
    windows = window_settings(
        activity_window_hours,
        activity_reread_windows,
        activity_initial_days,
        activity_include_open_window,
    )
    pages = insight_pages(
        client_settings,
        filters.to_body(),
        scan_stats,
        start_page=filters.page or 1,
        max_pages=page_cap,
        full_scan=full_refresh,
        max_deletion_checks=options.whole("max_deletion_checks", max_deletion_checks, 0, 100_000),
        last_seen_at=cursor,
    )
    seen, tables = SeenEntities(), InsightTables()
    resources = [
        pages,
        (pages | insights(scan_stats, tables)).apply_hints(write_disposition=INSIGHTS_DISPOSITION),
        (pages | insight_history(tables)).apply_hints(write_disposition=HISTORY_DISPOSITION),
        pages | categories(seen),
        pages | teams(seen),
        pages | people(seen),
    ]
    if activity:
        resources.append(
            insight_activity(
                client_settings,
                filters.to_body(),
                scan_stats,
                windows,
                page_cap,
                parse_timestamp("since", since) if since is not None else None,
                parse_timestamp("until", until) if until is not None else None,
            )
        )
    return resources


def window_settings(
    window_hours: float, reread_windows: int, initial_days: float, include_open: bool
) -> WindowSettings:
    """Validated activity window settings (checked even when `activity` is off)."""
    return WindowSettings(
        options.bounded("activity_window_hours", window_hours, 1 / 60, 24 * 366),
        options.whole("activity_reread_windows", reread_windows, 0, 10_000),
        options.bounded("activity_initial_days", initial_days, 0, 3660, low_inclusive=False),
        include_open,
    )


def has_cursor() -> bool:
    """Whether an earlier load stored the `last_seen_at` cursor (dlt state, read only here)."""
    try:
        state = dlt.current.source_state()
    except (PipelineStateNotAvailable, SourceSectionNotAvailable):
        return False
    pages = internals.resource_state_in_source(state, PAGES)
    return internals.incremental_last_value(pages, CURSOR) is not None


def stored_cursor(pipeline_state: Mapping[str, Any] | None) -> Any:
    """The `last_seen_at` cursor the last load committed in `pipeline_state`, or None."""
    pages = internals.resource_state(pipeline_state, opencx.name, PAGES)
    return internals.incremental_last_value(pages, CURSOR)


def cursor_for_run(
    keep_cursor: bool, since: str | None, until: str | None, lookback_hours: float
) -> dlt.sources.incremental[datetime]:
    """The `last_seen_at` cursor for this run's mode.

    A bounded backfill, or a full refresh once a cursor exists (`keep_cursor`), gets an
    explicit range, which dlt evaluates on a throw-away state: neither can move the stored
    cursor of the scheduled runs. A first run, full refresh or not, sets it.
    """
    lag_hours = options.bounded("lookback_hours", lookback_hours, 0, 24 * 3660)
    if since is None and until is None and not keep_cursor:
        return dlt.sources.incremental(
            CURSOR, lag=lag_hours * 3600, on_cursor_value_missing="include"
        )
    start = parse_timestamp("since", since) if since is not None else EPOCH
    end = parse_timestamp("until", until) if until is not None else FAR_FUTURE
    if start >= end:
        if since is None:
            raise ConfigValueError(f"until {until} is not after 1970-01-01", "until")
        raise ConfigValueError(f"since {since} is not before until {until}", "since")
    return dlt.sources.incremental(
        CURSOR, initial_value=start, end_value=end, on_cursor_value_missing="include"
    )
