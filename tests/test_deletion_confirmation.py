"""A reconciliation marks an insight deleted only when the API confirms it is gone.

Offset paging skips a live row whenever an earlier row is deleted while the scan pages; a
creation at the same moment keeps `total` unchanged, so the scan cannot notice. These tests
interleave deletions and creations with the pages of one reconciliation and check that no
live insight is ever marked deleted, while every insight deleted before the scan is.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from sources.opencx.settings import DELETION_SAMPLE
from sources.opencx_simulator import Simulator
from tests.helpers import Workspace, answer_get_with, insight_requests, loaded_insights

pytestmark = [pytest.mark.warehouses, pytest.mark.clock]

Hook = Callable[[int, object], None]


def marked_deleted(ws: Workspace) -> set[str]:
    return {i for i, row in loaded_insights(ws).items() if row["deleted_at"] is not None}


def live_ids(sim: Simulator) -> set[str]:
    return {item["id"] for item in sim.store.ground_truth()}


def oldest_first(sim: Simulator) -> list[str]:
    items = sorted(sim.store.ground_truth(), key=lambda i: (i["created_at"], i["id"]))
    return [item["id"] for item in items]


def delete_before_scan(sim: Simulator, rng: random.Random, count: int) -> set[str]:
    gone = set(rng.sample(oldest_first(sim), count))
    for insight_id in gone:
        sim.store.delete(insight_id)
    return gone


def churn_while_paging(sim: Simulator, rng: random.Random, after_requests: list[int]) -> Hook:
    """After each listed list request: delete an early insight (shifts every later offset)
    and create one (keeps `total` unchanged)."""
    base = len(insight_requests(sim))

    def hook(index: int, _body: object) -> None:
        if index - base in after_requests:
            ids = oldest_first(sim)
            sim.store.delete(rng.choice(ids[: len(ids) // 2]))
            sim.store.add_insight()

    return hook


def get_requests(sim: Simulator) -> list[Any]:
    return [r for r in sim.requests if r.method == "GET" and r.path.startswith("/insights/")]


@pytest.mark.warehouses(postgres_cases=["seed-0-sequential", "seed-0-concurrent"])
@pytest.mark.parametrize("concurrency", [1, 4], ids=["sequential", "concurrent"])
@pytest.mark.parametrize("seed", range(4), ids=lambda s: f"seed-{s}")
def test_churn_during_a_reconciliation_never_marks_a_live_insight(
    ws: Workspace, sim: Simulator, seed: int, concurrency: int
) -> None:
    rng = random.Random(seed)
    ws.load(sim)
    gone_before = delete_before_scan(sim, rng, 3)
    sim.on_request = churn_while_paging(sim, rng, sorted(rng.sample(range(1, 34), 3)))

    ws.load(sim, full_refresh=True, concurrency=concurrency)
    sim.on_request = None

    marked = marked_deleted(ws)
    assert not marked & live_ids(sim), "a live insight was marked deleted"
    assert gone_before <= marked


def unmarked(ws: Workspace) -> set[str]:
    return {i for i, row in loaded_insights(ws).items() if row["deleted_at"] is None}


def test_the_reported_reproduction_marks_no_live_insight(ws: Workspace, sim: Simulator) -> None:
    """240 insights, page size 7, one deletion and one creation after list request 12."""
    ws.load(sim)
    base = len(insight_requests(sim))
    victim = oldest_first(sim)[0]

    def hook(index: int, _body: object) -> None:
        if index - base == 12:
            sim.store.delete(victim)
            sim.store.add_insight()

    sim.on_request = hook
    ws.load(sim, full_refresh=True, concurrency=1)
    sim.on_request = None

    assert marked_deleted(ws) == set()
    assert unmarked(ws) >= live_ids(sim)


def test_the_skipped_insight_is_asked_for_and_merged(ws: Workspace, sim: Simulator) -> None:
    ws.load(sim)
    base = len(insight_requests(sim))
    ids = oldest_first(sim)
    first_of_page_3 = ids[2 * sim.config.page_size]
    new_id: list[str] = []

    def hook(index: int, _body: object) -> None:
        if index - base == 2:  # before page 3 is served: every later row moves up one
            sim.store.delete(ids[0])
            new_id.append(sim.store.add_insight())

    sim.on_request = hook
    ws.load(sim, full_refresh=True, concurrency=1)
    sim.on_request = None

    asked = {r.path.rsplit("/", 1)[-1] for r in get_requests(sim)}
    assert asked == {first_of_page_3}
    assert first_of_page_3 in unmarked(ws)
    assert new_id[0] in unmarked(ws)
    assert marked_deleted(ws) == set()


def test_only_candidates_are_confirmed(ws: Workspace, sim: Simulator) -> None:
    ws.load(sim)
    gone = delete_before_scan(sim, random.Random(1), 2)
    sim.clear_requests()
    ws.load(sim, full_refresh=True)
    assert {r.path.rsplit("/", 1)[-1] for r in get_requests(sim)} == gone
    assert marked_deleted(ws) == gone


def test_a_reconciliation_with_nothing_missing_asks_for_nothing(
    ws: Workspace, sim: Simulator
) -> None:
    ws.load(sim)
    sim.clear_requests()
    ws.load(sim, full_refresh=True)
    assert get_requests(sim) == []


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (403, {"statusCode": 403, "message": "Forbidden resource"}),
        (200, {"id": "00000000-0000-0000-0000-000000000000", "content": "another"}),
        (200, {"unexpected": True}),
        (500, {"statusCode": 500, "message": "Internal"}),
    ],
    ids=["forbidden", "another-insight", "no-id", "server-error"],
)
@pytest.mark.warehouses(postgres_cases=["another-insight"])
def test_an_unexpected_confirmation_marks_nothing(
    ws: Workspace,
    sim: Simulator,
    monkeypatch: pytest.MonkeyPatch,
    status: int,
    body: dict[str, Any],
) -> None:
    ws.load(sim)
    delete_before_scan(sim, random.Random(2), 2)
    answer_get_with(monkeypatch, sim, status, body)
    stats = ws.load_with_stats(sim, full_refresh=True, max_attempts=2)
    assert marked_deleted(ws) == set()
    assert stats.deletions_withheld is not None
    assert "none were marked deleted" in stats.deletions_withheld


def test_too_many_candidates_confirm_a_sample_and_mark_none(ws: Workspace, sim: Simulator) -> None:
    ws.load(sim)
    delete_before_scan(sim, random.Random(3), 30)
    sim.clear_requests()
    stats = ws.load_with_stats(sim, full_refresh=True, max_deletion_checks=10)
    assert len(get_requests(sim)) == DELETION_SAMPLE
    assert marked_deleted(ws) == set()
    assert stats.missing == 30
    assert stats.deletions_withheld is not None
    assert "max_deletion_checks=10" in stats.deletions_withheld


def test_a_first_full_refresh_sets_the_cursor_so_the_next_run_is_incremental(
    ws: Workspace, sim: Simulator
) -> None:
    ws.load(sim, full_refresh=True)
    sim.clear_requests()
    stats = ws.load_with_stats(sim)
    assert stats.strategy == "recent_first"
    assert stats.requests.requests <= 2
