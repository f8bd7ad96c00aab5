"""Every dashboard query in `notebooks/insights.sql` answers correctly on a loaded database.

Each query's result is compared with figures computed here, in Python, from the simulator's
ground truth and raw sessions: never by running SQL again, so a query that runs but answers
wrongly (a bad join, a wrong filter, a miscounted window) fails. Every query needs a check.
"""

from __future__ import annotations

import math
import os
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import duckdb
import pytest

from sources.opencx_simulator import Simulator, SimulatorConfig
from tests.helpers import TEST_KEY, Workspace, person_key, ts

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "insights.sql"
DAY = timedelta(days=1)
ACTIVITY_DAYS = 40  # more than the 30 days the top-categories query looks back
BUMPED = 25  # more than the 20 rows of the growth query, so its top 20 is a real cut
Rows = list[tuple[Any, ...]]


@dataclass(frozen=True)
class Truth:
    """What the loaded database must reflect, straight from the simulator."""

    insights: list[dict[str, Any]]
    sessions: dict[str, list[datetime]]
    windows: list[datetime]  # daily activity windows loaded, oldest first
    counts_before_bump: dict[str, int]
    bumped: list[str]


def notebook_queries() -> dict[str, str]:
    """The notebook's statements under their titles (the comment line right above each).

    A statement ends at a code line ending in ";" (comments may contain semicolons).
    """
    queries: dict[str, str] = {}
    title = ""
    code: list[str] = []
    for line in NOTEBOOK.read_text(encoding="utf-8").splitlines():
        if line.startswith("--"):
            title = title if code else line.removeprefix("--").strip()
        elif line.strip():
            code.append(line)
            if line.rstrip().endswith(";"):
                assert title not in queries, f"two queries titled {title!r}"
                queries[title], code = "\n".join(code), []
    assert not code, "the notebook ends inside a statement"
    return queries


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Workspace, Truth]]:
    """A database after an activity backfill, a first full load and an incremental run.

    The simulator's clock is the real one (the activity planner reads the wall clock), and its
    counts are window-scoped so the additive-count query has rows to sum.
    """
    root = tmp_path_factory.mktemp("notebook")
    now = datetime.now(timezone.utc).replace(microsecond=0)
    until = datetime.combine(now.date(), datetime.min.time(), timezone.utc) - DAY
    since = until - ACTIVITY_DAYS * DAY
    config = SimulatorConfig(
        seed=11,
        n_insights=240,
        page_size=50,
        now=now,
        window_scoped_counts=True,
        api_keys={TEST_KEY: ("*",)},
    )
    with pytest.MonkeyPatch.context() as env, Simulator(config) as sim:
        env.setenv("DLT_DATA_DIR", str(root / "dlt_data"))
        env.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")
        for name in list(os.environ):
            if name.startswith(("SOURCES__", "DESTINATION__")):
                env.delenv(name)
        ws = Workspace(root)
        ws.load(sim, activity=True, since=since.isoformat(), until=until.isoformat())
        ws.load(sim)
        before = {item["id"]: item["occurrence_count"] for item in sim.store.ground_truth()}
        sim.clock.advance(hours=1)
        bumped = sim.store.bump_counts(BUMPED, rng_seed=3)
        ws.load(sim)
        insights = sim.store.ground_truth()
        sessions = {
            item["id"]: [s["created_at"] for s in sim.store.sessions(item["id"])]
            for item in insights
        }
        windows = [since + n * DAY for n in range(ACTIVITY_DAYS)]
        yield ws, Truth(insights, sessions, windows, before, bumped)


def run_sql(ws: Workspace, sql: str) -> Rows:
    with duckdb.connect(str(ws.db), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        return con.execute(sql).fetchall()


def name_or(entity: dict[str, Any] | None, fallback: str) -> str:
    """coalesce(name, fallback) of a joined team or category."""
    name = (entity or {}).get("name")
    return fallback if name is None else str(name)


def sessions_in(truth: Truth, insight_id: str, start: datetime) -> int:
    return sum(1 for moment in truth.sessions[insight_id] if start <= moment < start + DAY)


def assert_descending(keys: list[Any]) -> None:
    assert keys == sorted(keys, reverse=True)


# ---------------------------------------------------------------------------- one check per query


def check_open_by_team(rows: Rows, truth: Truth) -> None:
    expected: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for item in truth.insights:
        if item["resolved_at"] is None and item["archived_at"] is None:
            figures = expected[name_or(item["team"], "(no team)")]
            figures[0] += 1
            figures[1] += item["occurrence_count"]
            figures[2] += item["sentiment"] == "angry"
    assert {team: [*figures] for team, *figures in rows} == dict(expected)
    assert_descending([(angry, sessions) for _, _, sessions, angry in rows])


def check_top_categories(rows: Rows, truth: Truth) -> None:
    active = [w for w in truth.windows if any(sessions_in(truth, i, w) for i in truth.sessions)]
    recent = [w for w in active if w >= max(active) - 30 * DAY]
    expected: Counter[str] = Counter()
    for item in truth.insights:
        category = name_or(item["category"], "(uncategorised)")
        for window in recent:
            expected[category] += sessions_in(truth, item["id"], window)
    assert +expected, "no sessions in the loaded windows: the check would be vacuous"
    assert dict(rows) == dict(+expected)
    assert_descending([sessions for _, sessions in rows])


def check_active_per_day(rows: Rows, truth: Truth) -> None:
    expected: dict[date, int] = {}
    for window in truth.windows:
        active = sum(1 for i in truth.sessions if sessions_in(truth, i, window))
        if active:
            expected[window.date()] = active
    assert rows == sorted(expected.items())


def hour_boundaries(start: datetime, end: datetime) -> int:
    """DuckDB's date_diff('hour', start, end): hour boundaries crossed, not whole hours."""
    return math.floor(end.timestamp() / 3600) - math.floor(start.timestamp() / 3600)


def check_median_time_to_resolve(rows: Rows, truth: Truth) -> None:
    hours: dict[str, list[int]] = defaultdict(list)
    for item in truth.insights:
        resolved, first_seen = ts(item["resolved_at"]), ts(item["first_seen_at"])
        if resolved is not None and first_seen is not None:
            hours[name_or(item["team"], "(no team)")].append(hour_boundaries(first_seen, resolved))
    expected = {team: (statistics.median(values), len(values)) for team, values in hours.items()}
    assert {team: (median, count) for team, median, count in rows} == expected
    assert_descending([count for *_, count in rows])


def check_growth_per_version(rows: Rows, truth: Truth) -> None:
    counts = {item["id"]: item["occurrence_count"] for item in truth.insights}
    grown = {i: counts[i] - truth.counts_before_bump[i] for i in truth.bumped}
    assert len(rows) == 20
    assert [new for *_, new in rows] == sorted(grown.values(), reverse=True)[:20]
    for insight_id, _, count, new in rows:
        assert grown[insight_id] == new
        assert counts[insight_id] == count


def check_who_resolves_and_archives(rows: Rows, truth: Truth) -> None:
    expected: dict[str | None, list[int]] = defaultdict(lambda: [0, 0])
    for item in truth.insights:
        for column, field in ((0, "resolved_by"), (1, "archived_by")):
            person = item[field]
            if person_key(person) is not None:
                expected[person["name"]][column] += 1
    assert {name: [resolved, archived] for name, resolved, archived in rows} == dict(expected)
    assert_descending([resolved for _, resolved, _ in rows])


CHECKS: dict[str, Callable[[Rows, Truth], None]] = {
    "Open insights by team, angriest first": check_open_by_team,
    "Top categories by sessions in the last 30 days of activity (only additive counts)": (
        check_top_categories
    ),
    "Insights active per day (valid whatever count_scope says)": check_active_per_day,
    "Median time to resolve, per team": check_median_time_to_resolve,
    "How fast does each insight grow: occurrence_count per version": check_growth_per_version,
    "Who resolves and archives": check_who_resolves_and_archives,
}


def test_every_notebook_query_has_a_check() -> None:
    assert sorted(notebook_queries()) == sorted(CHECKS)


@pytest.mark.parametrize(
    "title", list(CHECKS), ids=[check.__name__.removeprefix("check_") for check in CHECKS.values()]
)
def test_notebook_query_answers_match_the_ground_truth(
    loaded: tuple[Workspace, Truth], title: str
) -> None:
    ws, truth = loaded
    CHECKS[title](run_sql(ws, notebook_queries()[title]), truth)
