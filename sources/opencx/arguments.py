"""Every argument of the `opencx` source checked at once, before anything is requested or built.

The source checks its arguments with this function, and so does the command before it opens a
lock, a pipeline or a DuckDB file (`pipelines/command/settings.py`), for the run and `--dry-run`
alike: one list of checks, so a setting the run refuses is refused by the dry run in the same
words, and a bad setting never leaves an empty database behind.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sources.opencx import options
from sources.opencx.activity import WindowSettings
from sources.opencx.client import ClientSettings, check_base_url
from sources.opencx.errors import ConfigValueError
from sources.opencx.filters import FILTER_FIELDS, InsightFilters, build_filters, parse_timestamp
from sources.opencx.resources import EPOCH, FAR_FUTURE


@dataclass(frozen=True)
class SourceArguments:
    """The source's arguments as the resources use them: validated, parsed, normalised."""

    client: ClientSettings
    filters: InsightFilters
    full_refresh: bool
    since: datetime | None
    until: datetime | None
    lookback_hours: float
    max_pages: int
    max_deletion_checks: int
    activity: bool
    windows: WindowSettings


def check_arguments(values: Mapping[str, Any]) -> SourceArguments:
    """Check every argument of `opencx` (as named in its signature); raise ConfigValueError.

    `values` must hold every parameter (dlt's resolved configuration, or the source's own
    arguments). The first bad one raises, in about the order of the source's signature.
    """
    key = options.api_key(values["api_key"])
    check_base_url(values["base_url"])
    filters = build_filters({n: values[n] for n in FILTER_FIELDS if values[n] is not None})
    since, until = backfill_bounds(values["since"], values["until"])
    lookback_hours = options.bounded("lookback_hours", values["lookback_hours"], 0, 24 * 3660)
    pace = options.bounded("requests_per_minute", values["requests_per_minute"] or 0, 0, 1e6)
    client = ClientSettings(
        api_key=key,
        base_url=values["base_url"],
        requests_per_minute=pace or None,
        timeout_seconds=options.bounded(
            "timeout_seconds", values["timeout_seconds"], 0, 3600, low_inclusive=False
        ),
        max_attempts=options.whole("max_attempts", values["max_attempts"], 1, 100),
        backoff_base_seconds=options.bounded(
            "backoff_base_seconds", values["backoff_base_seconds"], 0, 60
        ),
        max_connections=options.whole("concurrency", values["concurrency"], 1, 32),
    )
    return SourceArguments(
        client=client,
        filters=filters,
        full_refresh=bool(values["full_refresh"]),
        since=since,
        until=until,
        lookback_hours=lookback_hours,
        max_pages=options.whole("max_pages", values["max_pages"], 1, 10_000_000),
        max_deletion_checks=options.whole(
            "max_deletion_checks", values["max_deletion_checks"], 0, 100_000
        ),
        activity=bool(values["activity"]),
        windows=window_settings(
            values["activity_window_hours"],
            values["activity_reread_windows"],
            values["activity_initial_days"],
            values["activity_include_open_window"],
        ),
    )


def backfill_bounds(since: Any, until: Any) -> tuple[datetime | None, datetime | None]:
    """`since` and `until` parsed; refused unless `since` comes before `until`.

    A missing side stands for the epoch or the far future, so `until` alone must lie after
    1970-01-01.
    """
    start = parse_timestamp("since", since) if since is not None else None
    end = parse_timestamp("until", until) if until is not None else None
    if start is None and end is None:
        return None, None
    if (start or EPOCH) >= (end or FAR_FUTURE):
        if start is None:
            raise ConfigValueError(f"until {until} is not after 1970-01-01", "until")
        raise ConfigValueError(f"since {since} is not before until {until}", "since")
    return start, end


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
