"""Relative times for scheduled runs: `--since 7d`, `until = "yesterday"`, `P7D`, `PT6H` ...

A crontab cannot hold a date that moves, so `since`, `until` and the session-date filters also
take times counted back from now (UTC). Anything else ends in the usual one-line error naming
the key and listing the accepted forms, before any request.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from sources.opencx.clock import NOW_VARIABLE, format_timestamp
from sources.opencx.errors import ConfigValueError
from sources.opencx.filters import parse_timestamp, relative_timestamp
from sources.opencx_simulator import Simulator
from tests.conftest import SIM_NOW, SimFactory
from tests.helpers import Workspace, insight_requests, ts
from tests.test_cli import assert_one_line_error, cli_env, run_cli

pytestmark = pytest.mark.clock

NOW = datetime(2026, 3, 31, 10, 30, 15, tzinfo=UTC)
MIDNIGHT = datetime(2026, 3, 31, tzinfo=UTC)

RELATIVE = [
    pytest.param("now", NOW, id="now-is-now"),
    pytest.param("today", MIDNIGHT, id="today-is-the-utc-midnight-that-started-it"),
    pytest.param("yesterday", MIDNIGHT - timedelta(days=1), id="yesterday-is-its-utc-midnight"),
    pytest.param("7d", NOW - timedelta(days=7), id="7d-is-seven-days-ago"),
    pytest.param("12h", NOW - timedelta(hours=12), id="12h-is-twelve-hours-ago"),
    pytest.param("2w", NOW - timedelta(weeks=2), id="2w-is-two-weeks-ago"),
    pytest.param("P7D", NOW - timedelta(days=7), id="iso-P7D"),
    pytest.param("PT6H", NOW - timedelta(hours=6), id="iso-PT6H"),
    pytest.param("PT90M", NOW - timedelta(minutes=90), id="iso-PT90M-minutes"),
    pytest.param("P1DT12H", NOW - timedelta(days=1, hours=12), id="iso-days-and-hours"),
    pytest.param(
        "P1M", datetime(2026, 2, 28, 10, 30, 15, tzinfo=UTC), id="iso-P1M-is-a-calendar-month"
    ),
    pytest.param(
        "P1Y", datetime(2025, 3, 31, 10, 30, 15, tzinfo=UTC), id="iso-P1Y-is-a-calendar-year"
    ),
    pytest.param("TODAY", MIDNIGHT, id="names-are-case-insensitive"),
    pytest.param("p7d", NOW - timedelta(days=7), id="iso-is-case-insensitive"),
    pytest.param(" 7d\n", NOW - timedelta(days=7), id="surrounding-space-is-ignored"),
]

NOT_RELATIVE = [
    pytest.param("2026-01-31", id="an-iso-date-is-absolute"),
    pytest.param("7", id="number-without-unit"),
    pytest.param("7y", id="unknown-unit"),
    pytest.param("-7d", id="negative"),
    pytest.param("d7", id="unit-first"),
    pytest.param("tomorrow", id="future-name"),
    pytest.param("last tuesday", id="prose"),
    pytest.param("PT", id="iso-duration-without-amount"),
    pytest.param("P1DT", id="iso-time-designator-without-amount"),
    pytest.param("P1D/P2D", id="iso-interval"),
    pytest.param("P1W2D", id="iso-weeks-mixed-with-days"),
    pytest.param("", id="empty"),
]


@pytest.mark.parametrize(("text", "expected"), RELATIVE)
def test_relative_time_counts_back_from_now(text: str, expected: datetime) -> None:
    moment = relative_timestamp(text, NOW)
    assert moment == expected
    assert moment is not None
    assert type(moment) is datetime
    assert moment.utcoffset() == timedelta(0)


def test_today_is_the_utc_day_whatever_the_zone_of_now() -> None:
    late_in_berlin = datetime(2026, 4, 1, 1, 30, tzinfo=timezone(timedelta(hours=2)))
    assert relative_timestamp("today", late_in_berlin) == MIDNIGHT


@pytest.mark.parametrize("text", NOT_RELATIVE)
def test_other_text_is_not_a_relative_time(text: str) -> None:
    assert relative_timestamp(text, NOW) is None


def test_configured_relative_time_counts_back_from_the_connectors_clock() -> None:
    assert parse_timestamp("since", "7d") == SIM_NOW - timedelta(days=7)


def test_configured_relative_time_counts_back_from_the_real_clock_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(NOW_VARIABLE)
    before = datetime.now(UTC)
    moment = parse_timestamp("since", "7d")
    after = datetime.now(UTC)
    assert before - timedelta(days=7) <= moment <= after - timedelta(days=7)


def test_iso_dates_are_still_absolute() -> None:
    assert parse_timestamp("until", "2026-01-31") == datetime(2026, 1, 31, tzinfo=UTC)
    assert parse_timestamp("until", "2026-01-31T08:00:00+01:00") == datetime(
        2026, 1, 31, 7, tzinfo=UTC
    )


@pytest.mark.parametrize("name", ["since", "until", "session_from_date", "session_to_date"])
@pytest.mark.parametrize(
    "value", ["7y", "last tuesday", "P1DT", 7], ids=["7y", "prose", "iso-typo", "number"]
)
def test_unreadable_time_is_one_line_naming_the_key_and_the_forms(name: str, value: Any) -> None:
    with pytest.raises(ConfigValueError) as err:
        parse_timestamp(name, value)
    message = str(err.value)
    assert "\n" not in message
    assert f"sources.opencx.{name}" in message
    for form in ("2026-01-31", "7d", "12h", "P7D", "PT6H", "today", "yesterday"):
        assert form in message


@pytest.mark.parametrize("value", ["999999999d", "P9999999Y"], ids=["days", "iso-years"])
def test_time_beyond_the_calendar_is_one_line(value: str) -> None:
    with pytest.raises(ConfigValueError, match="outside the supported range") as err:
        parse_timestamp("since", value)
    assert "sources.opencx.since" in str(err.value)


def test_cli_rejects_a_bad_relative_time_before_any_request(tmp_path: Path, sim: Simulator) -> None:
    result = run_cli(cli_env(tmp_path), "--base-url", sim.base_url, "--since", "7y")
    assert_one_line_error(result, "sources.opencx.since", "7d", "yesterday")
    assert result.returncode == 2
    assert sim.requests == []


@pytest.mark.parametrize(
    ("since", "until", "back_since", "back_until"),
    [
        pytest.param("7d", None, timedelta(days=7), None, id="since-7d"),
        pytest.param("P30D", "PT36H", timedelta(days=30), timedelta(hours=36), id="P30D-to-PT36H"),
    ],
)
def test_backfill_with_relative_bounds_loads_what_was_last_seen_in_them(
    ws: Workspace,
    make_sim: SimFactory,
    since: str,
    until: str | None,
    back_since: timedelta,
    back_until: timedelta | None,
) -> None:
    sim = make_sim(page_size=50)
    before = sim.clock.now()
    ws.load(sim, since=since, **({"until": until} if until else {}))
    after = sim.clock.now()
    seen = {item["id"]: ts(item["last_seen_at"]) for item in sim.store.ground_truth()}
    loaded = {row[0] for row in ws.query("SELECT id FROM insights")}
    # the run read the clock somewhere in [before, after]: only those near a bound may go either way
    surely_in = {
        i
        for i, at in seen.items()
        if at is not None
        and at >= after - back_since
        and (back_until is None or at < before - back_until)
    }
    surely_out = {
        i
        for i, at in seen.items()
        if at is None
        or at < before - back_since
        or (back_until is not None and at >= after - back_until)
    }
    assert surely_in
    assert surely_out
    assert surely_in <= loaded
    assert not loaded & surely_out


def test_session_date_filter_yesterday_sends_its_utc_midnight(
    ws: Workspace, sim: Simulator
) -> None:
    before = sim.clock.now()
    ws.load(sim, session_from_date="yesterday")
    after = sim.clock.now()
    sent = {request.body["sessionFromDate"] for request in insight_requests(sim)}
    midnights = {
        format_timestamp(datetime.combine(day.date(), datetime.min.time(), UTC) - timedelta(days=1))
        for day in (before, after)
    }
    assert len(sent) == 1
    assert sent <= midnights
