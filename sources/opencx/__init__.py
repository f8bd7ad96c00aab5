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

from sources.opencx import internals, settings, table_hints
from sources.opencx.arguments import check_arguments
from sources.opencx.batches import ScanStats, SeenEntities
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
    table_shape,
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
    checked = check_arguments(locals())
    cursor = cursor_for_run(
        full_refresh and has_cursor(), checked.since, checked.until, checked.lookback_hours
    )
    scan_stats = stats if stats is not None else ScanStats()
    body = checked.filters.to_body()
    load_id = table_hints.load_id_added()
    pages = insight_pages(
        checked.client,
        body,
        scan_stats,
        start_page=checked.filters.page or 1,
        max_pages=checked.max_pages,
        full_scan=checked.full_refresh,
        max_deletion_checks=checked.max_deletion_checks,
        shape=table_shape(load_id=load_id),
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
    resources.append(
        insight_activity(
            checked.client,
            body,
            scan_stats,
            checked.windows,
            checked.max_pages,
            checked.since,
            checked.until,
            enabled=checked.activity,
            shape=table_shape(load_id=load_id),
        )
    )
    table_hints.describe_tables(resources, load_id=load_id)
    return resources


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
    keep_cursor: bool, since: datetime | None, until: datetime | None, lookback_hours: float
) -> dlt.sources.incremental[datetime]:
    """The `last_seen_at` cursor for this run's mode (bounds as `check_arguments` returns them).

    A bounded backfill, or a full refresh once a cursor exists (`keep_cursor`), gets an
    explicit range, which dlt evaluates on a throw-away state: neither can move the stored
    cursor of the scheduled runs. A first run, full refresh or not, sets it.
    """
    if since is None and until is None and not keep_cursor:
        return dlt.sources.incremental(
            CURSOR, lag=lookback_hours * 3600, on_cursor_value_missing="include"
        )
    return dlt.sources.incremental(
        CURSOR,
        initial_value=since or EPOCH,
        end_value=until or FAR_FUTURE,
        on_cursor_value_missing="include",
    )
