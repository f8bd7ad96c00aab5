"""dlt's restore from the destination is skipped only when the DuckDB file holds the local state.

A scheduled run on the machine that made the last load asks the file it holds open, in one
query, instead of dlt's restore; a machine whose state is behind the file (another machine
loaded since), or a file whose dataset is gone, still gets dlt's restore, and a run that skips
it still stores its new state where a fresh machine restores from.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dlt.pipeline.pipeline import Pipeline

from pipelines.destination_state import holds_local_state, newest_committed_state
from sources.opencx_simulator import Simulator
from tests.helpers import Workspace, cursor_of, expected_insight, loaded_insights
from tests.warehouses import DuckDBWarehouse


@pytest.fixture
def restores(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The pipelines dlt restored from the destination, one entry per restore."""
    restored: list[str] = []
    restore: Callable[..., Any] = Pipeline._sync_destination

    def counting(self: Pipeline, *args: Any, **kwargs: Any) -> Any:
        restored.append(self.pipelines_dir)
        return restore(self, *args, **kwargs)

    monkeypatch.setattr(Pipeline, "_sync_destination", counting)
    return restored


def machine(root: Path, db: Path) -> Workspace:
    """A machine with its own dlt working dir, loading the DuckDB file `db`."""
    return Workspace(root, DuckDBWarehouse(db))


def file_of(ws: Workspace) -> Path:
    assert isinstance(ws.warehouse, DuckDBWarehouse)
    return ws.warehouse.path


def stored_state(ws: Workspace) -> tuple[Any, Any] | None:
    with duckdb.connect(str(file_of(ws)), read_only=True) as con:
        return newest_committed_state(ws.pipeline(), con)


def in_step(ws: Workspace) -> bool:
    with duckdb.connect(str(file_of(ws)), read_only=True) as con:
        return holds_local_state(ws.pipeline(), con)


def local_version(pipeline: Pipeline) -> tuple[Any, Any]:
    return pipeline.state["_state_version"], pipeline.state["_version_hash"]


def matches_the_api(ws: Workspace, sim: Simulator) -> bool:
    truth = {item["id"]: expected_insight(item) for item in sim.store.ground_truth()}
    return loaded_insights(ws) == truth and ws.count("insights") == len(truth)


def test_a_scheduled_run_in_step_with_its_duckdb_file_skips_dlts_restore(
    tmp_path: Path, sim: Simulator, restores: list[str]
) -> None:
    ws = machine(tmp_path, tmp_path / "warehouse.duckdb")
    ws.load(sim)
    restores.clear()
    sim.store.bump_counts(5)

    pipeline = ws.load(sim)

    assert restores == []
    assert matches_the_api(ws, sim)
    assert stored_state(ws) == local_version(pipeline), "the new state is stored all the same"


def test_a_run_that_skipped_the_restore_leaves_a_state_a_fresh_machine_restores(
    tmp_path: Path, sim: Simulator, restores: list[str]
) -> None:
    ws = machine(tmp_path / "warm", tmp_path / "warehouse.duckdb")
    ws.load(sim)
    restores.clear()
    sim.store.bump_counts(5)
    warm = ws.load(sim)
    assert restores == [], "the second run skipped dlt's restore"

    fresh = machine(tmp_path / "fresh", file_of(ws)).pipeline()
    fresh.sync_destination()

    assert cursor_of(fresh) == cursor_of(warm)
    assert local_version(fresh) == local_version(warm)


def test_a_machine_behind_the_duckdb_file_restores_what_another_machine_stored(
    tmp_path: Path, sim: Simulator, restores: list[str]
) -> None:
    db = tmp_path / "warehouse.duckdb"
    first, second = machine(tmp_path / "first", db), machine(tmp_path / "second", db)
    first.load(sim)
    second.load(sim)  # no cursor yet: restores the first machine's state, then loads nothing
    sim.store.bump_counts(5, rng_seed=1)
    ahead = first.load(sim)
    assert in_step(first)
    assert not in_step(second)
    restores.clear()
    sim.store.bump_counts(5, rng_seed=2)

    behind = second.load(sim)

    assert restores == [str(second.pipelines_dir)]
    assert cursor_of(behind) > cursor_of(ahead), "it caught up from the restored cursor"
    assert matches_the_api(second, sim)
    assert stored_state(second) == local_version(behind)


def test_a_file_whose_dataset_was_dropped_gets_dlts_restore_and_a_full_reload(
    tmp_path: Path, sim: Simulator, restores: list[str]
) -> None:
    ws = machine(tmp_path, tmp_path / "warehouse.duckdb")
    ws.load(sim)
    with duckdb.connect(str(file_of(ws))) as con:
        con.execute("DROP SCHEMA opencx CASCADE")
    restores.clear()

    ws.load(sim)

    assert restores == [str(ws.pipelines_dir)]
    assert matches_the_api(ws, sim), "dlt wiped the local state and loaded everything again"
