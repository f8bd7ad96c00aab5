"""Responses the API (or the proxy in front of it) might really send.

Each one either loads correctly (equal to the ground truth; for nulls where objects were, the
nulls are stored and nothing else breaks) or stops the run with one clear line and leaves the
destination and the cursor as they were. None may load wrong data.

`tests/test_resilience.py` already retries single faults on a first run; here the hostile bodies
come mid-run in incremental runs and reconciliations, persist until the retries are spent, or are
shapes the simulator never serves (a wrong or fractional `totalPages`, an item without an id, a
200 that is an HTML page, fields that collide with ours), served by `stub_api.StubApi` over real
HTTP. A few go through the real command to prove the single `error:` line end to end.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from dlt.pipeline.exceptions import PipelineStepFailed

from sources.opencx import stored_cursor
from sources.opencx_simulator import Simulator, SimulatorConfig
from tests.conftest import SIM_NOW, SimFactory
from tests.cron_support import db_snapshot
from tests.helpers import (
    Workspace,
    cursor_of,
    expected_entities,
    expected_insight,
    insight_requests,
    loaded_insights,
)
from tests.reliability.stub_api import Answer, Script, StubApi, as_json, paged
from tests.reliability.support import load_from, one_line_for, seed_cli_pipeline
from tests.test_cli import assert_one_line_error, cli_env, run_cli, state_file
from tests.test_reconciliation import mutate_everything

PAGE = 20
Envelope = Callable[[int, dict[str, Any]], dict[str, Any]]


@pytest.fixture
def api(make_sim: SimFactory) -> Simulator:
    """240 insights on pages of 20."""
    return make_sim(page_size=PAGE)


@pytest.fixture(scope="module")
def items() -> list[dict[str, Any]]:
    """50 real-shaped insights, oldest first, for the stub to serve."""
    sim = Simulator(SimulatorConfig(seed=3, n_insights=50, now=SIM_NOW))
    return sim.store.ground_truth()


def truth(sim: Simulator) -> dict[str, dict[str, Any]]:
    return {i["id"]: expected_insight(i) for i in sim.store.ground_truth()}


def loaded(ws: Workspace) -> dict[str, dict[str, Any]]:
    return loaded_insights(ws) if "insights" in ws.tables() else {}


def fault_at(sim: Simulator, schedule: dict[int, str]) -> None:
    """Enqueue `schedule[n]` (for the next request) when the n-th POST /insights from now
    reaches the hook (1-based; requests answered by an early fault never do)."""
    base = len(insight_requests(sim))

    def hook(index: int, body: object) -> None:
        fault = schedule.get(index - base + 1)
        if fault:
            sim.faults.enqueue(fault)

    sim.on_request = hook


def faults_in_turn(sim: Simulator, faults: list[str]) -> None:
    """One fault after another: each request that reaches the hook schedules the next."""
    waiting = list(faults)

    def hook(index: int, body: object) -> None:
        if waiting:
            sim.faults.enqueue(waiting.pop(0))

    sim.on_request = hook


def edit(page_number: int, change: Callable[[dict[str, Any]], None]) -> Envelope:
    """An envelope rewrite applied to one page only."""

    def envelope(page: int, payload: dict[str, Any]) -> dict[str, Any]:
        if page != page_number:
            return payload
        payload = copy.deepcopy(payload)
        change(payload)
        return payload

    return envelope


def fails_with_one_line(ws: Workspace, run: Callable[[], Any], *needles: str) -> str:
    before = loaded(ws)
    with pytest.raises(PipelineStepFailed) as err:
        run()
    line = one_line_for(err.value)
    for needle in needles:
        assert needle in line
    assert loaded(ws) == before
    return line


# ---------------------------------------------------------------------------- retried mid-run

MIXED = ["html_520", "truncated", "missing_data", "empty_page", "html_524", "503"]


@pytest.mark.parametrize("mode", ["first-run", "incremental", "reconciliation"])
def test_hostile_bodies_mid_run_are_retried_and_the_run_loads_the_truth(
    ws: Workspace, api: Simulator, mode: str
) -> None:
    deleted: list[str] = []
    if mode != "first-run":
        ws.load(api)
        api.clock.advance(hours=2)
        api.store.bump_counts(100, rng_seed=4)
        if mode == "reconciliation":
            deleted = mutate_everything(api)["deleted"]
    faults_in_turn(api, MIXED)

    ws.load(api, full_refresh=mode == "reconciliation")

    assert not api.faults.pending()
    rows = loaded(ws)
    assert {k for k, v in rows.items() if v["deleted_at"] is not None} == set(deleted)
    assert {k: v for k, v in rows.items() if k not in deleted} == truth(api)


# ---------------------------------------------------------------------------- persistent

PERSISTENT = ["html_522", "truncated", "empty_page"]


@pytest.mark.parametrize("fault", PERSISTENT)
def test_persistent_hostile_body_stops_with_one_line_and_changes_nothing(
    ws: Workspace, api: Simulator, fault: str
) -> None:
    cursor = cursor_of(ws.load(api))
    api.clock.advance(hours=1)
    api.store.bump_counts(30, rng_seed=8)
    api.faults.enqueue(*[fault] * 12)

    needle = "nothing was loaded" if fault == "empty_page" else "kept failing"
    fails_with_one_line(ws, lambda: ws.load(api, max_attempts=3), needle)

    assert cursor_of(ws.pipeline()) == cursor


@pytest.mark.parametrize("fault", ["html_522"])
def test_command_prints_one_error_line_for_a_persistent_hostile_body(
    tmp_path: Path, api: Simulator, fault: str
) -> None:
    seed_cli_pipeline(tmp_path, api)
    env = cli_env(tmp_path)
    db, state = db_snapshot(tmp_path / "cli.duckdb"), state_file(tmp_path)
    api.store.bump_counts(30, rng_seed=8)
    api.faults.enqueue(*[fault] * 12)

    result = run_cli(env, "--base-url", api.base_url)

    assert_one_line_error(result, "kept failing")
    assert result.returncode == 5
    assert db_snapshot(tmp_path / "cli.duckdb") == db
    assert state_file(tmp_path) == state


# ---------------------------------------------------------------------------- paging lies


def test_total_pages_growing_mid_scan_is_followed_to_the_end(ws: Workspace, api: Simulator) -> None:
    def add(index: int, body: object) -> None:
        if index == 3:
            for _ in range(45):  # two more pages, appended (newest created last)
                api.store.add_insight(sessions=2)

    api.on_request = add
    ws.load(api)
    assert loaded(ws) == truth(api)


def test_total_pages_changing_between_pages_is_followed(
    ws: Workspace, items: list[dict[str, Any]]
) -> None:
    # page 1 says 2 pages, page 2 says 3: the third must be read
    with StubApi(paged(items, PAGE, lambda page, p: {**p, "totalPages": min(page + 1, 3)})) as stub:
        load_from(ws, stub.base_url)
    assert loaded(ws) == {i["id"]: expected_insight(i) for i in items}


def test_deletions_mid_scan_do_not_hide_live_insights(ws: Workspace, api: Simulator) -> None:
    oldest = [i["id"] for i in api.store.ground_truth()[:5]]

    def delete(index: int, body: object) -> None:
        if index == 3:
            for insight_id in oldest:
                api.store.delete(insight_id)

    api.on_request = delete
    ws.load(api)
    missing = set(truth(api)) - set(loaded(ws))
    assert missing == set()


def test_deletions_mid_reconciliation_mark_only_the_deleted(ws: Workspace, api: Simulator) -> None:
    ws.load(api)
    oldest = [i["id"] for i in api.store.ground_truth()[:5]]
    base = len(insight_requests(api))

    def delete(index: int, body: object) -> None:
        if index == base + 3:
            for insight_id in oldest:
                api.store.delete(insight_id)

    api.on_request = delete
    ws.load(api, full_refresh=True)
    api.on_request = None
    wrongly_marked = {
        k for k, v in loaded(ws).items() if v["deleted_at"] is not None and k not in oldest
    }
    assert wrongly_marked == set()


def test_total_pages_lying_high_stops_with_one_line(
    ws: Workspace, items: list[dict[str, Any]]
) -> None:
    with StubApi(paged(items, PAGE, lambda _page, p: {**p, "totalPages": 5})) as stub:
        fails_with_one_line(ws, lambda: load_from(ws, stub.base_url), "empty", "5 pages")
    assert "insights" not in ws.tables()


def test_fractional_total_pages_never_truncates_the_scan(
    ws: Workspace, items: list[dict[str, Any]]
) -> None:
    with StubApi(paged(items, PAGE, lambda _page, p: {**p, "totalPages": 2.5})) as stub:
        try:
            load_from(ws, stub.base_url)
        except PipelineStepFailed as err:
            one_line_for(err)
            assert "insights" not in ws.tables()
            return
    assert loaded(ws) == {i["id"]: expected_insight(i) for i in items}


@pytest.mark.parametrize(
    "counts",
    [
        pytest.param({"total": "50"}, id="total-as-text"),
        pytest.param({"totalPages": None}, id="total-pages-null"),
    ],
)
def test_non_numeric_counts_stop_with_one_line(
    ws: Workspace, items: list[dict[str, Any]], counts: dict[str, Any]
) -> None:
    with StubApi(paged(items, PAGE, lambda _page, p: {**p, **counts})) as stub:
        fails_with_one_line(ws, lambda: load_from(ws, stub.base_url), "whole number")


def test_page_past_the_end_loads_nothing_and_succeeds(ws: Workspace, api: Simulator) -> None:
    pipeline = ws.load(api, page=50)
    assert loaded(ws) == {}
    assert len(insight_requests(api)) == 1
    assert stored_cursor(pipeline.state) is None


def test_a_repeat_of_the_previous_page_is_not_taken_for_the_real_one(
    ws: Workspace, api: Simulator
) -> None:
    fault_at(api, {4: "duplicate_page"})
    ws.load(api)
    assert set(loaded(ws)) == set(truth(api))


def test_items_repeated_across_pages_load_once(ws: Workspace, items: list[dict[str, Any]]) -> None:
    def repeat(payload: dict[str, Any]) -> None:
        payload["data"] = items[PAGE - 3 : PAGE] + payload["data"]  # the tail of page 1 again

    with StubApi(paged(items, PAGE, edit(2, repeat))) as stub:
        load_from(ws, stub.base_url)
    assert loaded(ws) == {i["id"]: expected_insight(i) for i in items}
    assert ws.query("SELECT COUNT(*) - COUNT(DISTINCT id) FROM insights") == [(0,)]


# ---------------------------------------------------------------------------- odd items


def test_nulls_where_objects_were_are_stored_and_nothing_else_breaks(
    ws: Workspace, api: Simulator
) -> None:
    api.faults.enqueue("null_objects")  # the first page comes with every nested object null

    ws.load(api)

    by_creation = api.store.query({"sortBy": "created_at", "sortOrder": "asc"})
    first_page = {i["id"] for i in by_creation[:PAGE]}
    blanked = ("category_id", "team_id", "resolved_by_key", "archived_by_key", "archive_reason")
    rows, expected = loaded(ws), truth(api)
    assert set(rows) == set(expected)
    for insight_id, row in rows.items():
        restored = row
        if insight_id in first_page:
            assert all(row[column] is None for column in blanked)
            restored = {**row, **{c: expected[insight_id][c] for c in blanked}}
        assert restored == expected[insight_id]
    rest = [i for i in api.store.ground_truth() if i["id"] not in first_page]
    for table, entities in expected_entities(rest).items():
        stored = {r[0]: r for r in ws.query(f"SELECT * FROM {table}")}
        for key, values in entities.items():
            assert stored[key][: len(values)] == tuple(values.values())


def test_unknown_enum_values_and_fields_are_stored_beside_ours(
    ws: Workspace, items: list[dict[str, Any]]
) -> None:
    def evolve(payload: dict[str, Any]) -> dict[str, Any]:
        payload = copy.deepcopy(payload)
        for item in payload["data"]:
            item["sentiment"] = ["furious", "ecstatic", "meh"][item["insight_number"] % 3]
            item["status"] = "snoozed"  # collides with our derived column
            item["category_id"] = "legacy-42"  # collides with our foreign key
            item["priority"] = {"level": item["insight_number"] % 4, "reasons": ["vip"]}
            item["channel"] = "carrier_pigeon"
            if item["category"]:
                item["category"]["color"] = "#00ff00"
        return payload

    with StubApi(paged(items, PAGE, lambda _page, p: evolve(p))) as stub:
        load_from(ws, stub.base_url)

    served = evolve({"data": items})["data"]
    expected = {i["id"]: expected_insight(i) for i in served}
    assert loaded(ws) == expected
    extra = {
        row[0]: row[1:]
        for row in ws.query(
            "SELECT id, api_status, api_category_id, priority, channel FROM insights"
        )
    }
    for item in served:
        assert extra[item["id"]] == (
            "snoozed",
            "legacy-42",
            f'{{"level": {item["insight_number"] % 4}, "reasons": ["vip"]}}',
            "carrier_pigeon",
        )
    colors = {row[0] for row in ws.query("SELECT color FROM categories")}
    assert colors == {"#00ff00"}


def test_an_api_field_named_like_our_deletion_mark_is_kept_apart(
    ws: Workspace, items: list[dict[str, Any]]
) -> None:
    def soft_delete(payload: dict[str, Any]) -> dict[str, Any]:
        payload = copy.deepcopy(payload)
        for item in payload["data"]:
            item["deleted_at"] = "2026-01-02T03:04:05.000Z"
        return payload

    with StubApi(paged(items, PAGE, lambda _page, p: soft_delete(p))) as stub:
        load_from(ws, stub.base_url)
    rows = ws.query("SELECT COUNT(*), COUNT(deleted_at), COUNT(api_deleted_at) FROM insights")
    assert rows == [(len(items), 0, len(items))]


def _drop_id(payload: dict[str, Any]) -> None:
    del payload["data"][3]["id"]


def _set(field: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(payload: dict[str, Any]) -> None:
        payload["data"][3][field] = value

    return change


BAD_ITEMS = [
    pytest.param(_drop_id, "without an id", id="item-without-id"),
    pytest.param(_set("id", 4711), "without an id", id="item-id-a-number"),
    pytest.param(_set("last_seen_at", "yesterday"), "ISO 8601", id="timestamp-not-a-date"),
    pytest.param(_set("created_at", "2026-01-01T10:00:00"), "time zone", id="timestamp-naive"),
    pytest.param(_set("occurrence_count", "7"), "not an integer", id="count-as-text"),
    pytest.param(_set("occurrence_count", 2.5), "not an integer", id="count-fractional"),
]


@pytest.mark.parametrize(("change", "needle"), BAD_ITEMS)
def test_an_item_that_cannot_be_loaded_stops_the_run_with_one_line(
    ws: Workspace,
    items: list[dict[str, Any]],
    change: Callable[[dict[str, Any]], None],
    needle: str,
) -> None:
    with StubApi(paged(items, PAGE, edit(2, change))) as stub:
        fails_with_one_line(ws, lambda: load_from(ws, stub.base_url), needle)
    assert "insights" not in ws.tables()


def test_command_prints_one_error_line_for_an_item_without_id(
    tmp_path: Path, items: list[dict[str, Any]]
) -> None:
    with StubApi(paged(items, PAGE, edit(2, _drop_id))) as stub:
        result = run_cli(cli_env(tmp_path), "--base-url", stub.base_url)
    assert_one_line_error(result, "without an id")
    assert result.returncode == 5
    assert "insights" not in (db_snapshot(tmp_path / "cli.duckdb") or {})


HTML_PAGE = b"<!DOCTYPE html><html><head><title>Just a moment...</title></head><body></body></html>"
ENVELOPES: list[Any] = [
    pytest.param(lambda _page, _body: Answer(200, HTML_PAGE, "text/html"), "not valid JSON",
                 id="200-html-page-from-the-proxy"),
    pytest.param(lambda _page, _body: Answer(200, b""), "not valid JSON", id="200-empty-body"),
    pytest.param(lambda _page, _body: as_json([]), "data", id="200-json-array"),
    pytest.param(lambda _page, _body: as_json({"data": {"items": []}, "page": 1, "total": 0,
                                             "totalPages": 0}), "data", id="200-data-an-object"),
    pytest.param(lambda _page, _body: as_json({"statusCode": 400, "message": [
        "property foo should not exist", "page must be a number"], "error": "Bad Request"}, 400),
                 "property foo should not exist; page must be a number", id="400-with-messages"),
    pytest.param(lambda _page, _body: Answer(301, b"", "text/html", (
        ("Location", "https://api.open.cx/v2/insights"),)), "HTTP 301", id="301-redirect"),
]  # fmt: skip


@pytest.mark.parametrize(("script", "needle"), ENVELOPES)
def test_an_answer_that_is_not_a_page_stops_the_run_with_one_line(
    ws: Workspace, script: Script, needle: str
) -> None:
    with StubApi(script) as stub:
        fails_with_one_line(ws, lambda: load_from(ws, stub.base_url), needle)
    assert "insights" not in ws.tables()
