"""dlt source for OpenCX insights (``POST /insights``) into relational tables.

The `opencx` function's signature is the whole configuration surface: every parameter can be set
in ``config.toml`` under ``[sources.opencx]``, as ``SOURCES__OPENCX__<NAME>`` in the environment,
or passed directly. The API key belongs in ``.dlt/secrets.toml`` or the environment.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from typing import Any

import dlt
import pyarrow as pa
from dlt.common.typing import TSecretStrValue
from dlt.extract.resource import DltResource

from sources.opencx import rows, schema, settings
from sources.opencx.client import ClientSettings, OpenCXClient
from sources.opencx.errors import ConfigValueError
from sources.opencx.filters import FILTER_FIELDS, build_filters, parse_timestamp
from sources.opencx.scan import ScanStats, SeenEntities, batched_records, iter_pages, plan_scan

CURSOR = "last_seen_at"
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
FAR_FUTURE = datetime(9999, 1, 1, tzinfo=timezone.utc)


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
) -> Sequence[DltResource]:
    """OpenCX insights with their categories, teams and people.

    Without state (first run) or with `full_refresh`, every insight is read sorted by creation;
    otherwise only insights seen since the stored `last_seen_at` cursor minus `lookback_hours`.
    `since`/`until` bound a backfill on `last_seen_at` and leave the stored cursor untouched.
    Filters (category ... page) are sent as the request body; `page` is the first page to read.
    """
    local = dict(locals())
    filters = build_filters(
        {name: local[name] for name in FILTER_FIELDS if local[name] is not None}
    )
    client_settings = ClientSettings(
        api_key=_require_key(api_key),
        base_url=base_url,
        timeout_seconds=_positive("timeout_seconds", timeout_seconds),
        max_attempts=int(_positive("max_attempts", max_attempts)),
        backoff_base_seconds=backoff_base_seconds,
        requests_per_minute=requests_per_minute or None,
    )
    cursor = cursor_for_run(full_refresh, since, until, lookback_hours)
    scan_stats = ScanStats()
    pages = insight_pages(
        client_settings,
        filters.to_body(),
        scan_stats,
        start_page=filters.page or 1,
        max_pages=int(_positive("max_pages", max_pages)),
        full_scan=full_refresh,
        last_seen_at=cursor,
    )
    seen = SeenEntities()
    return (
        pages,
        pages | insights(scan_stats),
        pages | categories(seen),
        pages | teams(seen),
        pages | people(seen),
    )


def cursor_for_run(
    full_refresh: bool, since: str | None, until: str | None, lookback_hours: float
) -> dlt.sources.incremental[datetime]:
    """The `last_seen_at` cursor for this run's mode.

    A bounded backfill or a full refresh gets an explicit range, which dlt evaluates on a
    throw-away state: neither can move the stored cursor of the scheduled incremental runs.
    """
    if lookback_hours < 0:
        raise ConfigValueError("lookback_hours must be 0 or more", "lookback_hours")
    if since is None and until is None and not full_refresh:
        return dlt.sources.incremental(
            CURSOR, lag=lookback_hours * 3600, on_cursor_value_missing="include"
        )
    start = parse_timestamp("since", since) if since else EPOCH
    end = parse_timestamp("until", until) if until else FAR_FUTURE
    if start >= end:
        raise ConfigValueError(f"since {since} is not before until {until}", "since")
    return dlt.sources.incremental(
        CURSOR, initial_value=start, end_value=end, on_cursor_value_missing="include"
    )


@dlt.resource(name="insight_pages", selected=False)
def insight_pages(
    client_settings: ClientSettings,
    filters_body: dict[str, Any],
    scan_stats: ScanStats,
    *,
    start_page: int,
    max_pages: int,
    full_scan: bool,
    last_seen_at: dlt.sources.incremental[datetime] = dlt.sources.incremental(CURSOR),
) -> Iterator[list[dict[str, Any]]]:
    """Parsed API pages; the four table resources below are fed from this one scan."""
    is_backfill = last_seen_at.end_value is not None
    plan = plan_scan(
        filters_body,
        last_seen_at.start_value,
        full_scan=full_scan or (is_backfill and last_seen_at.start_value == EPOCH),
        start_page=start_page,
        max_pages=max_pages,
    )
    scan_stats.strategy = "full_scan" if plan.is_full_scan else "recent_first"
    with OpenCXClient(client_settings, stats=scan_stats.requests) as client:
        yield from batched_records(iter_pages(client, plan), settings.BATCH_ROWS)


@dlt.transformer(
    name=schema.INSIGHTS,
    primary_key="id",
    write_disposition="merge",
    columns=schema.dlt_columns(schema.INSIGHTS),
)
def insights(records: list[dict[str, Any]], scan_stats: ScanStats) -> Iterator[pa.Table]:
    """One row per insight, merged on `id`; also publishes the scan's request counts."""
    dlt.current.resource_metrics().update(scan_stats.as_metrics())
    yield rows.insights_table(records)


@dlt.transformer(
    name=schema.CATEGORIES,
    primary_key="id",
    write_disposition="merge",
    columns=schema.dlt_columns(schema.CATEGORIES),
)
def categories(records: list[dict[str, Any]], seen: SeenEntities) -> Iterator[pa.Table]:
    """Categories seen on insights, merged on `id` (latest wins)."""
    table = seen.only_changed(schema.CATEGORIES, rows.categories_table(records))
    if table is not None:
        yield table


@dlt.transformer(
    name=schema.TEAMS,
    primary_key="id",
    write_disposition="merge",
    columns=schema.dlt_columns(schema.TEAMS),
)
def teams(records: list[dict[str, Any]], seen: SeenEntities) -> Iterator[pa.Table]:
    """Teams seen on insights, merged on `id`."""
    table = seen.only_changed(schema.TEAMS, rows.teams_table(records))
    if table is not None:
        yield table


@dlt.transformer(
    name=schema.PEOPLE,
    primary_key="person_key",
    write_disposition="merge",
    columns=schema.dlt_columns(schema.PEOPLE),
)
def people(records: list[dict[str, Any]], seen: SeenEntities) -> Iterator[pa.Table]:
    """People who resolved or archived insights, merged on the derived `person_key`."""
    table = seen.only_changed(schema.PEOPLE, rows.people_table(records))
    if table is not None:
        yield table


def _require_key(api_key: str | None) -> str:
    if not api_key or not str(api_key).strip():
        raise ConfigValueError("the API key is empty", "api_key")
    return str(api_key).strip()


def _positive(name: str, value: float) -> float:
    if value is None or value <= 0:
        raise ConfigValueError(f"{name} must be greater than 0, got {value!r}", name)
    return value
