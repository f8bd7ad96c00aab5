"""`insight_activity`: per session-date window and insight, what the API returns; windows are
half-open, contiguous, re-read windows replace rather than duplicate, open windows wait."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

import pytest

from sources.opencx.activity import floor_to
from sources.opencx.clock import format_timestamp
from sources.opencx_simulator import Simulator
from tests.conftest import SIM_NOW, SimFactory
from tests.helpers import Workspace, answer_get_with, insight_requests, ts

pytestmark = [pytest.mark.warehouses, pytest.mark.clock]

DAY = timedelta(days=1)
SINCE = floor_to(SIM_NOW, DAY) - 100 * DAY  # inside the simulator's 180 days of sessions
UNTIL = SINCE + 60 * DAY


def activity_rows(ws: Workspace) -> dict[tuple[datetime, str], tuple[Any, ...]]:
    rows = ws.query(
        "SELECT window_start, insight_id, window_end, occurrence_count, first_seen_at, "
        "last_seen_at, count_scope FROM insight_activity"
    )
    return {(r[0], r[1]): tuple(r[2:]) for r in rows}


def expected_window(sim: Simulator, start: datetime) -> dict[str, tuple[Any, ...]]:
    body = {
        "sortBy": "created_at",
        "sortOrder": "asc",
        "sessionFromDate": format_timestamp(start),
        "sessionToDate": format_timestamp(start + DAY - timedelta(milliseconds=1)),
    }
    return {
        i["id"]: (i["occurrence_count"], ts(i["first_seen_at"]), ts(i["last_seen_at"]))
        for i in sim.store.query(body)
    }


def backfill(ws: Workspace, sim: Simulator, since: datetime, until: datetime) -> None:
    ws.load(sim, activity=True, since=since.isoformat(), until=until.isoformat())


@pytest.fixture
def busy_sim(make_sim: SimFactory) -> Simulator:
    return make_sim(n_insights=500, page_size=9)


def test_sixty_day_backfill_equals_the_api_per_window(ws: Workspace, busy_sim: Simulator) -> None:
    backfill(ws, busy_sim, SINCE, UNTIL)
    loaded = activity_rows(ws)
    for day in range(60):
        start = SINCE + day * DAY
        expected = expected_window(busy_sim, start)
        got = {k[1]: v[1:4] for k, v in loaded.items() if k[0] == start}
        assert got == expected, start
        assert all(v[0] == start + DAY for k, v in loaded.items() if k[0] == start)
    assert {k[0] for k in loaded} <= {SINCE + d * DAY for d in range(60)}


def test_window_counts_add_up_to_the_sessions_in_the_range(
    ws: Workspace, make_sim: SimFactory
) -> None:
    sim = make_sim(n_insights=400, window_scoped_counts=True)
    backfill(ws, sim, SINCE, UNTIL)
    sessions = sum(
        1
        for insight_id in sim.store.insight_ids()
        for session in sim.store.sessions(insight_id)
        if SINCE <= session["created_at"] < UNTIL
    )
    assert ws.query("SELECT SUM(occurrence_count) FROM insight_activity") == [(sessions,)]
    assert {r[0] for r in ws.query("SELECT DISTINCT count_scope FROM insight_activity")} == {
        "window"
    }


def test_lifetime_counts_are_labelled_not_additive(ws: Workspace, busy_sim: Simulator) -> None:
    backfill(ws, busy_sim, SINCE, SINCE + 10 * DAY)
    scopes = {r[0] for r in ws.query("SELECT DISTINCT count_scope FROM insight_activity")}
    assert scopes == {"lifetime"}


def test_windows_are_contiguous_half_open_requests(ws: Workspace, busy_sim: Simulator) -> None:
    backfill(ws, busy_sim, SINCE, SINCE + 5 * DAY)
    windows = sorted(
        {(r.body["sessionFromDate"], r.body["sessionToDate"]) for r in insight_requests(busy_sim)
         if "sessionFromDate" in r.body}
    )  # fmt: skip
    assert len(windows) == 5
    for (start, end), (next_start, _) in itertools.pairwise(windows):
        assert ts(next_start) - ts(end) == timedelta(milliseconds=1)  # type: ignore[operator]
        assert ts(end) - ts(start) == DAY - timedelta(milliseconds=1)  # type: ignore[operator]


def test_rerunning_part_of_a_backfill_changes_nothing(ws: Workspace, busy_sim: Simulator) -> None:
    backfill(ws, busy_sim, SINCE, SINCE + 20 * DAY)
    first = activity_rows(ws)
    backfill(ws, busy_sim, SINCE + 5 * DAY, SINCE + 9 * DAY)
    backfill(ws, busy_sim, SINCE, SINCE + 20 * DAY)
    assert activity_rows(ws) == first
    total, distinct = ws.query(
        "SELECT COUNT(*), COUNT(DISTINCT (window_start, insight_id)) FROM insight_activity"
    )[0]
    assert total == distinct


def test_open_window_is_not_read_by_default(ws: Workspace, make_sim: SimFactory) -> None:
    sim = make_sim()
    ws.load(sim, activity=True, activity_initial_days=4)
    today = floor_to(sim.clock.now(), DAY)
    ends = [ts(r.body["sessionToDate"]) for r in insight_requests(sim)
            if "sessionToDate" in r.body]  # fmt: skip
    assert len(ends) >= 4
    assert max(e for e in ends if e) < today
    assert all(r[0] < today for r in ws.query("SELECT window_start FROM insight_activity"))


def test_open_window_is_read_when_asked(ws: Workspace, make_sim: SimFactory) -> None:
    sim = make_sim()
    sim.store.add_sessions(sim.store.insight_ids()[0], n=1)
    ws.load(sim, activity=True, activity_initial_days=1, activity_include_open_window=True)
    today = floor_to(sim.clock.now(), DAY)
    assert (
        ws.query(
            f"SELECT COUNT(*) FROM insight_activity WHERE window_start = TIMESTAMPTZ '{today}'"
        )[0][0]
        >= 1
    )


def test_late_sessions_in_the_reread_span_are_picked_up(
    ws: Workspace, make_sim: SimFactory
) -> None:
    sim = make_sim()
    ws.load(sim, activity=True, activity_initial_days=5)
    yesterday = floor_to(sim.clock.now(), DAY) - DAY
    target = sim.store.insight_ids()[3]
    before = activity_rows(ws).get((yesterday, target))
    sim.store.add_sessions(target, n=2, created_at=yesterday + timedelta(hours=3))

    ws.load(sim, activity=True)

    after = activity_rows(ws)[(yesterday, target)]
    assert after != before
    expected = expected_window(sim, yesterday)[target]
    assert after[1:4] == expected


def test_scheduled_runs_read_only_the_reread_windows(ws: Workspace, make_sim: SimFactory) -> None:
    sim = make_sim()
    ws.load(sim, activity=True, activity_initial_days=6, activity_reread_windows=2)
    sim.clear_requests()
    ws.load(sim, activity=True, activity_reread_windows=2)
    windows = {r.body["sessionFromDate"] for r in insight_requests(sim)
               if "sessionFromDate" in r.body}  # fmt: skip
    assert len(windows) == 2


@pytest.mark.parametrize("status", [403, 503], ids=["forbidden", "unavailable"])
def test_a_failing_scope_probe_leaves_the_scope_unknown_and_loads_the_rest(
    ws: Workspace, busy_sim: Simulator, monkeypatch: pytest.MonkeyPatch, status: int
) -> None:
    answer_get_with(monkeypatch, busy_sim, status, {"statusCode": status, "message": "no"})
    stats = ws.load_with_stats(
        busy_sim, activity=True, since=SINCE.isoformat(), until=(SINCE + 3 * DAY).isoformat(),
        max_attempts=2,
    )  # fmt: skip
    scopes = {r[0] for r in ws.query("SELECT DISTINCT count_scope FROM insight_activity")}
    assert scopes == {"unknown"}
    assert ws.count("insight_activity") == sum(
        len(expected_window(busy_sim, SINCE + day * DAY)) for day in range(3)
    )
    assert len(stats.notes) == 1
    assert "count_scope is unknown" in stats.notes[0]
    assert str(status) in stats.notes[0]
