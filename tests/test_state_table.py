"""dlt's state table keeps the newest states only, and a fresh worker still restores the newest.

Every load that changes the state (the lookback's fingerprints, the cursor) appends the whole
state to `_dlt_pipeline_state`; without pruning an hourly schedule grows it without bound.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import dlt
import pytest

from pipelines.destination import state_table
from pipelines.insights import main
from sources.opencx import settings
from sources.opencx_simulator import Simulator
from tests.helpers import TEST_KEY, cursor_of
from tests.warehouses import Warehouse

pytestmark = pytest.mark.warehouses
KEEP = 3


def _run(
    sim: Simulator, destination: Warehouse, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env, args = destination.cli_settings()
    for name, value in {
        **env,
        "DLT_DATA_DIR": str(data_dir),
        "SOURCES__OPENCX__API_KEY": TEST_KEY,
        "SOURCES__OPENCX__REQUESTS_PER_MINUTE": "0",
    }.items():
        monkeypatch.setenv(name, value)
    assert main(["--base-url", sim.base_url, "--quiet", *args]) == 0


def _stored_states(destination: Warehouse) -> list[Any]:
    _, rows = destination.execute("SELECT version FROM _dlt_pipeline_state ORDER BY version")
    return [row[0] for row in rows]


def _local_pipeline(data_dir: Path) -> Any:
    return dlt.attach(settings.PIPELINE_NAME, pipelines_dir=str(data_dir / "pipelines"))


def test_the_state_table_keeps_the_newest_states_and_a_fresh_worker_restores_the_newest(
    sim: Simulator, destination: Warehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(state_table, "KEEP_STATES", KEEP)
    data_dir = tmp_path / "dlt_data"
    for hour in range(KEEP + 3):
        _run(sim, destination, data_dir, monkeypatch)
        assert len(_stored_states(destination)) == min(hour + 1, KEEP)
        sim.clock.advance(hours=1)
        sim.store.bump_counts(5, rng_seed=hour)
    warm = _local_pipeline(data_dir)
    assert _stored_states(destination)[-1] == warm.state["_state_version"]
    warm_cursor = cursor_of(warm)

    shutil.rmtree(data_dir)  # a stateless worker: the state comes back from the destination
    _run(sim, destination, data_dir, monkeypatch)
    cold = _local_pipeline(data_dir)
    assert cursor_of(cold) > warm_cursor  # restored, then moved on with the new sessions only
    # the restored fingerprints skip the unchanged insights in the lookback: only the 5 bumped
    assert cold.last_trace.last_normalize_info.row_counts["insights"] == 5
    assert len(_stored_states(destination)) == KEEP
