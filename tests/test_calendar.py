"""Calendar edges at fixed injected instants: the connector and the simulator share the instant,
so a Monday, a month's or a year's end, a leap day and the stroke of midnight UTC are tested on
every day the suite runs, not only on the day they happen."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from sources.opencx.activity import floor_to
from sources.opencx.clock import NOW_VARIABLE, format_timestamp
from sources.opencx.filters import parse_timestamp
from tests.conftest import SimFactory
from tests.helpers import Workspace, insight_requests, ts

pytestmark = pytest.mark.clock

DAY = timedelta(days=1)
MS = timedelta(milliseconds=1)
UTC = timezone.utc

INSTANTS = [
    pytest.param(datetime(2026, 12, 7, 9, 15, tzinfo=UTC), id="a-monday-morning"),
    pytest.param(datetime(2026, 12, 7, 0, 0, tzinfo=UTC), id="monday-at-midnight-utc"),
    pytest.param(datetime(2027, 1, 1, 0, 0, tzinfo=UTC), id="new-year-at-midnight-utc"),
    pytest.param(datetime(2026, 11, 30, 23, 59, 59, tzinfo=UTC), id="a-second-before-month-end"),
    pytest.param(datetime(2028, 2, 29, 12, 0, tzinfo=UTC), id="leap-day"),
    pytest.param(datetime(2028, 3, 1, 0, 0, tzinfo=UTC), id="midnight-after-leap-day"),
]


@pytest.mark.parametrize("now", INSTANTS)
def test_activity_reads_the_complete_days_before_the_injected_now(
    ws: Workspace, make_sim: SimFactory, now: datetime
) -> None:
    sim = make_sim(now=now, window_scoped_counts=True)
    sim.clock.freeze()
    ws.load(sim, activity=True, activity_initial_days=3)

    today = floor_to(now, DAY)
    windows = sorted(
        (ts(r.body["sessionFromDate"]), ts(r.body["sessionToDate"]))
        for r in insight_requests(sim)
        if "sessionFromDate" in r.body
    )
    starts = sorted({start for start, _ in windows if start is not None})
    assert starts == [today - 3 * DAY, today - 2 * DAY, today - DAY]
    assert max(end for _, end in windows if end is not None) == today - MS
    loaded = {row[0] for row in ws.query("SELECT DISTINCT window_start FROM insight_activity")}
    assert loaded <= set(starts)
    assert loaded, "the simulator has sessions in the three days before now"


@pytest.mark.parametrize("now", INSTANTS)
def test_today_and_yesterday_are_utc_midnights_of_the_injected_now(
    monkeypatch: pytest.MonkeyPatch, now: datetime
) -> None:
    monkeypatch.setenv(NOW_VARIABLE, now.isoformat())
    today = floor_to(now, DAY)
    assert parse_timestamp("since", "today") == today
    assert parse_timestamp("since", "yesterday") == today - DAY
    assert format_timestamp(parse_timestamp("until", "7d")) == format_timestamp(now - 7 * DAY)
