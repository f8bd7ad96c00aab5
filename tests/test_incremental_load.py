"""The core contract: a first load equals the API, later runs bring exactly the changes, within
the request budget, and never duplicate or lose an insight."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sources.opencx import opencx, settings
from sources.opencx.batches import ScanStats
from sources.opencx_simulator import Simulator
from tests.helpers import (
    TABLES,
    TEST_KEY,
    Workspace,
    cursor_of,
    expected_entities,
    expected_insight,
    insight_requests,
    loaded_insights,
    pages_needed,
    ts,
    within_lookback,
)

pytestmark = [pytest.mark.warehouses, pytest.mark.clock]


def assert_matches_ground_truth(ws: Workspace, sim: Simulator) -> None:
    truth = sim.store.ground_truth()
    assert loaded_insights(ws) == {item["id"]: expected_insight(item) for item in truth}
    entities = expected_entities(truth)
    for table, key in (("categories", "id"), ("teams", "id"), ("people", "person_key")):
        loaded = {row[key]: row for row in ws.rows(table)}
        for entity_key, expected in entities[table].items():
            assert {k: loaded[entity_key][k] for k in expected} == expected


def test_first_load_equals_ground_truth_field_by_field(ws: Workspace, sim: Simulator) -> None:
    ws.load(sim)
    assert_matches_ground_truth(ws, sim)


def test_every_table_has_unique_keys_after_repeated_loads(ws: Workspace, sim: Simulator) -> None:
    ws.load(sim)
    sim.store.bump_counts(10)
    ws.load(sim)
    ws.load(sim, full_refresh=True)
    for table, key in zip(TABLES, ("id", "id", "id", "person_key"), strict=True):
        total, distinct = ws.query(f"SELECT COUNT(*), COUNT(DISTINCT {key}) FROM {table}")[0]
        assert total == distinct > 0


def test_foreign_keys_resolve(ws: Workspace, sim: Simulator) -> None:
    ws.load(sim)
    orphans = ws.query(
        """
        SELECT
          (SELECT COUNT(*) FROM insights i WHERE category_id IS NOT NULL
             AND NOT EXISTS (SELECT 1 FROM categories c WHERE c.id = i.category_id)),
          (SELECT COUNT(*) FROM insights i WHERE team_id IS NOT NULL
             AND NOT EXISTS (SELECT 1 FROM teams t WHERE t.id = i.team_id)),
          (SELECT COUNT(*) FROM insights i WHERE resolved_by_key IS NOT NULL
             AND NOT EXISTS (SELECT 1 FROM people p WHERE p.person_key = i.resolved_by_key)),
          (SELECT COUNT(*) FROM insights i WHERE archived_by_key IS NOT NULL
             AND NOT EXISTS (SELECT 1 FROM people p WHERE p.person_key = i.archived_by_key))
        """
    )[0]
    assert orphans == (0, 0, 0, 0)


def test_first_run_reads_everything_sorted_by_creation(ws: Workspace, sim: Simulator) -> None:
    ws.load(sim)
    bodies = [r.body for r in insight_requests(sim)]
    assert {(b["sortBy"], b["sortOrder"]) for b in bodies} == {("created_at", "asc")}
    assert sorted(b["page"] for b in bodies) == list(range(1, len(bodies) + 1))
    assert len(bodies) == pages_needed(len(sim.store.ground_truth()), sim.config.page_size)


def test_second_run_without_changes_adds_nothing_within_budget(
    ws: Workspace, sim: Simulator
) -> None:
    pipeline = ws.load(sim)
    before = loaded_insights(ws)
    cursor = cursor_of(pipeline)
    sim.clear_requests()

    pipeline = ws.load(sim)

    truth = sim.store.ground_truth()
    k = within_lookback(truth, cursor, settings.DEFAULT_LOOKBACK_HOURS)
    requests = insight_requests(sim)
    assert len(requests) <= pages_needed(k, sim.config.page_size) + 1
    assert {(r.body["sortBy"], r.body["sortOrder"]) for r in requests} == {("last_seen_at", "desc")}
    assert loaded_insights(ws) == before
    assert cursor_of(pipeline) == cursor


def test_changes_arrive_exactly_within_budget(ws: Workspace, sim: Simulator) -> None:
    pipeline = ws.load(sim)
    cursor = cursor_of(pipeline)
    sim.clock.advance(hours=2)
    changed = sim.store.bump_counts(9, rng_seed=3)
    new_ids = [sim.store.add_insight(sessions=2) for _ in range(4)]
    sim.clear_requests()

    pipeline = ws.load(sim)

    assert_matches_ground_truth(ws, sim)
    assert set(new_ids) <= set(loaded_insights(ws))
    truth = sim.store.ground_truth()
    k = within_lookback(truth, cursor, settings.DEFAULT_LOOKBACK_HOURS)
    assert k >= len(set(changed) | set(new_ids))
    assert len(insight_requests(sim)) <= pages_needed(k, sim.config.page_size) + 1
    assert cursor_of(pipeline) > cursor


def test_late_analysed_session_inside_lookback_is_picked_up(ws: Workspace, sim: Simulator) -> None:
    pipeline = ws.load(sim)
    cursor = cursor_of(pipeline)
    stale = min(sim.store.ground_truth(), key=lambda i: ts(i["last_seen_at"]))  # type: ignore[arg-type, return-value]
    # A session from 3 h before the cursor, analysed only now: last_seen_at lands below it.
    sim.store.add_sessions(stale["id"], n=1, created_at=cursor - timedelta(hours=3))

    ws.load(sim)

    assert_matches_ground_truth(ws, sim)


def test_reordering_during_paging_loses_nothing(ws: Workspace, sim: Simulator) -> None:
    ws.load(sim)
    sim.clock.advance(hours=1)

    def reorder(index: int, body: object) -> None:
        sim.store.bump_counts(5, rng_seed=index)

    sim.on_request = reorder
    ws.load(sim)
    sim.on_request = None
    ws.load(sim)
    assert_matches_ground_truth(ws, sim)


def test_full_scan_while_insights_are_reordered_and_added_loses_nothing(
    ws: Workspace, sim: Simulator
) -> None:
    existing = {i["id"] for i in sim.store.ground_truth()}

    def churn(index: int, body: object) -> None:
        sim.store.bump_counts(3, rng_seed=index)
        if index % 5 == 0:
            sim.store.add_insight()

    sim.on_request = churn
    ws.load(sim)
    sim.on_request = None
    assert existing <= set(loaded_insights(ws))


def test_full_refresh_keeps_the_stored_cursor(ws: Workspace, sim: Simulator) -> None:
    pipeline = ws.load(sim)
    cursor = cursor_of(pipeline)
    sim.clear_requests()
    pipeline = ws.load(sim, full_refresh=True)
    bodies = [r.body for r in insight_requests(sim)]
    assert {(b["sortBy"], b["sortOrder"]) for b in bodies} == {("created_at", "asc")}
    assert cursor_of(pipeline) == cursor
    assert_matches_ground_truth(ws, sim)


def test_backfill_window_loads_only_that_range_and_keeps_cursor(
    ws: Workspace, sim: Simulator
) -> None:
    truth = sim.store.ground_truth()
    times = sorted(ts(i["last_seen_at"]) for i in truth)  # type: ignore[type-var]
    since, until = times[len(times) // 3], times[2 * len(times) // 3]
    pipeline = ws.load(sim, since=since.isoformat(), until=until.isoformat())  # type: ignore[union-attr]
    expected = {i["id"] for i in truth if since <= ts(i["last_seen_at"]) < until}  # type: ignore[operator]
    assert set(loaded_insights(ws)) == expected
    state = pipeline.state.get("sources", {}).get("opencx", {}).get("resources", {})
    assert "incremental" not in state.get("insight_pages", {})


def test_empty_result_loads_nothing_and_succeeds(ws: Workspace, sim: Simulator) -> None:
    ws.load(sim, search="no insight says this 1f0e")
    requests = insight_requests(sim)
    assert len(requests) == 1
    assert requests[0].body["search"] == "no insight says this 1f0e"


def test_run_with_nothing_new_loads_nothing(ws: Workspace, sim: Simulator) -> None:
    ws.load(sim)
    ws.load(sim)  # remembers what the lookback window holds
    loads_before = ws.query("SELECT COUNT(*) FROM _dlt_loads")[0][0]
    sim.clear_requests()
    pipeline = ws.load(sim)
    assert ws.query("SELECT COUNT(*) FROM _dlt_loads")[0][0] == loads_before
    trace = pipeline.last_trace
    normalized = trace.last_normalize_info if trace else None
    assert normalized is None or not any(normalized.row_counts.get(t) for t in TABLES)
    assert len(insight_requests(sim)) >= 1


def test_changed_insight_in_the_lookback_is_loaded_again(ws: Workspace, sim: Simulator) -> None:
    pipeline = ws.load(sim)
    ws.load(sim)
    cursor = cursor_of(pipeline)
    floor = cursor - timedelta(hours=1)
    recent = [i for i in sim.store.ground_truth() if (ts(i["last_seen_at"]) or floor) > floor]
    sim.store.resolve(recent[0]["id"])  # does not move last_seen_at, but is inside the lookback
    ws.load(sim)
    assert_matches_ground_truth(ws, sim)


def test_first_scheduled_run_after_a_full_load_skips_the_unchanged_lookback(
    ws: Workspace, sim: Simulator
) -> None:
    ws.load(sim)
    loads_before = ws.query("SELECT COUNT(*) FROM _dlt_loads")[0][0]
    stats = ScanStats()
    pipeline = ws.pipeline()
    pipeline.run(opencx(api_key=TEST_KEY, base_url=sim.base_url, requests_per_minute=0,
                        stats=stats))  # fmt: skip
    assert stats.strategy == "recent_first"
    assert stats.unchanged > 0
    assert ws.query("SELECT COUNT(*) FROM _dlt_loads")[0][0] == loads_before
