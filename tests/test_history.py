"""`insight_history` keeps one row per version of each insight's tracked state, so the state at
any past run can be reconstructed; incremental runs never close insights they did not see."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Any

from sources.opencx import schema
from sources.opencx_simulator import Simulator
from tests.helpers import Workspace
from tests.test_reconciliation import mutate_everything

TRACKED = ", ".join(schema.HISTORY_TRACKED)


def tracked_insights(ws: Workspace) -> dict[str, tuple[Any, ...]]:
    return {row[0]: tuple(row[1:]) for row in ws.query(f"SELECT id, {TRACKED} FROM insights")}


def history_as_of(ws: Workspace, moment: datetime) -> dict[str, tuple[Any, ...]]:
    rows = ws.query(
        f"SELECT insight_id, {TRACKED} FROM insight_history "
        "WHERE valid_from <= ? AND (valid_to IS NULL OR valid_to > ?)".replace(
            "?", f"TIMESTAMPTZ '{moment.isoformat()}'"
        )
    )
    as_of: dict[str, tuple[Any, ...]] = {}
    for row in rows:
        assert row[0] not in as_of, f"two versions of {row[0]} valid at {moment}"
        as_of[row[0]] = tuple(row[1:])
    return as_of


def run(ws: Workspace, sim: Simulator, **args: Any) -> tuple[datetime, dict[str, Any]]:
    ws.load(sim, **args)
    moment = datetime.now(timezone.utc)
    time.sleep(0.05)  # the next load package gets a later boundary timestamp
    return moment, tracked_insights(ws)


def test_history_reconstructs_every_past_run(ws: Workspace, sim: Simulator) -> None:
    checkpoints = [run(ws, sim)]
    sim.clock.advance(hours=1)
    sim.store.bump_counts(12, rng_seed=1)
    sim.store.add_insight(sessions=3)
    checkpoints.append(run(ws, sim))
    mutate_everything(sim)
    checkpoints.append(run(ws, sim, full_refresh=True))
    sim.clock.advance(hours=1)
    sim.store.bump_counts(6, rng_seed=2)
    checkpoints.append(run(ws, sim))
    ids = sim.store.insight_ids()
    sim.store.resolve(ids[20])
    sim.store.reassign(ids[21], None)
    sim.store.delete(ids[22])
    checkpoints.append(run(ws, sim, full_refresh=True))

    for moment, expected in checkpoints:
        assert history_as_of(ws, moment) == expected


def test_no_duplicate_versions(ws: Workspace, sim: Simulator) -> None:
    ws.load(sim)
    ws.load(sim)
    ws.load(sim, full_refresh=True)
    sim.store.bump_counts(5)
    ws.load(sim)
    ws.load(sim, full_refresh=True)
    assert ws.query(
        "SELECT COUNT(*) FROM (SELECT insight_id FROM insight_history WHERE valid_to IS NULL "
        "GROUP BY insight_id HAVING COUNT(*) > 1)"
    ) == [(0,)]
    assert ws.query(
        "SELECT COUNT(*) FROM (SELECT insight_id, version_hash, COUNT(*) FROM insight_history "
        "GROUP BY ALL HAVING COUNT(*) > 1)"
    ) == [(0,)]
    assert ws.count("insight_history") == len(sim.store.ground_truth()) + 5


def test_incremental_run_keeps_unseen_insights_open(ws: Workspace, sim: Simulator) -> None:
    ws.load(sim)
    sim.clock.advance(hours=2)
    sim.store.bump_counts(3)
    ws.load(sim)
    open_versions = ws.query("SELECT COUNT(*) FROM insight_history WHERE valid_to IS NULL")
    assert open_versions == [(len(sim.store.ground_truth()),)]


def test_deletion_closes_the_live_version(ws: Workspace, sim: Simulator) -> None:
    ws.load(sim)
    victim = sim.store.insight_ids()[5]
    sim.store.delete(victim)
    ws.load(sim, full_refresh=True)
    versions = ws.query(
        "SELECT valid_to IS NULL, deleted_at IS NULL FROM insight_history "
        f"WHERE insight_id = '{victim}' ORDER BY valid_from"
    )
    assert versions == [(False, True), (True, False)]
    now = datetime.now(timezone.utc) + timedelta(seconds=1)
    assert victim not in {
        k
        for k, v in history_as_of(ws, now).items()
        if v[schema.HISTORY_TRACKED.index("deleted_at")] is None
    }
