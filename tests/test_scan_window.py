"""A full scan's look-ahead window: a page waiting out a retry does not stall the others.

Pages are still yielded in page order, the window never holds more than its bound, and a scan
that ends early (closed, failed, capped) leaves no request running and no thread behind.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Generator, Iterator
from typing import Any

import httpx
import pytest

from sources.opencx import scan
from sources.opencx.client import ClientSettings, OpenCXClient
from sources.opencx.errors import ApiResponseError
from sources.opencx.scan import PageTotals, ScanPlan, iter_pages, lookahead_pages
from sources.opencx_simulator import Simulator
from tests.conftest import SimFactory
from tests.helpers import TEST_KEY

PAGES = 35  # the default test simulator: 240 insights, 7 a page
POOL_THREADS = "opencx-page"


def plan(concurrency: int, max_pages: int = 10_000) -> ScanPlan:
    return ScanPlan(dict(scan.FULL_SCAN_SORT), None, 1, max_pages, concurrency)


def client_for(sim: Simulator, transport: httpx.BaseTransport | None = None) -> OpenCXClient:
    settings = ClientSettings(
        api_key=TEST_KEY,
        base_url=sim.base_url,
        requests_per_minute=None,
        backoff_base_seconds=0.01,
        max_backoff_seconds=0.05,
        max_attempts=12,
    )
    return OpenCXClient(settings, transport=transport)


def scan_ids(sim: Simulator, concurrency: int) -> list[list[str]]:
    with client_for(sim) as client:
        return [[r["id"] for r in page] for page in iter_pages(client, plan(concurrency))]


def drain(pages: Iterator[list[dict[str, Any]]], seen: list[list[dict[str, Any]]]) -> None:
    """Keep what a scan yields before it fails."""
    for page in pages:
        seen.append(page)


def pool_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith(POOL_THREADS)]


class Arrivals:
    """The page of every POST /insights the simulator received, with its arrival time."""

    def __init__(self) -> None:
        self._arrived = threading.Condition()
        self.log: list[tuple[int, float]] = []

    def note(self, body: dict[str, Any]) -> None:
        with self._arrived:
            self.log.append((int(body.get("page", 1)), time.monotonic()))
            self._arrived.notify_all()

    def pages(self, before: float = float("inf")) -> set[int]:
        with self._arrived:
            return {page for page, at in self.log if at < before}

    def wait_for(self, pages: set[int], timeout: float) -> None:
        """Return once every page of `pages` has arrived, or after `timeout` seconds."""
        with self._arrived:
            self._arrived.wait_for(lambda: pages <= {page for page, _ in self.log}, timeout)


def hold_first_request_of(
    sim: Simulator, page: int, until: set[int], timeout: float
) -> tuple[Arrivals, list[float]]:
    """Hold the first request for `page` until the pages `until` arrived (at most `timeout`).

    Returns the arrivals and the moment of the release.
    """
    arrivals, released, held = Arrivals(), list[float](), threading.Event()

    def hook(index: int, body: dict[str, Any]) -> None:
        arrivals.note(body)
        if body.get("page") == page and not held.is_set():
            held.set()
            arrivals.wait_for(until, timeout)
            released.append(time.monotonic())

    sim.on_request = hook
    return arrivals, released


def test_a_slow_page_does_not_stop_the_others(make_sim: SimFactory) -> None:
    sequential = scan_ids(make_sim(), 1)
    sim = make_sim()
    # released as soon as every other page arrived; a stalled window waits out the timeout
    arrivals, released = hold_first_request_of(sim, 2, set(range(1, PAGES + 1)), timeout=10.0)

    pages = scan_ids(sim, 4)

    assert pages == sequential
    assert lookahead_pages(4) >= PAGES
    assert arrivals.pages(before=released[0]) == set(range(1, PAGES + 1))


class RetryAfterOnce(httpx.BaseTransport):
    """Forwards every request; the first one for `page` is then answered 503, Retry-After 1."""

    def __init__(self, page: int) -> None:
        self._inner = httpx.HTTPTransport()
        self._page = page
        self._lock = threading.Lock()
        self.done = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        with self._lock:
            hit = not self.done and json.loads(request.content).get("page") == self._page
            self.done = self.done or hit
        if not hit:
            return response
        response.read()
        response.close()
        return httpx.Response(503, headers={"Retry-After": "1"}, json={"statusCode": 503})

    def close(self) -> None:
        self._inner.close()


def test_a_page_waiting_out_retry_after_does_not_stop_the_others(make_sim: SimFactory) -> None:
    sequential = scan_ids(make_sim(), 1)
    sim = make_sim()
    transport = RetryAfterOnce(page=2)

    with client_for(sim, transport) as client:
        pages = [[r["id"] for r in page] for page in iter_pages(client, plan(4))]

    assert pages == sequential
    page_2 = [r.at for r in sim.requests if r.body.get("page") == 2]
    assert len(page_2) == 2
    assert page_2[1] - page_2[0] >= 0.95
    before_retry = {r.body.get("page", 1) for r in sim.requests if r.at < page_2[1]}
    assert before_retry == set(range(1, PAGES + 1))


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("per_connection", [1, 16], ids=["window-4", "window-64"])
def test_random_faults_lose_and_repeat_nothing(
    make_sim: SimFactory, monkeypatch: pytest.MonkeyPatch, seed: int, per_connection: int
) -> None:
    sequential = scan_ids(make_sim(), 1)
    monkeypatch.setattr(scan, "LOOKAHEAD_PAGES_PER_CONNECTION", per_connection)
    sim = make_sim(fault_rate=0.2, drop_rate=0.05, fault_seed=seed)

    pages = scan_ids(sim, 4)

    assert pages == sequential
    assert any(r.status != 200 for r in sim.requests), "the seed injected no fault"
    assert not pool_threads()


def test_the_window_never_holds_more_than_its_bound(
    make_sim: SimFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scan, "LOOKAHEAD_PAGES_PER_CONNECTION", 1)
    bound = lookahead_pages(4)
    sim = make_sim()
    # held 0.5 s unless the first page beyond the window arrives (which the bound forbids)
    arrivals, released = hold_first_request_of(sim, 2, {2 + bound}, timeout=0.5)

    with client_for(sim) as client:
        for yielded, _ in enumerate(iter_pages(client, plan(4)), start=1):
            assert max(arrivals.pages()) <= yielded + bound - 1

    assert bound == 4
    assert arrivals.pages(before=released[0]) == set(range(1, 2 + bound))


def test_closing_the_scan_early_stops_fetching(
    make_sim: SimFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scan, "LOOKAHEAD_PAGES_PER_CONNECTION", 1)
    sim = make_sim(latency_s=0.02)
    with client_for(sim) as client:
        pages = iter_pages(client, plan(4))
        assert isinstance(pages, Generator)
        for _ in range(3):
            next(pages)
        pages.close()
        # close() returns after the pool's threads ended, and the simulator records a request
        # before answering it: with no thread left, nothing more can arrive
        at_close = len(sim.requests)
        assert not pool_threads()

        assert len(sim.requests) == at_close
        assert max(r.body.get("page", 1) for r in sim.requests) <= 3 + lookahead_pages(4)
        assert not pool_threads()


def test_a_page_failing_for_good_ends_the_scan_there(make_sim: SimFactory) -> None:
    sim = make_sim()

    def fail_page_5(index: int, body: dict[str, Any]) -> None:
        if body.get("page") == 5:
            raise RuntimeError("page 5 is broken")

    sim.on_request = fail_page_5
    seen: list[list[dict[str, Any]]] = []
    with client_for(sim) as client, pytest.raises(ApiResponseError, match="kept failing"):
        drain(iter_pages(client, plan(4)), seen)

    assert len(seen) == 4
    assert not pool_threads()


def test_the_page_cap_yields_every_page_below_it_then_stops(make_sim: SimFactory) -> None:
    sim = make_sim()
    seen: list[list[dict[str, Any]]] = []
    with client_for(sim) as client, pytest.raises(ApiResponseError, match="10 pages") as err:
        drain(iter_pages(client, plan(4, max_pages=10)), seen)

    assert err.value.config_key == "max_pages"
    assert len(seen) == 10
    assert max(r.body.get("page", 1) for r in sim.requests) == 10
    assert not pool_threads()


def test_a_growing_total_is_followed_to_the_end(make_sim: SimFactory) -> None:
    sim = make_sim()

    def grow(index: int, body: dict[str, Any]) -> None:
        if index == 3:
            for _ in range(20):
                sim.store.add_insight(sessions=1)

    sim.on_request = grow
    ids = [i for page in scan_ids(sim, 4) for i in page]

    truth = [i["id"] for i in sim.store.ground_truth()]
    assert len(truth) == 260
    assert sorted(ids) == sorted(truth)  # added at the same instant: their order is the API's


def test_a_shrinking_total_ends_the_scan_and_is_reported(make_sim: SimFactory) -> None:
    sim = make_sim()
    before = [i["id"] for i in sim.store.ground_truth()]
    oldest = before[:3]

    def shrink(index: int, body: dict[str, Any]) -> None:
        if index == 3:
            for insight_id in oldest:
                sim.store.delete(insight_id)

    sim.on_request = shrink
    totals = PageTotals()
    with client_for(sim) as client:
        ids = [r["id"] for page in iter_pages(client, plan(4), totals) for r in page]

    # pages read before and after the deletions overlap or miss rows: offset paging; the
    # resource reads a shrunk scan again and drops repeats, here it must only end cleanly
    assert totals.shrank
    assert set(ids) <= set(before)
    assert not pool_threads()


@pytest.fixture(autouse=True)
def no_threads_left_over() -> Iterator[None]:
    yield
    assert not pool_threads()
