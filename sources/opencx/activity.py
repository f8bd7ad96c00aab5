"""Activity by session date: which insights were seen in sessions of each time window.

Windows are half-open ``[start, end)``, aligned to multiples of the window size since the Unix
epoch (UTC midnight for daily windows). The API's ``sessionToDate`` reads as inclusive, so we
send ``end - 1 ms`` (timestamps have millisecond precision): adjacent windows then neither
overlap nor leave a gap. Whether the API scopes ``occurrence_count`` to the window is not
documented; `ScopeDetector` finds out by comparing a window's count with the unfiltered insight.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sources.opencx.client import OpenCXClient
from sources.opencx.clock import format_timestamp
from sources.opencx.errors import OpenCXError
from sources.opencx.records import parse_insight
from sources.opencx.scan import FULL_SCAN_SORT, ScanPlan, iter_pages

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
ONE_MS = timedelta(milliseconds=1)
MAX_PROBES = 6
SESSION_DATE_FIELDS = ("sessionFromDate", "sessionToDate")
Window = tuple[datetime, datetime]


@dataclass(frozen=True)
class WindowSettings:
    """How time is cut into windows and how much is re-read."""

    window_hours: float = 24.0
    reread_windows: int = 3
    initial_days: float = 30.0
    include_open_window: bool = False

    @property
    def size(self) -> timedelta:
        """The window length."""
        return timedelta(hours=self.window_hours)


def floor_to(moment: datetime, size: timedelta) -> datetime:
    """The window boundary at or before `moment`."""
    return EPOCH + ((moment - EPOCH) // size) * size


def plan_windows(
    now: datetime,
    complete_until: datetime | None,
    settings: WindowSettings,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Iterator[Window]:
    """Windows to read this run, oldest first; lazily, so a long backfill costs no memory."""
    size = settings.size
    last_complete_end = floor_to(now, size)
    end = last_complete_end + (size if settings.include_open_window else timedelta(0))
    if since is not None or until is not None:
        start = floor_to(since, size) if since else last_complete_end - size
        if until is not None:
            end = min(end, floor_to(until - ONE_MS, size) + size)
    elif complete_until is not None:
        start = complete_until - settings.reread_windows * size
    else:
        start = last_complete_end - timedelta(days=settings.initial_days)
    cursor = floor_to(start, size)
    while cursor < end:
        yield cursor, cursor + size
        cursor += size


def window_plan(
    filters_body: dict[str, Any], window: Window, max_pages: int, concurrency: int = 1
) -> ScanPlan:
    """A full scan of one window (the other filters as configured)."""
    body = {k: v for k, v in filters_body.items() if k not in SESSION_DATE_FIELDS}
    body.update(FULL_SCAN_SORT)
    body["sessionFromDate"] = format_timestamp(window[0])
    body["sessionToDate"] = format_timestamp(window[1] - ONE_MS)
    return ScanPlan(body, None, 1, max_pages, concurrency)


def filters_json(filters_body: dict[str, Any]) -> str:
    """The filters recorded next to each activity row (without the window itself)."""
    kept = {k: v for k, v in filters_body.items()
            if k not in (*SESSION_DATE_FIELDS, "sortBy", "sortOrder")}  # fmt: skip
    return json.dumps(kept, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def read_window(
    client: OpenCXClient,
    filters_body: dict[str, Any],
    window: Window,
    max_pages: int,
    concurrency: int = 1,
) -> list[dict[str, Any]]:
    """Every insight the API returns for one window, deduplicated by id (latest page wins)."""
    by_id: dict[str, dict[str, Any]] = {}
    for page in iter_pages(client, window_plan(filters_body, window, max_pages, concurrency)):
        for record in page:
            by_id[record["id"]] = record
    return list(by_id.values())


class ScopeDetector:
    """Tells whether window counts are window-scoped (additive) or lifetime counts.

    For an insight that also has sessions outside the window, a window-scoped count is smaller
    than its unfiltered count, and a lifetime count is equal to it. A few GET /insights/{id}
    probes per run settle it; the answer is kept for the rest of the run.
    """

    def __init__(self, client: OpenCXClient, notes: list[str] | None = None) -> None:
        self._client = client
        self._notes = notes if notes is not None else []
        self._scope: str | None = None
        self._probes = 0

    def scope_for(self, records: Sequence[dict[str, Any]], window: Window) -> str:
        """'window', 'lifetime' or 'unknown' for the rows of this window."""
        for record in records[:3]:
            if self._scope is not None or self._probes >= MAX_PROBES:
                break
            self._probes += 1
            self._scope = self._compare(record, window)
        return self._scope or "unknown"

    def _compare(self, record: dict[str, Any], window: Window) -> str | None:
        try:
            raw = self._client.get_insight(record["id"])
        except OpenCXError as exc:
            # The probe only labels the counts; a key without access to GET /insights/{id} or
            # a failing endpoint must not cost the user the whole load.
            self._probes = MAX_PROBES
            self._notes.append(
                f"count_scope is unknown: the GET /insights/{{id}} probe failed: {exc}"
            )
            return None
        if raw is None:
            return None
        lifetime = parse_insight(raw)
        window_count, lifetime_count = record["occurrence_count"], lifetime["occurrence_count"]
        if window_count is None or lifetime_count is None:
            return None
        if window_count < lifetime_count:
            return "window"
        first, last = lifetime["first_seen_at"], lifetime["last_seen_at"]
        outside = (first is not None and first < window[0]) or (
            last is not None and last >= window[1]
        )
        return "lifetime" if outside else None
