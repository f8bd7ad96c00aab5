"""Every filter and date input of the source, through a real load against a running simulator.

Invalid values stop the run with one line (a `ConfigValueError` naming `sources.opencx.<field>`)
before the first request; valid values reach the request body exactly, `since`/`until` bound
the backfill exactly, `lookback_hours` sets exactly how far below the cursor a run re-reads, and
the `activity_*` settings shape the session-date windows exactly.

`tests/test_filters.py` covers `build_filters` in isolation; these go through `opencx(...)` and a
pipeline run, so what is checked is what a user's configuration really does. Expected bodies are
computed here independently (camelCase names, RFC 3339 UTC with milliseconds via `isoformat`).
The inputs at the end are the findings this suite first caught (each was an xfail until fixed).
"""

from __future__ import annotations

import itertools
import json
import math
import string
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from dlt.pipeline.exceptions import PipelineStepFailed
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sources.opencx import settings as api
from sources.opencx import stored_cursor
from sources.opencx.errors import ConfigValueError
from sources.opencx_simulator import Simulator, SimulatorConfig
from tests.conftest import SIM_NOW
from tests.helpers import (
    TEST_KEY,
    Workspace,
    cursor_of,
    expected_insight,
    insight_requests,
    loaded_insights,
    ts,
)

FEW = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
FEWER = settings(FEW, max_examples=12)
FEWEST = settings(FEW, max_examples=5)

API_NAMES = {
    "category": "category",
    "status": "status",
    "sentiment": "sentiment",
    "sort_by": "sortBy",
    "sort_order": "sortOrder",
    "min_sessions": "minSessions",
    "search": "search",
    "team_id": "teamId",
    "insight_number": "insightNumber",
    "session_language": "sessionLanguage",
    "ticket_sentiment": "ticketSentiment",
    "channel": "channel",
    "session_from_date": "sessionFromDate",
    "session_to_date": "sessionToDate",
    "session_status": "sessionStatus",
    "session_contact_id": "sessionContactId",
    "ticket_custom_data": "ticketCustomData",
    "contact_custom_data": "contactCustomData",
    "page": "page",
}
ENUMS: dict[str, tuple[str, ...]] = {
    "status": ("all", "unresolved", "resolved", "archived"),
    "sentiment": ("angry", "happy", "neutral"),
    "sort_by": ("occurrence_count", "last_seen_at", "first_seen_at", "created_at"),
    "sort_order": ("asc", "desc"),
    "session_language": api.LANGUAGES,
    "ticket_sentiment": ("angry", "happy", "neutral"),
    "channel": api.CHANNELS,
    "session_status": ("closed_resolved", "closed_unresolved", "open"),
}
COUNTS = ("min_sessions", "insight_number", "page")
TEXTS = ("category", "search")
DATES = ("session_from_date", "session_to_date")
CUSTOM = ("ticket_custom_data", "contact_custom_data")
MAX_SAFE = 2**53 - 1
_workspaces = itertools.count()


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def small_sim() -> Iterator[Simulator]:
    """30 insights on one page: a valid load is one request."""
    with Simulator(_config(n_insights=30, page_size=50)) as sim:
        yield sim


@pytest.fixture(scope="module")
def paged_sim() -> Iterator[Simulator]:
    """60 insights on pages of 7, for the lookback's page budget."""
    with Simulator(_config(n_insights=60, page_size=7)) as sim:
        yield sim


def _config(**overrides: Any) -> SimulatorConfig:
    return SimulatorConfig(seed=7, now=SIM_NOW, api_keys={TEST_KEY: ("*",)}, **overrides)


def fresh(tmp_path: Path) -> Workspace:
    """A new pipeline and database for one hypothesis example (no state from the last one)."""
    root = tmp_path / f"ws{next(_workspaces)}"
    root.mkdir()
    return Workspace(root)


def assert_rejected_before_any_request(
    ws: Workspace, sim: Simulator, field: str, **args: Any
) -> None:
    sim.clear_requests()
    with pytest.raises(ConfigValueError) as err:
        ws.load(sim, **args)
    message = str(err.value)
    assert "\n" not in message
    assert f"sources.opencx.{field}" in message
    assert TEST_KEY not in message
    assert sim.requests == []


# ---------------------------------------------------------------------------- strategies

ASCII_TEXT = st.text(alphabet=string.printable, max_size=20)
NOT_A_STRING = st.one_of(
    st.integers(), st.floats(allow_nan=False), st.booleans(), st.lists(st.integers(), max_size=2)
)
OFFSETS = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
MOMENTS = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(9998, 12, 31), timezones=OFFSETS
)


def not_in(allowed: tuple[str, ...]) -> st.SearchStrategy[Any]:
    return st.one_of(
        ASCII_TEXT.filter(lambda s: s not in allowed),
        st.sampled_from(allowed).map(str.upper).filter(lambda s: s not in allowed),
        st.sampled_from(allowed).map(lambda s: f" {s}"),
        NOT_A_STRING,
    )


def not_a_count() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.integers(max_value=0),
        st.integers(min_value=MAX_SAFE + 1),
        st.integers(max_value=0).map(str),
        st.integers(min_value=MAX_SAFE + 1).map(str),
        st.floats(),
        st.booleans(),
        ASCII_TEXT.filter(lambda s: not s.strip().isdigit()),
    )


def not_a_uuid(also_bad: tuple[str, ...] = ()) -> st.SearchStrategy[Any]:
    return st.one_of(
        ASCII_TEXT.filter(lambda s: s != "none" and not _is_uuid(s)),
        st.uuids().map(lambda u: str(u)[:-1]),
        st.uuids().map(lambda u: str(u) + "0"),
        st.sampled_from(also_bad) if also_bad else st.nothing(),
        st.integers(),
    )


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


# the words `since`/`until` (and the session dates) accept as times relative to now
RELATIVE_WORDS = frozenset({"now", "today", "yesterday"})


def not_a_date(falsy: bool = True) -> st.SearchStrategy[Any]:
    impossible = st.sampled_from(
        ["2026-02-30", "2026-13-01", "2026-00-10", "2026-04-31", "2026-01-01T24:00:00",
         "2026-01-01T10:61:00Z", "2026-01-01T10:00:00+25:00"]
    )  # fmt: skip
    words = st.text(alphabet=string.ascii_letters + " ", min_size=1, max_size=15).filter(
        lambda word: word.strip().lower() not in RELATIVE_WORDS
    )
    numbers = st.integers() if falsy else st.integers(min_value=1)
    lists = st.lists(st.integers(), min_size=0 if falsy else 1, max_size=2)
    return st.one_of(impossible, words, numbers, lists)


def not_custom_data() -> st.SearchStrategy[Any]:
    key = st.text(min_size=1, max_size=5)
    return st.one_of(
        st.just([]),
        st.just([{}]),
        st.text(alphabet="{[:,", min_size=1, max_size=6),  # not JSON
        st.lists(st.one_of(st.integers(), st.text(max_size=3)), min_size=1, max_size=3),
        st.dictionaries(
            key,
            st.one_of(
                st.dictionaries(key, st.integers(), max_size=1),
                st.lists(st.integers(), max_size=1),
                st.none(),
            ),
            min_size=1,
            max_size=2,
        ).map(lambda d: [d]),
        st.dictionaries(st.just(""), st.integers(), min_size=1).map(lambda d: [d]),
    )


def blank_or_not_text() -> st.SearchStrategy[Any]:
    return st.one_of(st.text(alphabet=" \t\n\r\x0b\x0c", max_size=5), NOT_A_STRING)


INVALID: dict[str, st.SearchStrategy[Any]] = {
    **{field: not_in(allowed) for field, allowed in ENUMS.items()},
    **{field: not_a_count() for field in COUNTS},
    **{field: blank_or_not_text() for field in TEXTS},
    **{field: not_a_date() for field in DATES},
    **{field: not_custom_data() for field in CUSTOM},
    "team_id": not_a_uuid(("None", "NONE", "null", "")),
    "session_contact_id": not_a_uuid(("none",)),
}


def iso(moment: datetime, style: int) -> str:
    """One of the ISO 8601 spellings a user may configure."""
    if style == 0:
        return moment.isoformat()
    if style == 1:
        return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if style == 2:
        return moment.date().isoformat()  # a date: midnight UTC
    return moment.astimezone(timezone.utc).replace(tzinfo=None).isoformat()  # naive: UTC


def as_instant(text: str) -> datetime:
    """What a configured date means, computed without the connector's parser."""
    if len(text) == 10:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=timezone.utc)
    text = text.replace("Z", "+00:00")
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def rfc3339_ms(moment: datetime) -> str:
    utc = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return utc.isoformat(timespec="milliseconds") + "Z"


DATE_TEXT = st.tuples(MOMENTS, st.integers(0, 3)).map(lambda pair: iso(*pair))
CUSTOM_DATA = st.lists(
    st.dictionaries(
        st.text(min_size=1, max_size=8),
        st.one_of(
            st.text(max_size=8),
            st.integers(-(2**31), 2**31),
            st.booleans(),
            st.floats(allow_nan=False, allow_infinity=False, width=32),
        ),
        min_size=1,
        max_size=3,
    ),
    min_size=1,
    max_size=3,
)
VALID: dict[str, st.SearchStrategy[Any]] = {
    **{field: st.sampled_from(allowed) for field, allowed in ENUMS.items()},
    "min_sessions": st.one_of(st.integers(1, MAX_SAFE), st.integers(1, 99).map(str)),
    "insight_number": st.one_of(st.integers(1, MAX_SAFE), st.integers(1, 99).map(str)),
    "page": st.integers(1, 3),
    **{field: st.text(min_size=1, max_size=30).filter(str.strip) for field in TEXTS},
    "team_id": st.one_of(st.just("none"), st.uuids().map(str), st.uuids().map(str).map(str.upper)),
    "session_contact_id": st.one_of(st.uuids().map(str), st.uuids().map(str).map(str.upper)),
    **dict.fromkeys(DATES, DATE_TEXT),
    **{field: st.one_of(CUSTOM_DATA, CUSTOM_DATA.map(json.dumps)) for field in CUSTOM},
}


def expected_value(field: str, value: Any) -> Any:
    if field in COUNTS:
        return int(value)
    if field in DATES:
        return rfc3339_ms(as_instant(value))
    if field in CUSTOM:
        return json.loads(value) if isinstance(value, str) else value
    if field in ("team_id", "session_contact_id"):
        return value if value == "none" else str(uuid.UUID(value))
    return value


# ---------------------------------------------------------------------------- invalid inputs


@pytest.mark.parametrize("field", sorted(INVALID))
def test_invalid_filter_is_rejected_naming_it_before_any_request(
    tmp_path: Path, small_sim: Simulator, field: str
) -> None:
    ws = fresh(tmp_path)

    @settings(FEW, max_examples=8)
    @given(value=INVALID[field])
    def check(value: Any) -> None:
        assert_rejected_before_any_request(ws, small_sim, field, **{field: value})

    check()


@FEW
@given(dates=st.lists(DATE_TEXT, min_size=2, max_size=2, unique_by=as_instant))
def test_session_dates_out_of_order_are_rejected_before_any_request(
    tmp_path: Path, small_sim: Simulator, dates: list[str]
) -> None:
    later, earlier = sorted(dates, key=as_instant, reverse=True)
    assert_rejected_before_any_request(
        fresh(tmp_path),
        small_sim,
        "session_from_date",
        session_from_date=later,
        session_to_date=earlier,
    )


@FEW
@given(field=st.sampled_from(["since", "until"]), value=not_a_date(falsy=False))
def test_unreadable_since_or_until_is_rejected_before_any_request(
    tmp_path: Path, small_sim: Simulator, field: str, value: Any
) -> None:
    assert_rejected_before_any_request(fresh(tmp_path), small_sim, field, **{field: value})


@FEW
@given(dates=st.lists(DATE_TEXT, min_size=2, max_size=2), equal=st.booleans())
def test_since_not_before_until_is_rejected_before_any_request(
    tmp_path: Path, small_sim: Simulator, dates: list[str], equal: bool
) -> None:
    later, earlier = sorted(dates, key=as_instant, reverse=True)
    assert_rejected_before_any_request(
        fresh(tmp_path), small_sim, "since", since=later, until=later if equal else earlier
    )


NEGATIVE = st.floats(max_value=0, exclude_max=True, allow_nan=False, allow_infinity=False)
NOT_POSITIVE = st.floats(max_value=0, allow_nan=False, allow_infinity=False)


@FEW
@given(
    case=st.one_of(
        NEGATIVE.map(lambda v: ("lookback_hours", v)),
        NOT_POSITIVE.map(lambda v: ("activity_window_hours", v)),
        NOT_POSITIVE.map(lambda v: ("activity_initial_days", v)),
        st.integers(max_value=-1).map(lambda v: ("activity_reread_windows", v)),
    )
)
def test_negative_lookback_or_activity_setting_is_rejected_before_any_request(
    tmp_path: Path, small_sim: Simulator, case: tuple[str, Any]
) -> None:
    field, value = case
    assert_rejected_before_any_request(
        fresh(tmp_path), small_sim, field, activity=True, **{field: value}
    )


# ---------------------------------------------------------------------------- valid inputs


@FEWER
@given(values=st.fixed_dictionaries({}, optional=VALID))
def test_valid_filters_reach_every_request_body_exactly(
    tmp_path: Path, small_sim: Simulator, values: dict[str, Any]
) -> None:
    dates = [as_instant(values[f]) for f in DATES if f in values]
    if len(dates) == 2 and dates[0] > dates[1]:
        values["session_from_date"], values["session_to_date"] = (
            values["session_to_date"],
            values["session_from_date"],
        )
    small_sim.clear_requests()
    ws = fresh(tmp_path)

    ws.load(small_sim, **values)

    expected = {API_NAMES[k]: expected_value(k, v) for k, v in values.items() if k != "page"}
    if "sort_by" not in values and "sort_order" not in values:
        expected.update(sortBy="created_at", sortOrder="asc")
    first_page = int(values.get("page", 1))
    bodies = sorted((r.body for r in insight_requests(small_sim)), key=lambda b: b["page"])
    assert [b["page"] for b in bodies] == list(range(first_page, first_page + len(bodies)))
    for body in bodies:
        assert {k: v for k, v in body.items() if k != "page"} == expected
    if first_page == 1:
        served = small_sim.store.query(bodies[0])
        assert set(loaded_insights(ws) if "insights" in ws.tables() else {}) == {
            i["id"] for i in served
        }


BACKFILL_MOMENTS = st.datetimes(
    min_value=(SIM_NOW - timedelta(days=200)).replace(tzinfo=None),
    max_value=(SIM_NOW + timedelta(days=1)).replace(tzinfo=None),
    timezones=OFFSETS,
)
BACKFILL_TEXT = st.tuples(BACKFILL_MOMENTS, st.integers(0, 3)).map(lambda pair: iso(*pair))


@settings(FEW, max_examples=8)
@given(
    bounds=st.lists(BACKFILL_TEXT, min_size=2, max_size=2, unique_by=as_instant),
    keep=st.sampled_from(["both", "since", "until"]),
)
def test_backfill_loads_exactly_the_insights_last_seen_in_since_until(
    tmp_path: Path, small_sim: Simulator, bounds: list[str], keep: str
) -> None:
    since, until = sorted(bounds, key=as_instant)
    args = {"since": since, "until": until}
    if keep != "both":
        args = {keep: args[keep]}
    low = (
        as_instant(args["since"]) if "since" in args else datetime.min.replace(tzinfo=timezone.utc)
    )
    high = (
        as_instant(args["until"]) if "until" in args else datetime.max.replace(tzinfo=timezone.utc)
    )
    small_sim.clear_requests()
    ws = fresh(tmp_path)

    pipeline = ws.load(small_sim, **args)

    expected = {
        i["id"]: expected_insight(i)
        for i in small_sim.store.ground_truth()
        if (seen := ts(i["last_seen_at"])) is not None and low <= seen < high
    }
    assert (loaded_insights(ws) if "insights" in ws.tables() else {}) == expected
    sorts = {(r.body["sortBy"], r.body["sortOrder"]) for r in insight_requests(small_sim)}
    assert sorts == {("last_seen_at", "desc") if "since" in args else ("created_at", "asc")}
    assert stored_cursor(pipeline.state) is None  # a backfill never stores the scheduled runs


def test_lookback_rereads_exactly_the_pages_seen_within_it(
    tmp_path: Path, paged_sim: Simulator
) -> None:
    ws = fresh(tmp_path)
    cursor = cursor_of(ws.load(paged_sim))  # nothing changes afterwards: the cursor stays
    last_seen = [ts(i["last_seen_at"]) for i in paged_sim.store.ground_truth()]
    size, total = paged_sim.config.page_size, len(last_seen)

    @FEWEST
    @given(hours=st.one_of(st.just(0.0), st.integers(0, 24 * 400).map(float), st.floats(0, 5000)))
    def rerun_with(hours: float) -> None:
        paged_sim.clear_requests()

        ws.load(paged_sim, lookback_hours=hours)

        threshold = cursor - timedelta(seconds=hours * 3600)
        within = sum(1 for moment in last_seen if moment is not None and moment >= threshold)
        requests = insight_requests(paged_sim)
        assert len(requests) == min(within // size + 1, math.ceil(total / size))
        assert {(r.body["sortBy"], r.body["sortOrder"]) for r in requests} == {
            ("last_seen_at", "desc")
        }
        assert cursor_of(ws.pipeline()) == cursor

    rerun_with()


@settings(FEW, max_examples=4)
@given(
    window_hours=st.sampled_from([1.0, 2.0, 3.0, 6.0, 8.0, 12.0, 24.0, 36.0, 48.0, 1.5, 7.25]),
    initial_days=st.floats(0.1, 3),
    reread=st.integers(0, 4),
    include_open=st.booleans(),
)
def test_activity_settings_shape_aligned_contiguous_windows(
    tmp_path: Path,
    small_sim: Simulator,
    window_hours: float,
    initial_days: float,
    reread: int,
    include_open: bool,
) -> None:
    small_sim.clear_requests()
    size = timedelta(hours=window_hours)
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)

    def floor(moment: datetime) -> datetime:
        return epoch + ((moment - epoch) // size) * size

    before = small_sim.clock.now()
    fresh(tmp_path).load(
        small_sim,
        activity=True,
        activity_window_hours=window_hours,
        activity_initial_days=initial_days,
        activity_reread_windows=reread,
        activity_include_open_window=include_open,
    )
    after = small_sim.clock.now()

    windows = sorted(
        (as_instant(r.body["sessionFromDate"]), as_instant(r.body["sessionToDate"]))
        for r in insight_requests(small_sim)
        if "sessionFromDate" in r.body
    )
    windows = sorted(set(windows))
    assert windows
    for start, end in windows:
        assert floor(start) == start
        assert end == start + size - timedelta(milliseconds=1)
    for (_, end), (start, _) in itertools.pairwise(windows):
        assert start == end + timedelta(milliseconds=1)
    last_end = windows[-1][1] + timedelta(milliseconds=1)
    open_extra = size if include_open else timedelta(0)
    assert last_end in {floor(before) + open_extra, floor(after) + open_extra}
    assert windows[0][0] == floor(last_end - open_extra - timedelta(days=initial_days))


# ---------------------------------------------------------------------------- findings


REJECTED_FINDINGS = [
    pytest.param(
        "lookback_hours",
        {"lookback_hours": math.nan},
        id="lookback-hours-nan",
    ),
    pytest.param(
        "lookback_hours",
        {"lookback_hours": math.inf},
        id="lookback-hours-infinite",
    ),
    pytest.param(
        "lookback_hours",
        {"lookback_hours": 1e12},
        id="lookback-hours-beyond-timedelta",
    ),
    pytest.param(
        "activity_window_hours",
        {"activity": True, "activity_window_hours": math.nan},
        id="activity-window-hours-nan",
    ),
    pytest.param(
        "activity_window_hours",
        {"activity": True, "activity_window_hours": math.inf},
        id="activity-window-hours-infinite",
    ),
    pytest.param(
        "activity_window_hours",
        {"activity": True, "activity_window_hours": 1e-7, "activity_initial_days": 1e-9},
        id="activity-window-below-one-millisecond",
    ),
    pytest.param(
        "activity_initial_days",
        {"activity": True, "activity_initial_days": 1e12},
        id="activity-initial-days-beyond-timedelta",
    ),
    pytest.param(
        "min_sessions",
        {"min_sessions": "\u00b2"},
        id="min-sessions-superscript-digit",
    ),
    pytest.param(
        "session_from_date",
        {"session_from_date": "0001-01-01T00:00:00+01:00"},
        id="session-date-before-year-1-in-utc",
    ),
    pytest.param(
        "since",
        {"since": "0001-01-01T00:00:00+01:00"},
        id="since-before-year-1-in-utc",
    ),
    pytest.param(
        "until",
        {"until": "1969-12-31"},
        id="until-before-the-epoch-names-until",
    ),
    pytest.param(
        "since",
        {"since": ""},
        id="since-empty-string",
    ),
    pytest.param(
        "search",
        {"search": "checkout \udcff"},
        id="search-with-undecodable-command-line-byte",
    ),
]


@pytest.mark.parametrize(("field", "args"), REJECTED_FINDINGS)
def test_out_of_range_input_is_rejected_naming_it_before_any_request(
    tmp_path: Path, small_sim: Simulator, field: str, args: dict[str, Any]
) -> None:
    assert_rejected_before_any_request(fresh(tmp_path), small_sim, field, **args)


def test_dates_before_year_1000_are_sent_as_rfc3339_or_rejected(
    tmp_path: Path, small_sim: Simulator
) -> None:
    small_sim.clear_requests()
    try:
        fresh(tmp_path).load(small_sim, session_from_date="0999-12-31")
    except ConfigValueError:
        assert small_sim.requests == []
        return
    except PipelineStepFailed:
        pass
    bodies = [r.body for r in insight_requests(small_sim)]
    assert bodies
    assert bodies[0]["sessionFromDate"] == "0999-12-31T00:00:00.000Z"
