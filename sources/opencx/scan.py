"""How one run pages through ``POST /insights``: the sort, the stop rule, the page budget.

Two strategies, chosen per run:
- *full scan*, sorted ``created_at asc``: new insights append at the end, so the order is stable
  while the data changes (the default ``occurrence_count`` sort is not).
- *recent first*, sorted ``last_seen_at desc``, stopping after the first page that reaches
  below the cursor (already lag-adjusted by dlt). An insight that gets a new session while we
  page only moves up, which can repeat a row across pages (merge dedupes) but never skips one.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sources.opencx.client import InsightsPage, OpenCXClient, RequestStats
from sources.opencx.errors import ApiResponseError
from sources.opencx.records import parse_insight

FULL_SCAN_SORT = {"sortBy": "created_at", "sortOrder": "asc"}
RECENT_FIRST_SORT = {"sortBy": "last_seen_at", "sortOrder": "desc"}
EMPTY_PAGE_RETRIES = 2
LOOKAHEAD_PAGES_PER_CONNECTION = 16
MAX_LOOKAHEAD_PAGES = 128


@dataclass(frozen=True)
class ScanPlan:
    """What to request and when to stop."""

    body: dict[str, Any]
    stop_below: datetime | None
    start_page: int
    max_pages: int
    concurrency: int = 1

    @property
    def is_full_scan(self) -> bool:
        """A scan that has no cursor to stop at reads every page."""
        return self.stop_below is None


def plan_scan(
    filters_body: dict[str, Any],
    cursor_start: datetime | None,
    *,
    full_scan: bool,
    start_page: int,
    max_pages: int,
    concurrency: int = 1,
) -> ScanPlan:
    """Pick the strategy; a user-chosen sort forces a full scan in that order."""
    user_sort: dict[str, Any] = {
        k: filters_body[k] for k in ("sortBy", "sortOrder") if k in filters_body
    }
    base = {k: v for k, v in filters_body.items() if k not in ("sortBy", "sortOrder")}
    if user_sort:
        plan = ScanPlan({**base, **user_sort}, None, start_page, max_pages)
    elif full_scan or cursor_start is None:
        plan = ScanPlan({**base, **FULL_SCAN_SORT}, None, start_page, max_pages)
    else:
        plan = ScanPlan({**base, **RECENT_FIRST_SORT}, cursor_start, start_page, max_pages)
    return replace(plan, concurrency=concurrency)


@dataclass
class PageTotals:
    """The `total` each page reported: a shrinking total means rows moved up under our feet."""

    first: int | None = None
    smallest: int | None = None
    previous_ids: frozenset[str] = frozenset()

    def note(self, page: InsightsPage) -> None:
        """Record one page's total."""
        if self.first is None:
            self.first = page.total
        self.smallest = page.total if self.smallest is None else min(self.smallest, page.total)

    @property
    def shrank(self) -> bool:
        """Whether insights disappeared during the scan (offset paging may have skipped some)."""
        return self.first is not None and self.smallest is not None and self.smallest < self.first


def iter_pages(
    client: OpenCXClient, plan: ScanPlan, totals: PageTotals | None = None
) -> Iterator[list[dict[str, Any]]]:
    """Yield parsed insight records page by page until the last page, the cursor or the cap.

    A full scan knows its length after the first page, so it fetches the rest with up to
    `plan.concurrency` requests in flight (still paced, still yielded in page order). A
    recent-first scan stays sequential: it must look at each page before asking for the next.
    """
    totals = totals if totals is not None else PageTotals()
    progress = ScanProgress(client.stats, plan)
    try:
        first = _checked_page(client, plan, plan.start_page, None, totals, progress)
        records = _parse(first)
        if records:
            yield records
        if _is_last(first, plan.start_page) or _reached_cursor(records, plan.stop_below):
            return
        if plan.is_full_scan and plan.concurrency > 1:
            yield from _pages_in_parallel(client, plan, first.total_pages, totals, progress)
        else:
            yield from _pages_in_sequence(client, plan, totals, progress)
    finally:
        progress.finish()


class ScanProgress:
    """A scan's share of the run's page counts in `RequestStats`.

    The first page tells how many pages the scan will read: all of them for a full scan, at
    most that many for a recent-first scan (it stops at the cursor). The plan follows a total
    that moves, and when the scan ends its unread remainder is taken back, so the run's counts
    add up to what was actually read.
    """

    def __init__(self, stats: RequestStats, plan: ScanPlan) -> None:
        self._stats = stats
        self._plan = plan
        self._planned = 0
        self._read = 0

    def page_read(self, page: InsightsPage, page_number: int) -> None:
        """Count an accepted page; its `totalPages` (re)sets this scan's plan."""
        self._read += 1
        self._stats.record_page(len(page.items))
        last = min(page.total_pages, self._plan.start_page + self._plan.max_pages - 1)
        planned = max(last - self._plan.start_page + 1, page_number - self._plan.start_page + 1)
        self._replan(planned)

    def finish(self) -> None:
        """The scan is over: what was not read is no longer planned, nothing is a bound."""
        self._replan(self._read)
        if not self._plan.is_full_scan:
            self._stats.plan_pages(0, -self._planned)

    def _replan(self, planned: int) -> None:
        if planned == self._planned:
            return
        delta = planned - self._planned
        self._planned = planned
        self._stats.plan_pages(delta, 0 if self._plan.is_full_scan else delta)


def _checked_page(
    client: OpenCXClient,
    plan: ScanPlan,
    page_number: int,
    fetched: InsightsPage | None,
    totals: PageTotals,
    progress: ScanProgress,
) -> InsightsPage:
    """A page that is neither a glitchy empty page nor a repeat of the previous page."""
    page = fetched if fetched is not None else _fetch_non_empty(client, plan, page_number)
    for _ in range(EMPTY_PAGE_RETRIES):
        if not _repeats_previous(page, totals):
            break
        page = _fetch_non_empty(client, plan, page_number)
    if _repeats_previous(page, totals):
        raise ApiResponseError(
            f"page {page_number} repeats the previous page exactly; nothing was loaded, "
            "run again later"
        )
    totals.note(page)
    totals.previous_ids = frozenset(item["id"] for item in page.items)
    progress.page_read(page, page_number)
    return page


def _repeats_previous(page: InsightsPage, totals: PageTotals) -> bool:
    ids = frozenset(item["id"] for item in page.items)
    return bool(ids) and ids == totals.previous_ids


def _pages_in_sequence(
    client: OpenCXClient, plan: ScanPlan, totals: PageTotals, progress: ScanProgress
) -> Iterator[list[dict[str, Any]]]:
    for page_number in range(plan.start_page + 1, plan.start_page + plan.max_pages):
        page = _checked_page(client, plan, page_number, None, totals, progress)
        records = _parse(page)
        if records:
            yield records
        if _is_last(page, page_number) or _reached_cursor(records, plan.stop_below):
            return
    raise _page_cap_error(plan)


def _pages_in_parallel(
    client: OpenCXClient,
    plan: ScanPlan,
    total_pages: int,
    totals: PageTotals,
    progress: ScanProgress,
) -> Iterator[list[dict[str, Any]]]:
    """Pages start_page+1.. fetched concurrently, yielded in page order.

    The window reaches `lookahead_pages` past the page being waited for, so while that page
    waits out a retry the other connections keep fetching further ahead instead of idling.
    The reported total is followed as it moves; the page cap is hit only once every page
    before it has been yielded, as in a sequential scan.
    """
    with ThreadPoolExecutor(plan.concurrency, thread_name_prefix="opencx-page") as pool:
        window = PageWindow(pool, client, plan, total_pages)
        try:
            while (head := window.next_in_order()) is not None:
                page_number, future = head
                page = _checked_page(client, plan, page_number, future.result(), totals, progress)
                records = _parse(page)
                if records:
                    yield records
                if not page.items:
                    return
                window.follow_total(page.total_pages)
        finally:
            window.cancel()  # queued requests never start; running ones end before `with` does
    if window.capped:
        raise _page_cap_error(plan)


def lookahead_pages(concurrency: int) -> int:
    """How many pages may be requested but not yet yielded: the memory bound of a scan.

    A retry waits up to a few seconds (`Retry-After`, backoff); the deeper the window, the
    longer the other connections keep working meanwhile, at the cost of holding those pages.
    In the faults benchmark (4 connections, 1 s `Retry-After`) 16 pages per connection came
    within 10% of an unbounded window; 2 (the former window) took twice as long.
    """
    return max(1, min(LOOKAHEAD_PAGES_PER_CONNECTION * concurrency, MAX_LOOKAHEAD_PAGES))


class PageWindow:
    """The pages requested ahead of the consumer, oldest first, never more than the bound."""

    def __init__(
        self, pool: ThreadPoolExecutor, client: OpenCXClient, plan: ScanPlan, total_pages: int
    ) -> None:
        self._pool = pool
        self._client = client
        self._plan = plan
        self._size = lookahead_pages(plan.concurrency)
        self._last_allowed = plan.start_page + plan.max_pages - 1
        self._total_pages = total_pages
        self._next_page = plan.start_page + 1
        self._pending: deque[tuple[int, Future[InsightsPage]]] = deque()
        self._failed = False  # set from a worker thread, by the failing page's callback

    @property
    def capped(self) -> bool:
        """Whether the reported total reaches past the page cap."""
        return self._total_pages > self._last_allowed

    def follow_total(self, total_pages: int) -> None:
        """The latest page in order tells how many pages there are now (grown or shrunk)."""
        self._total_pages = total_pages

    def next_in_order(self) -> tuple[int, Future[InsightsPage]] | None:
        """Top the window up, then hand out its oldest page; None once nothing is left."""
        self._fill()
        return self._pending.popleft() if self._pending else None

    def cancel(self) -> None:
        """Drop every request that has not started yet."""
        for _, future in self._pending:
            future.cancel()
        self._pending.clear()

    def _fill(self) -> None:
        last = min(self._total_pages, self._last_allowed)
        while len(self._pending) < self._size and self._next_page <= last and not self._failed:
            future = self._pool.submit(_fetch_non_empty, self._client, self._plan, self._next_page)
            future.add_done_callback(self._note_failure)
            self._pending.append((self._next_page, future))
            self._next_page += 1

    def _note_failure(self, future: Future[InsightsPage]) -> None:
        """A page failed for good: the scan will stop there, so asking further is waste.

        A flag set as the page fails, rather than a look at every pending page before each
        request (which took a lock per page per request: 0.3 s of a 600-page scan).
        """
        if not future.cancelled() and future.exception() is not None:
            self._failed = True


def _parse(page: InsightsPage) -> list[dict[str, Any]]:
    return [parse_insight(item) for item in page.items]


def _page_cap_error(plan: ScanPlan) -> ApiResponseError:
    return ApiResponseError(
        f"stopped after {plan.max_pages} pages without reaching the last page", "max_pages"
    )


def _fetch_non_empty(client: OpenCXClient, plan: ScanPlan, page_number: int) -> InsightsPage:
    """An empty page before `totalPages` is an API glitch; re-ask before trusting it."""
    page = client.fetch_page(plan.body, page_number)
    for _ in range(EMPTY_PAGE_RETRIES):
        if page.items or page_number >= page.total_pages:
            return page
        page = client.fetch_page(plan.body, page_number)
    if not page.items and page_number < page.total_pages:
        raise ApiResponseError(
            f"page {page_number} came back empty although the API reports "
            f"{page.total_pages} pages; nothing was loaded, run again later"
        )
    return page


def _is_last(page: InsightsPage, page_number: int) -> bool:
    return not page.items or page_number >= page.total_pages


def _reached_cursor(records: list[dict[str, Any]], stop_below: datetime | None) -> bool:
    if stop_below is None:
        return False
    seen = [r["last_seen_at"] for r in records if r["last_seen_at"] is not None]
    return not seen or min(seen) < stop_below
