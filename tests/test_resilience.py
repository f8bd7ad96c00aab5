"""Transient faults are retried until the load is complete; permanent ones stop the run with a
clear error and leave the destination and the cursor as they were."""

from __future__ import annotations

import contextlib
import logging
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
from dlt.pipeline.exceptions import PipelineStepFailed

from sources.opencx.errors import (
    ApiResponseError,
    ApiUnreachableError,
    AuthenticationError,
    PermissionDeniedError,
)
from sources.opencx_simulator import Simulator
from tests.conftest import SimFactory
from tests.cron_support import cli_env, start_cli
from tests.helpers import (
    SCOPELESS_KEY,
    TEST_KEY,
    Workspace,
    cursor_of,
    expected_insight,
    insight_requests,
    loaded_insights,
)

pytestmark = pytest.mark.warehouses

TRANSIENT_FAULTS = [
    pytest.param(["429", "429", "429"], id="429-without-retry-after"),
    pytest.param(["503", "502", "500", "504"], id="5xx-burst"),
    pytest.param(
        ["html_520", "html_521", "html_522", "html_523", "html_524"], id="cloudflare-html-pages"
    ),
    pytest.param(["drop", "drop", "drop"], id="dropped-connections"),
    pytest.param(["truncated", "missing_data"], id="malformed-200s"),
    pytest.param(["slow:0.2", "503", "drop", "429", "html_522"], id="mixed"),
]


def matches_truth(ws: Workspace, sim: Simulator) -> bool:
    truth = {i["id"]: expected_insight(i) for i in sim.store.ground_truth()}
    return loaded_insights(ws) == truth


def root_cause(exc: BaseException) -> BaseException:
    """The innermost exception, as Python would print it (honouring `raise ... from None`)."""
    while True:
        nxt = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
        if nxt is None:
            return exc
        exc = nxt


def fail_load(ws: Workspace, sim: Simulator, **args: Any) -> BaseException:
    with pytest.raises(PipelineStepFailed) as err:
        ws.load(sim, **args)
    return root_cause(err.value)


@pytest.mark.warehouses(postgres_cases=["mixed"])
@pytest.mark.parametrize("faults", TRANSIENT_FAULTS)
def test_transient_faults_are_retried_to_a_complete_load(
    ws: Workspace, sim: Simulator, faults: list[str]
) -> None:
    sim.faults.enqueue(*faults)
    ws.load(sim)
    assert matches_truth(ws, sim)
    assert not sim.faults.pending()


def test_faults_in_the_middle_of_a_scan_lose_nothing(ws: Workspace, sim: Simulator) -> None:
    def inject(index: int, body: object) -> None:
        if index in (3, 9, 17):
            sim.faults.enqueue("503", "drop", "truncated")

    sim.on_request = inject
    ws.load(sim)
    assert matches_truth(ws, sim)


def test_random_faults_and_drops_lose_nothing(make_sim: SimFactory, ws: Workspace) -> None:
    sim = make_sim(fault_rate=0.1, drop_rate=0.02, fault_seed=11)
    ws.load(sim, max_attempts=10)
    assert matches_truth(ws, sim)


def test_retry_after_is_honoured(ws: Workspace, make_sim: SimFactory) -> None:
    sim = make_sim(retry_after=1.0)
    sim.faults.enqueue("429")
    ws.load(sim)
    times = [r.at for r in sim.requests]
    statuses = [r.status for r in sim.requests]
    assert statuses[0] == 429
    assert times[1] - times[0] >= 0.95
    assert matches_truth(ws, sim)


def test_a_load_within_the_minutes_budget_makes_its_requests_without_waiting(
    ws: Workspace, sim: Simulator
) -> None:
    ws.load(sim, requests_per_minute=120)  # even spacing would start one per 0.5 s
    times = sorted(r.at for r in insight_requests(sim))
    assert 10 < len(times) <= 120
    assert times[-1] - times[0] < (len(times) - 1) * 0.5 / 2


# A first load of the default simulator reads 35 pages; the server answers 429 past LIMIT
# requests in any 60 s, and the connector is paced at PACE a minute, below it.
LIMIT, PACE = 12, 10
# How long the test watches a paced run hold its next request (an unpaced one sends all 35
# within a fraction of this); the hold itself lasts the rest of the minute.
HOLD_S = 2.0


class PagesServed:
    """Set once the simulator has served `count` pages of POST /insights."""

    def __init__(self, sim: Simulator, count: int) -> None:
        self.reached = threading.Event()
        self._count, self._served = count, 0
        self._lock = threading.Lock()
        sim.on_request = self._hook

    def _hook(self, _index: int, _body: object) -> None:
        with self._lock:
            self._served += 1
            if self._served >= self._count:
                self.reached.set()


def test_rate_limited_server_sees_no_429_when_paced_below_it(
    tmp_path: Path, make_sim: SimFactory
) -> None:
    """The pacing binds: the load needs more requests than the server allows in a minute.

    The run (a real process, so the test can end it while it waits) starts its first PACE
    requests at once and then holds the next until the first is 60 s old: the server sees PACE
    requests and no 429. Unpaced, it sends every page at once and the server answers 429 past
    LIMIT.
    """
    sim = make_sim(rate_limit_per_minute=LIMIT)
    burst = PagesServed(sim, PACE)
    env = cli_env(tmp_path, SOURCES__OPENCX__REQUESTS_PER_MINUTE=str(PACE))
    proc = start_cli(env, "--base-url", sim.base_url)
    try:
        assert burst.reached.wait(timeout=60), proc.stderr
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=HOLD_S)  # a paced run is still waiting for its minute
        still_running = proc.poll() is None
    finally:
        proc.kill()
        proc.communicate()
    seen = insight_requests(sim)
    assert [r.status for r in seen] == [200] * PACE
    times = sorted(r.at for r in seen)
    assert times[-1] - times[0] < HOLD_S  # a burst: requests under the budget do not wait
    assert still_running


def test_bad_key_fails_with_401_and_changes_nothing(ws: Workspace, sim: Simulator) -> None:
    pipeline = ws.load(sim)
    before, cursor = loaded_insights(ws), cursor_of(pipeline)
    sim.store.bump_counts(5)
    sim.clear_requests()
    cause = fail_load(ws, sim, api_key="ocx_live_wrong")
    assert isinstance(cause, AuthenticationError)
    assert "sources.opencx.api_key" in str(cause)
    assert len(sim.requests) == 1  # never retried
    assert loaded_insights(ws) == before
    assert cursor_of(ws.pipeline()) == cursor


def test_key_without_scope_fails_with_403(ws: Workspace, sim: Simulator) -> None:
    cause = fail_load(ws, sim, api_key=SCOPELESS_KEY)
    assert isinstance(cause, PermissionDeniedError)
    assert "insights:read" in str(cause)
    assert len(sim.requests) == 1
    assert "insights" not in ws.tables()


def test_unreachable_api_fails_naming_base_url(ws: Workspace, sim: Simulator) -> None:
    base_url = sim.base_url
    sim.stop()
    cause = fail_load(ws, sim, base_url=base_url, max_attempts=2)
    assert isinstance(cause, ApiUnreachableError)
    assert "sources.opencx.base_url" in str(cause)


def test_exhausted_retries_fail_and_keep_the_cursor(ws: Workspace, sim: Simulator) -> None:
    pipeline = ws.load(sim)
    cursor, before = cursor_of(pipeline), loaded_insights(ws)
    sim.store.bump_counts(20)
    sim.faults.enqueue(*["503"] * 30)
    cause = fail_load(ws, sim, max_attempts=3)
    sim.faults.clear()
    assert isinstance(cause, ApiResponseError)
    assert cursor_of(ws.pipeline()) == cursor
    assert loaded_insights(ws) == before
    ws.load(sim)
    assert matches_truth(ws, sim)


def test_failure_on_a_later_page_commits_nothing(ws: Workspace, sim: Simulator) -> None:
    def fail_late(index: int, body: object) -> None:
        if index == 5:
            sim.faults.enqueue(*["502"] * 30)

    sim.on_request = fail_late
    fail_load(ws, sim, max_attempts=3)
    sim.on_request = None
    sim.faults.clear()
    assert "insights" not in ws.tables()
    assert "insight_pages" not in ws.pipeline().state.get("sources", {}).get("opencx", {}).get(
        "resources", {}
    )
    ws.load(sim)
    assert matches_truth(ws, sim)


def test_client_errors_are_not_retried(ws: Workspace, sim: Simulator) -> None:
    cause = fail_load(ws, sim, base_url=sim.base_url + "/v0")
    assert isinstance(cause, ApiResponseError)
    assert "404" in str(cause)
    assert len(sim.requests) == 1


def test_the_key_never_appears_in_logs(
    ws: Workspace, sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sim.faults.enqueue("503", "429", "drop")
    ws.load(sim)
    with pytest.raises(PipelineStepFailed) as err:
        ws.load(sim, base_url=sim.base_url + "/v0")
    assert TEST_KEY not in caplog.text
    assert TEST_KEY not in str(err.value)
    assert "retrying" in caplog.text
