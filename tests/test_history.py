"""`insight_history` keeps one row per version of each insight's tracked state, so the state at
any past run can be reconstructed; incremental runs never close insights they did not see."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from pipelines.output.summary import rows_loaded
from sources.opencx import fingerprints, schema
from sources.opencx_simulator import Simulator
from tests.helpers import Workspace
from tests.test_reconciliation import mutate_everything

pytestmark = [pytest.mark.warehouses, pytest.mark.clock]
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


def latest_boundary(ws: Workspace) -> datetime:
    """The latest instant at which a version started or ended, read from the history itself.

    dlt's scd2 stamps both with the load's boundary timestamp, so this is when the last load
    that changed anything took effect; the state as of it is the state after that load. Reading
    it from the data instead of the wall clock needs no sleep to keep loads apart.
    """
    rows = ws.query(
        "SELECT max(moment) FROM (SELECT valid_from AS moment FROM insight_history "
        "UNION ALL SELECT valid_to FROM insight_history) AS moments"
    )
    moment = rows[0][0]
    assert isinstance(moment, datetime), "no version was ever written"
    return moment


def run(
    ws: Workspace, sim: Simulator, previous: datetime | None = None, **args: Any
) -> tuple[datetime, dict[str, Any]]:
    """Load, and return the load's boundary with the state the history must show as of it.

    Every run in these tests changes something, so its boundary must be strictly later than
    the `previous` run's: otherwise the load wrote no version and the check would be vacuous.
    """
    ws.load(sim, **args)
    moment = latest_boundary(ws)
    assert previous is None or moment > previous
    return moment, tracked_insights(ws)


def test_history_reconstructs_every_past_run(ws: Workspace, sim: Simulator) -> None:
    checkpoints = [run(ws, sim)]
    sim.clock.advance(hours=1)
    sim.store.bump_counts(12, rng_seed=1)
    sim.store.add_insight(sessions=3)
    checkpoints.append(run(ws, sim, checkpoints[-1][0]))
    mutate_everything(sim)
    checkpoints.append(run(ws, sim, checkpoints[-1][0], full_refresh=True))
    sim.clock.advance(hours=1)
    sim.store.bump_counts(6, rng_seed=2)
    checkpoints.append(run(ws, sim, checkpoints[-1][0]))
    ids = sim.store.insight_ids()
    sim.store.resolve(ids[20])
    sim.store.reassign(ids[21], None)
    sim.store.delete(ids[22])
    checkpoints.append(run(ws, sim, checkpoints[-1][0], full_refresh=True))

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
        "GROUP BY insight_id HAVING COUNT(*) > 1) AS doubled"
    ) == [(0,)]
    assert ws.query(
        "SELECT COUNT(*) FROM (SELECT insight_id, version_hash FROM insight_history "
        "GROUP BY insight_id, version_hash HAVING COUNT(*) > 1) AS doubled"
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
    assert victim not in {
        k
        for k, v in history_as_of(ws, latest_boundary(ws)).items()
        if v[schema.HISTORY_TRACKED.index("deleted_at")] is None
    }


def insights_as_loaded(ws: Workspace) -> list[dict[str, Any]]:
    """The `insights` rows without the load that wrote them (a merged row takes the new one)."""
    rows = ws.rows("insights", order_by="id")
    return [{k: v for k, v in row.items() if k != schema.LOAD_ID} for row in rows]


def test_a_new_fingerprint_format_merges_the_lookback_once_without_new_versions(
    ws: Workspace, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    current_format = fingerprints.fingerprint
    with monkeypatch.context() as older_release:
        older_release.setattr(fingerprints, "fingerprint", lambda record: "old:" + record["id"])
        ws.load(sim)
    history_before = ws.rows("insight_history", order_by="insight_id")
    insights_before = insights_as_loaded(ws)
    assert fingerprints.fingerprint is current_format

    first_after_upgrade = ws.load_with_stats(sim)
    assert first_after_upgrade.unchanged == 0
    assert rows_loaded(ws.pipeline())["insights"] > 0  # the lookback window, merged again
    assert ws.rows("insight_history", order_by="insight_id") == history_before
    assert insights_as_loaded(ws) == insights_before
    assert ws.load_with_stats(sim).unchanged > 0
