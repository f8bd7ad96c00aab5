"""The dashboard views (sources/opencx/views.py) answer with figures computed independently.

One scenario per warehouse (DuckDB, PostgreSQL): a full load, an activity backfill of exactly
62 complete days, then reopened, newly resolved, archived and deleted insights picked up by a
reconciliation. Every expected figure is computed here in Python from the simulator's ground
truth and raw sessions, never by running SQL: a view that runs but answers wrongly fails.

Two inputs come from the warehouse because only the loader knows them: the as-of day (the UTC
day of the latest load, `_dlt_loads`, which the views document as their "today") and the
instant of the reconciliation (when the history learned of a reopening, and the `deleted_at`
it stamped, checked to lie within the run).
"""

from __future__ import annotations

import math
import os
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from sources.opencx import views
from sources.opencx_simulator import Simulator, SimulatorConfig
from tests.conftest import WAREHOUSES, SimFactory
from tests.docs_support import section
from tests.helpers import TEST_KEY, Workspace, expected_insight, ts
from tests.postgres_server import PostgresServer
from tests.warehouses import DUCKDB, DuckDBWarehouse, PostgresWarehouse, Warehouse

DAY = timedelta(days=1)
ACTIVITY_DAYS = 62  # the 30 complete days of top_insights_30d, the 30 before, and a margin
REOPENED, RESOLVED, ARCHIVED, DELETED = 6, 5, 3, 4
# percentiles are floats the engines compute from epoch seconds in their own way (DuckDB in
# double, PostgreSQL in numeric); they agree with Python to far below a microsecond
REL, ABS = 1e-12, 1e-9
Rows = list[dict[str, Any]]


@dataclass(frozen=True)
class Truth:
    """What the warehouse must reflect, from the simulator and the scenario's own actions."""

    live: list[dict[str, Any]]  # the API's insights after the scenario
    deleted: dict[str, dict[str, Any]]  # deleted insights as the API served them before
    before: dict[str, dict[str, Any]]  # every insight as the first load saw it
    sessions: dict[str, list[datetime]]  # live insights' session times
    activity_from: date  # first day of the activity backfill
    activity_until: date  # day after its last day
    as_of: date  # the views' "today"
    reconciled_at: datetime  # the reconciliation's history boundary
    deleted_at: dict[str, datetime]  # as the reconciliation stamped it


def day_of(moment: datetime) -> date:
    return moment.astimezone(timezone.utc).date()


def midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, timezone.utc)


def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


@pytest.fixture(scope="module", params=WAREHOUSES, ids=WAREHOUSES)
def loaded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Workspace, Truth]]:
    """The scenario, loaded once per warehouse for all of this module's checks."""
    root = tmp_path_factory.mktemp(f"views_{request.param}")
    if request.param == DUCKDB:
        yield from scenario(root, DuckDBWarehouse(root / "warehouse.duckdb"))
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    dsn = server.create_database()
    try:
        yield from scenario(root, PostgresWarehouse(dsn))
    finally:
        server.drop_database(dsn)


def scenario(root: Path, warehouse: Warehouse) -> Iterator[tuple[Workspace, Truth]]:
    """Load, backfill activity, change the workflow state, reconcile.

    The simulator's clock starts at today's midnight (UTC), so every session lies in complete
    days; the activity backfill names its days explicitly, so the windows loaded do not depend
    on when the test runs. Counts are window-scoped, as `daily_insight_sessions` needs.
    """
    today = datetime.now(timezone.utc).date()
    config = SimulatorConfig(
        seed=23, n_insights=400, days=120, page_size=50, now=midnight(today),
        window_scoped_counts=True, api_keys={TEST_KEY: ("*",)},
    )  # fmt: skip
    with pytest.MonkeyPatch.context() as env, Simulator(config) as sim:
        env.setenv("DLT_DATA_DIR", str(root / "dlt_data"))
        env.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")
        for name in list(os.environ):
            if name.startswith(("SOURCES__", "DESTINATION__")):
                env.delenv(name)
        ws = Workspace(root, warehouse)
        ws.load(sim)
        since, until = today - ACTIVITY_DAYS * DAY, today
        ws.load(sim, activity=True, since=midnight(since).isoformat(),
                until=midnight(until).isoformat())  # fmt: skip
        before = {item["id"]: item for item in sim.store.ground_truth()}
        deleted = change_workflow_state(sim, list(before.values()), today)
        started = sim.clock.now()
        ws.load(sim, full_refresh=True)
        finished = sim.clock.now()
        deleted_at = dict(ws.query(
            "SELECT id, deleted_at FROM insights WHERE deleted_at IS NOT NULL"
        ))  # fmt: skip
        assert set(deleted_at) == set(deleted)
        assert all(started <= moment <= finished for moment in deleted_at.values())
        live = sim.store.ground_truth()
        yield (
            ws,
            Truth(
                live=live,
                deleted={i: before[i] for i in deleted},
                before=before,
                sessions={item["id"]: session_times(sim, item["id"]) for item in live},
                activity_from=since,
                activity_until=until,
                as_of=day_of(
                    ws.query("SELECT MAX(inserted_at) FROM _dlt_loads WHERE status = 0")[0][0]
                ),
                reconciled_at=ws.query("SELECT MAX(valid_from) FROM insight_history")[0][0],
                deleted_at=deleted_at,
            ),
        )


def change_workflow_state(sim: Simulator, items: list[dict[str, Any]], today: date) -> list[str]:
    """Reopen, resolve and archive (in the past), delete; returns the deleted ids."""
    resolved = [i["id"] for i in items if i["resolved_at"] and not i["archived_at"]]
    open_ = [i["id"] for i in items if not i["resolved_at"] and not i["archived_at"]]
    assert len(resolved) >= REOPENED
    assert len(open_) >= RESOLVED + ARCHIVED + DELETED
    for insight_id in resolved[:REOPENED]:
        sim.store.unresolve(insight_id)
    for n, insight_id in enumerate(open_[:RESOLVED]):
        sim.store.resolve(insight_id, at=midnight(today) - (n + 2) * DAY + timedelta(hours=5))
    for n, insight_id in enumerate(open_[RESOLVED : RESOLVED + ARCHIVED]):
        sim.store.archive(insight_id, at=midnight(today) - (n + 9) * DAY)
    victims = open_[RESOLVED + ARCHIVED : RESOLVED + ARCHIVED + DELETED] + resolved[-1:]
    for insight_id in victims:
        sim.store.delete(insight_id)
    return victims


def session_times(sim: Simulator, insight_id: str) -> list[datetime]:
    return [session["created_at"] for session in sim.store.sessions(insight_id)]


def view_rows(ws: Workspace, view: str) -> Rows:
    names, rows = ws.warehouse.execute(f"SELECT * FROM {view}")
    return [dict(zip(names, row, strict=True)) for row in rows]


def name_of(entity: dict[str, Any] | None) -> str | None:
    return None if entity is None else entity["name"]


def id_of(entity: dict[str, Any] | None) -> str | None:
    return None if entity is None else entity["id"]


# ------------------------------------------------------------------------- insights_enriched


def enriched(item: dict[str, Any]) -> dict[str, Any]:
    row = expected_insight(item)
    for column in ("deleted_at", "deep_research"):
        del row[column]
    return {
        **row,
        "category_name": name_of(item["category"]),
        "team_name": name_of(item["team"]),
        "resolved_by_name": name_of(item["resolved_by"]),
        "archived_by_name": name_of(item["archived_by"]),
    }


def test_insights_enriched_has_every_live_insight_with_its_names(
    loaded: tuple[Workspace, Truth],
) -> None:
    ws, truth = loaded
    rows = view_rows(ws, "insights_enriched")
    expected = {item["id"]: enriched(item) for item in truth.live}
    assert {row["id"]: {k: row[k] for k in expected[row["id"]]} for row in rows} == expected
    assert len(rows) == len(truth.live)
    assert [row["insight_number"] for row in rows] == sorted(e["insight_number"] for e in rows)
    assert {row["status"] for row in rows} == {"unresolved", "resolved", "archived"}


# -------------------------------------------------------------------- daily_insight_sessions


def daily_sessions(truth: Truth) -> dict[tuple[date, str], int]:
    """Sessions per (UTC day, live insight) within the backfilled days."""
    counts: Counter[tuple[date, str]] = Counter()
    for insight_id, moments in truth.sessions.items():
        for moment in moments:
            day = day_of(moment)
            if truth.activity_from <= day < truth.activity_until:
                counts[day, insight_id] += 1
    return dict(counts)


def test_daily_insight_sessions_counts_each_days_sessions(loaded: tuple[Workspace, Truth]) -> None:
    ws, truth = loaded
    rows = view_rows(ws, "daily_insight_sessions")
    live = {item["id"]: item for item in truth.live}
    got = {(row["day"], row["insight_id"]): row["sessions"] for row in rows}
    expected = daily_sessions(truth)
    assert len(expected) > 200, "too little activity for a meaningful check"
    assert got == expected
    for row in rows:
        item = live[row["insight_id"]]
        assert row["category_name"] == name_of(item["category"])
        assert row["category_id"] == id_of(item["category"])
        assert row["team_name"] == name_of(item["team"])
        assert row["sentiment"] == item["sentiment"]
    assert not set(truth.deleted) & {row["insight_id"] for row in rows}


# ------------------------------------------------------------------------------ top insights


def competition_ranks(sessions: dict[str, int]) -> dict[str, int]:
    """1 + how many insights have more sessions (ties share a rank)."""
    return {i: 1 + sum(1 for other in sessions.values() if other > n) for i, n in sessions.items()}


def period_sessions(truth: Truth, first: date, last: date) -> dict[str, int]:
    totals: Counter[str] = Counter()
    for (day, insight_id), n in daily_sessions(truth).items():
        if first <= day <= last:
            totals[insight_id] += n
    return dict(totals)


@pytest.mark.parametrize("days", [7, 30])
def test_top_insights_rank_the_last_complete_days_against_the_period_before(
    loaded: tuple[Workspace, Truth], days: int
) -> None:
    ws, truth = loaded
    first, last = truth.as_of - days * DAY, truth.as_of - DAY
    current = period_sessions(truth, first, last)
    previous = period_sessions(truth, first - days * DAY, first - DAY)
    total = sum(current.values())
    ranks = competition_ranks(current)
    numbers = {item["id"]: item["insight_number"] for item in truth.live}
    rows = view_rows(ws, f"top_insights_{days}d")
    assert len(current) >= 20, "too few active insights for a meaningful ranking"
    assert len(previous) >= 20, "the previous period must have sessions too"
    assert {row["insight_id"] for row in rows} == set(current)
    for row in rows:
        insight_id, before = row["insight_id"], previous.get(row["insight_id"], 0)
        assert row["rank"] == ranks[insight_id]
        assert row["sessions"] == current[insight_id]
        assert row["share_of_sessions"] == current[insight_id] / total
        assert row["previous_sessions"] == before
        assert row["change"] == current[insight_id] - before
        assert row["change_ratio"] == ((current[insight_id] - before) / before if before else None)
        assert (row["first_day"], row["last_day"]) == (first, last)
        assert row["insight_number"] == numbers[insight_id]
    assert [row["rank"] for row in rows] == sorted(ranks.values())
    assert math.isclose(sum(row["share_of_sessions"] for row in rows), 1.0)


# ----------------------------------------------------------------------- weekly_insight_flow


def test_weekly_insight_flow_counts_each_weeks_events(loaded: tuple[Workspace, Truth]) -> None:
    ws, truth = loaded
    expected: dict[date, Counter[str]] = defaultdict(Counter)
    for item in [*truth.live, *truth.deleted.values()]:
        for kind in ("created", "resolved", "archived"):
            moment = ts(item[f"{kind}_at"])
            if moment is not None:
                expected[monday(day_of(moment))][kind] += 1
    for moment in truth.deleted_at.values():
        expected[monday(day_of(moment))]["deleted"] += 1
    first = min(expected)
    weeks = [first + 7 * n * DAY for n in range((monday(truth.as_of) - first).days // 7 + 1)]
    rows = view_rows(ws, "weekly_insight_flow")
    assert rows == [
        {"week_start": week, **{k: expected[week][k]
                                for k in ("created", "resolved", "archived", "deleted")}}
        for week in weeks
    ]  # fmt: skip
    assert all(row["week_start"].weekday() == 0 for row in rows)
    assert sum(row["created"] for row in rows) == len(truth.before)


# ------------------------------------------------------------------------ daily_open_backlog


def closure(item: dict[str, Any], deleted_at: datetime | None = None) -> datetime | None:
    """When the insight stopped being open: resolved, archived or deleted, whichever first."""
    moments = [ts(item["resolved_at"]), ts(item["archived_at"]), deleted_at]
    return min((m for m in moments if m is not None), default=None)


def closed_spans(truth: Truth) -> dict[str, list[tuple[datetime, datetime | None]]]:
    """Per insight, when it was closed, as the loads knew it.

    The first loads saw the state before the scenario's changes; the reconciliation saw the
    state after. A state the reconciliation replaced holds until the reconciliation: that is
    when a reopening became known (the API has no reopening timestamp).
    """
    after = {item["id"]: item for item in truth.live}
    spans: dict[str, list[tuple[datetime, datetime | None]]] = defaultdict(list)
    for insight_id, old in truth.before.items():
        new = after.get(insight_id)
        deleted_at = truth.deleted_at.get(insight_id)
        replaced = new != old  # the reconciliation wrote a new version (or a deletion)
        old_closure = closure(old)
        if old_closure is not None:
            spans[insight_id].append((old_closure, truth.reconciled_at if replaced else None))
        new_closure = closure(new or old, deleted_at)
        if replaced and new_closure is not None:
            spans[insight_id].append((new_closure, None))
    return spans


def is_open(
    created: datetime, spans: list[tuple[datetime, datetime | None]], end: datetime
) -> bool:
    if created >= end:
        return False
    return not any(start < end and (until is None or until > end) for start, until in spans)


def test_daily_open_backlog_follows_the_history(loaded: tuple[Workspace, Truth]) -> None:
    ws, truth = loaded
    spans = closed_spans(truth)
    created = {i: ts(item["created_at"]) for i, item in truth.before.items()}
    first = min(day_of(moment) for moment in created.values() if moment is not None)
    days = [first + n * DAY for n in range((truth.as_of - first).days + 1)]
    expected = [
        {"day": day, "open_insights": sum(
            1 for i, moment in created.items()
            if moment is not None and is_open(moment, spans[i], midnight(day + DAY))
        )}
        for day in days
    ]  # fmt: skip
    rows = view_rows(ws, "daily_open_backlog")
    assert rows == expected
    assert rows[-1]["day"] == truth.as_of


def open_by_current_timestamps(truth: Truth, end: datetime) -> int:
    """What the backlog would be from the insights' current timestamps alone."""
    count = 0
    for item in [*truth.live, *truth.deleted.values()]:
        created = ts(item["created_at"])
        closed = closure(item, truth.deleted_at.get(item["id"]))
        if created is not None and created < end and (closed is None or closed >= end):
            count += 1
    return count


def test_a_reopened_insight_counts_as_closed_until_the_load_that_saw_it_reopen(
    loaded: tuple[Workspace, Truth],
) -> None:
    """Current timestamps alone would count a reopened insight as open all along."""
    ws, truth = loaded
    after = {item["id"]: item for item in truth.live}
    resolutions = [
        ts(old["resolved_at"])
        for i, old in truth.before.items()
        if old["resolved_at"] and i in after and after[i]["resolved_at"] is None
    ]
    assert len(resolutions) == REOPENED
    day = day_of(truth.reconciled_at) - DAY  # the last day before the reopening was known
    end = midnight(day + DAY)
    assert all(moment is not None and moment < end for moment in resolutions)
    backlog = {row["day"]: row["open_insights"] for row in view_rows(ws, "daily_open_backlog")}
    assert backlog[day] == open_by_current_timestamps(truth, end) - REOPENED


# -------------------------------------------------------------------------- resolution_times


def percentile(values: list[float], fraction: float) -> float:
    """percentile_cont: linear interpolation between the closest ranks."""
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def test_resolution_times_by_category_team_each_and_overall(
    loaded: tuple[Workspace, Truth],
) -> None:
    ws, truth = loaded
    hours: dict[tuple[str, str | None, str | None], list[float]] = defaultdict(list)
    for item in truth.live:
        resolved, created = ts(item["resolved_at"]), ts(item["created_at"])
        if resolved is None or created is None:
            continue
        value = (resolved - created).total_seconds() / 3600
        category, team = id_of(item["category"]), id_of(item["team"])
        hours["category and team", category, team].append(value)
        hours["category", category, None].append(value)
        hours["team", None, team].append(value)
        hours["total", None, None].append(value)
    rows = view_rows(ws, "resolution_times")
    got = {(r["grouped_by"], r["category_id"], r["team_id"]): r for r in rows}
    assert set(got) == set(hours)
    names = {id_of(e): name_of(e) for item in truth.live for e in (item["category"], item["team"])}
    for key, values in hours.items():
        row = got[key]
        assert row["resolved"] == len(values)
        assert row["median_hours"] == pytest.approx(percentile(values, 0.5), rel=REL, abs=ABS)
        assert row["p90_hours"] == pytest.approx(percentile(values, 0.9), rel=REL, abs=ABS)
        assert (row["category_name"], row["team_name"]) == (names.get(key[1]), names.get(key[2]))
    assert got["total", None, None]["resolved"] == sum(
        1 for item in truth.live if item["resolved_at"]
    )


# ------------------------------------------------------------------- declared columns and keys

# information_schema's data_type of each declared type, on DuckDB and PostgreSQL
DECLARED_TYPES = {
    "text": {"VARCHAR", "character varying", "text"},
    "bigint": {"BIGINT", "bigint"},
    "double": {"DOUBLE", "double precision"},
    "date": {"DATE", "date"},
    "timestamp": {"TIMESTAMP WITH TIME ZONE", "timestamp with time zone"},
}


@pytest.mark.parametrize("view", views.VIEWS, ids=views.VIEW_NAMES)
def test_each_view_has_the_declared_columns_in_order_with_their_types(
    loaded: tuple[Workspace, Truth], view: views.View
) -> None:
    """The declaration feeds the docs, the database comments, dlt's reader and dbt's yml."""
    ws, _ = loaded
    _, rows = ws.warehouse.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        f"WHERE table_name = '{view.name}' AND table_schema = current_schema() "
        "ORDER BY ordinal_position"
    )
    assert [row[0] for row in rows] == [column.name for column in view.columns]
    for (name, data_type), column in zip(rows, view.columns, strict=True):
        assert data_type in DECLARED_TYPES[column.data_type], (name, data_type)


@pytest.mark.parametrize("view", views.VIEWS, ids=views.VIEW_NAMES)
def test_each_views_natural_key_is_unique_and_never_null(
    loaded: tuple[Workspace, Truth], view: views.View
) -> None:
    ws, _ = loaded
    assert ws.count(view.name) > 0, "an empty view proves nothing about its key"
    key = ", ".join(view.key) or "1"
    _, repeated = ws.warehouse.execute(
        f"SELECT {key}, COUNT(*) FROM {view.name} GROUP BY {key} HAVING COUNT(*) > 1"
    )
    assert repeated == []
    declared = {column.name: column for column in view.columns}
    for name in view.key:
        assert not declared[name].nullable, f"{view.name}.{name} is a key column"
    for column in view.columns:
        if not column.nullable:
            _, nulls = ws.warehouse.execute(
                f"SELECT COUNT(*) FROM {view.name} WHERE {column.name} IS NULL"
            )
            assert nulls == [(0,)], f"{view.name}.{column.name}"


def test_resolution_times_keys_tell_no_category_from_every_category(
    loaded: tuple[Workspace, Truth],
) -> None:
    ws, truth = loaded
    uncategorised = [i for i in truth.live if i["resolved_at"] and i["category"] is None]
    assert uncategorised, "the scenario must resolve insights without a category"
    keys = {
        (r["grouped_by"], r["category_key"], r["team_key"]): r
        for r in view_rows(ws, "resolution_times")
    }
    assert keys["category", "(none)", "(all)"]["resolved"] == len(uncategorised)
    assert keys["total", "(all)", "(all)"]["resolved"] == sum(
        1 for item in truth.live if item["resolved_at"]
    )
    for (grouped_by, category_key, team_key), row in keys.items():
        by_category = grouped_by in {"category", "category and team"}
        by_team = grouped_by in {"team", "category and team"}
        assert category_key == (row["category_id"] or "(none)" if by_category else "(all)")
        assert team_key == (row["team_id"] or "(none)" if by_team else "(all)")


# ------------------------------------------------------------------------------- lifecycle


@pytest.mark.warehouses
def test_every_view_exists_for_a_fresh_tenant_and_fills_on_the_next_load(
    ws: Workspace, make_sim: SimFactory
) -> None:
    """A tenant with no insights gets empty views; the first insights then show up in them."""
    sim = make_sim(n_insights=0)
    ws.load(sim)
    assert set(views.VIEW_NAMES) <= ws.tables()
    for view in views.VIEW_NAMES:
        assert ws.count(view) == (1 if view == views.AS_OF_DAY.name else 0), view
    sim.store.add_insight(sessions=2)
    ws.load(sim, full_refresh=True)
    assert ws.count("insights_enriched") == 1
    assert ws.count("daily_open_backlog") >= 1
    assert ws.count("weekly_insight_flow") >= 1


# ------------------------------------------------------------------------- data dictionary


def test_every_view_and_column_is_documented_in_the_data_dictionary(
    loaded: tuple[Workspace, Truth],
) -> None:
    ws, _ = loaded
    for view in views.VIEW_NAMES:
        documented = section("data-dictionary", f"`{view}`")
        for column in ws.warehouse.execute(f"SELECT * FROM {view} WHERE 1 = 0")[0]:
            assert f"| `{column}` |" in documented, f"{view}.{column}"


# ------------------------------------------------------------------------------- xdist


def test_each_warehouses_checks_share_one_xdist_group_and_so_one_scenario(
    request: pytest.FixtureRequest, loaded: tuple[Workspace, Truth]
) -> None:
    """The scenario is loaded once per warehouse only if its checks run on one worker: conftest
    marks them with one xdist group per fixture parameter, and on a `--dist loadgroup` worker
    writes the group into the node id the scheduler groups by (a pytest or xdist upgrade could
    silently undo either). A serial run (-n0) has the marks but no scheduler to tell."""
    ws, _ = loaded
    group = f"tests/test_views.py[loaded={ws.warehouse.name}]"
    marked = [mark.args[0] for mark in request.node.iter_markers("xdist_group")]
    assert marked == [group]
    on_loadgroup_worker = bool(getattr(request.config.option, "loadgroup", False))
    assert request.node.nodeid.endswith(f"@{group}") == on_loadgroup_worker
