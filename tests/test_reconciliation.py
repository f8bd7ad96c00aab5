"""Reconciliation (`full_refresh`): status changes and deletions that `last_seen_at` does not
reveal reach the tables; deletions are marked, never dropped; an incomplete scan marks nothing."""

from __future__ import annotations

from typing import Any

import pytest
from dlt.pipeline.exceptions import PipelineStepFailed

from sources.opencx_simulator import Simulator
from tests.conftest import SimFactory
from tests.helpers import Workspace, expected_insight, insight_requests, loaded_insights

pytestmark = [pytest.mark.warehouses, pytest.mark.clock]


def mutate_everything(sim: Simulator) -> dict[str, list[str]]:
    """One of each change that does not move last_seen_at; returns the ids by kind."""
    truth = sim.store.ground_truth()
    unresolved = [i["id"] for i in truth if not i["resolved_at"] and not i["archived_at"]]
    archived = [i["id"] for i in truth if i["archived_at"]]
    teams = sim.store.team_ids()
    changed = {
        "resolved": unresolved[:3],
        "archived": unresolved[3:5],
        "unarchived": archived[:2],
        "reassigned": unresolved[5:8],
        "deleted": unresolved[8:11],
    }
    for insight_id in changed["resolved"]:
        sim.store.resolve(insight_id)
    for insight_id in changed["archived"]:
        sim.store.archive(insight_id, reason="duplicate")
    for insight_id in changed["unarchived"]:
        sim.store.unarchive(insight_id)
    for number, insight_id in enumerate(changed["reassigned"]):
        sim.store.reassign(insight_id, teams[number % len(teams)] if number else None)
    for insight_id in changed["deleted"]:
        sim.store.delete(insight_id)
    return changed


def live_rows(ws: Workspace) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in loaded_insights(ws).items() if v["deleted_at"] is None}


def truth_rows(sim: Simulator) -> dict[str, dict[str, Any]]:
    return {i["id"]: expected_insight(i) for i in sim.store.ground_truth()}


def test_reconciliation_makes_insights_equal_the_api(ws: Workspace, sim: Simulator) -> None:
    ws.load(sim)
    before = loaded_insights(ws)
    changed = mutate_everything(sim)
    started = sim.clock.now()

    ws.load(sim, full_refresh=True)

    assert live_rows(ws) == truth_rows(sim)
    loaded = loaded_insights(ws)
    for insight_id in changed["deleted"]:
        row = loaded[insight_id]
        assert row["deleted_at"] is not None
        assert row["deleted_at"] >= started.replace(microsecond=0)
        assert {k: v for k, v in row.items() if k != "deleted_at"} == {
            k: v for k, v in before[insight_id].items() if k != "deleted_at"
        }


def test_incremental_run_cannot_see_those_changes(ws: Workspace, sim: Simulator) -> None:
    ws.load(sim)
    changed = mutate_everything(sim)
    ws.load(sim)
    loaded = loaded_insights(ws)
    assert all(loaded[i]["deleted_at"] is None for i in changed["deleted"])


def test_reconciliation_twice_changes_nothing_the_second_time(
    ws: Workspace, sim: Simulator
) -> None:
    ws.load(sim)
    mutate_everything(sim)
    ws.load(sim, full_refresh=True)
    first = loaded_insights(ws)
    ws.load(sim, full_refresh=True)
    assert loaded_insights(ws) == first


@pytest.mark.warehouses(postgres_cases=["fails-at-request-6"])
@pytest.mark.parametrize("fault_at", [1, 6, 20], ids=lambda n: f"fails-at-request-{n}")
def test_interrupted_reconciliation_marks_nothing(
    ws: Workspace, sim: Simulator, fault_at: int
) -> None:
    ws.load(sim)
    before = loaded_insights(ws)
    mutate_everything(sim)
    base = len(insight_requests(sim))

    def fail(index: int, body: object) -> None:
        if index == base + fault_at:
            sim.faults.enqueue(*["503"] * 30)

    sim.on_request = fail
    with pytest.raises(PipelineStepFailed):
        ws.load(sim, full_refresh=True, max_attempts=3)
    sim.on_request = None
    sim.faults.clear()
    assert loaded_insights(ws) == before
    ws.load(sim, full_refresh=True)
    assert live_rows(ws) == truth_rows(sim)


def test_archived_insights_survive_when_status_all_excludes_them(
    ws: Workspace, make_sim: SimFactory
) -> None:
    sim = make_sim(status_all_includes_archived=False)
    ws.load(sim)
    ws.load(sim, full_refresh=True)
    archived = {i["id"] for i in sim.store.ground_truth() if i["archived_at"]}
    assert archived
    loaded = loaded_insights(ws)
    assert all(loaded[i]["deleted_at"] is None for i in archived)
    assert live_rows(ws) == truth_rows(sim)
    statuses = {r.body.get("status") for r in insight_requests(sim)}
    assert "archived" in statuses


def test_filtered_reconciliation_never_marks_deletions(ws: Workspace, sim: Simulator) -> None:
    ws.load(sim)
    ws.load(sim, full_refresh=True, sentiment="angry")
    assert all(row["deleted_at"] is None for row in loaded_insights(ws).values())


def test_reconciliation_keeps_the_dataset_and_history(ws: Workspace, sim: Simulator) -> None:
    ws.load(sim)
    versions = ws.count("insight_history")
    sim.store.resolve(sim.store.insight_ids()[0])
    ws.load(sim, full_refresh=True)
    assert ws.count("insight_history") == versions + 1
    assert ws.count("insights") == len(sim.store.ground_truth())
