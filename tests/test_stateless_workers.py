"""A stateless worker (a fresh Airflow worker, a CI runner: no dlt working directory) restores
its cursors and fingerprints from the destination, so its scheduled run asks the API exactly
what a warm machine asks and loads the same data.

Two machines, each with its own simulator (identical: same seed, same changes), warehouse and
dlt data dir, run the same schedule; between the runs the cold one loses its working dir.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dlt
import pytest
from dlt.pipeline.pipeline import Pipeline

from pipelines.insights import main
from sources.opencx import settings
from sources.opencx.clock import NOW_VARIABLE
from sources.opencx_simulator import Simulator
from tests.conftest import SIM_NOW, SimFactory
from tests.helpers import TEST_KEY, Workspace, pages_needed
from tests.warehouses import DuckDBWarehouse, PostgresWarehouse, Warehouse

pytestmark = [pytest.mark.warehouses, pytest.mark.clock]

# every run also keeps `insight_activity`, whose window cursor lives in resource state too
SCHEDULED = {"activity": True, "activity_initial_days": 3}
# columns that hold (or hash) when a load ran, which differs between two machines
LOAD_TIMES = ("valid_from", "valid_to", "version_hash")


@dataclass
class Machine:
    """One worker: where its dlt state lives, the warehouse it loads, the API it reads."""

    root: Path
    sim: Simulator
    warehouse: Warehouse

    @property
    def data_dir(self) -> Path:
        return self.root / "dlt_data"

    def forget_local_state(self) -> None:
        """What a fresh worker has of the pipeline: nothing."""
        shutil.rmtree(self.data_dir / "pipelines")
        assert not (self.data_dir / "pipelines").exists()

    def requests(self) -> list[tuple[str, str, Any]]:
        """Every request since the last clear, sorted: full scans fetch pages concurrently."""
        return sorted(((r.method, r.path, r.body) for r in self.sim.requests), key=repr)

    def local_state(self) -> dict[str, Any]:
        """The pipeline state in the working dir (dlt.attach reads only that)."""
        return dict(self.attach().state["sources"])

    def content(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every table's rows in a stable order, without dlt's bookkeeping and the times of
        the loads themselves (validity, when a deletion was found, and the version hash, which
        hashes that time): of a deletion, only whether it was found."""
        out = {}
        for table in sorted(t for t in self.warehouse.tables() if not t.startswith("_dlt")):
            names, rows = self.warehouse.execute(f"SELECT * FROM {table}")
            keep = [i for i, n in enumerate(names) if not n.startswith("_dlt")
                    and n not in LOAD_TIMES]  # fmt: skip
            found = names.index("deleted_at") if "deleted_at" in names else None
            out[table] = sorted(
                (tuple(row[i] is not None if i == found else row[i] for i in keep) for row in rows),
                key=repr,
            )
        return out

    def rows_of_last_load(self) -> int:
        """Insights the latest run loaded, from its trace: without the fingerprints it would
        reload unchanged ones (same requests, same table contents, more rows loaded)."""
        trace = self.attach().last_trace
        normalized = trace.last_normalize_info if trace else None
        return normalized.row_counts.get("insights", 0) if normalized else 0

    def attach(self) -> Pipeline:
        """The pipeline as its working dir holds it (dlt.attach reads nothing else)."""
        return dlt.attach(settings.PIPELINE_NAME, pipelines_dir=str(self.data_dir / "pipelines"))


Runner = Callable[..., None]  # (machine, *extra command-line arguments)


@pytest.fixture
def twin(
    destination: Warehouse, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Warehouse]:
    """A second warehouse of the same kind, for the warm machine."""
    if isinstance(destination, DuckDBWarehouse):
        yield DuckDBWarehouse(tmp_path / "warm.duckdb")
        return
    server = request.getfixturevalue("postgres_server")
    dsn = server.create_database()
    try:
        yield PostgresWarehouse(dsn)
    finally:
        server.drop_database(dsn)


def frozen(sim: Simulator) -> Simulator:
    """Stop the simulator's clock at the same instant on every machine, so that identical
    changes stamp identical times."""
    sim.clock.set(SIM_NOW)
    sim.clock.freeze()
    return sim


@pytest.fixture
def cold(tmp_path: Path, make_sim: SimFactory, destination: Warehouse) -> Machine:
    """The worker that loses its dlt working dir between runs."""
    return Machine(tmp_path / "cold", frozen(make_sim()), destination)


@pytest.fixture
def warm(tmp_path: Path, make_sim: SimFactory, twin: Warehouse) -> Machine:
    """The worker that keeps it, on an identical simulator and its own warehouse."""
    return Machine(tmp_path / "warm", frozen(make_sim()), twin)


@pytest.fixture
def command(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Runner:
    """`python pipelines/insights.py --activity` on a machine, through its entry point."""

    def run(machine: Machine, *extra: str) -> None:
        env, args = machine.warehouse.cli_settings()
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("DLT_DATA_DIR", str(machine.data_dir))
        monkeypatch.setenv("SOURCES__OPENCX__API_KEY", TEST_KEY)
        monkeypatch.setenv("SOURCES__OPENCX__REQUESTS_PER_MINUTE", "0")
        monkeypatch.setenv("SOURCES__OPENCX__ACTIVITY_INITIAL_DAYS", "3")
        monkeypatch.setenv(NOW_VARIABLE, machine.sim.clock.now().isoformat())
        code = main(["--base-url", machine.sim.base_url, "--activity", "--quiet", *args, *extra])
        assert code == 0, capsys.readouterr().err

    return run


def in_process(machine: Machine) -> None:
    """The same run through the in-process helper the tests and notebooks use."""
    workspace = Workspace(machine.root, machine.warehouse)
    workspace.load(machine.sim, **SCHEDULED)


def change_the_api(sim: Simulator) -> None:
    """An hour of new sessions and a new insight, the same on both simulators."""
    sim.clock.advance(hours=1)
    sim.store.bump_counts(12, rng_seed=5)
    sim.store.add_insight(sessions=2)


def schedule_on_both(warm: Machine, cold: Machine, run: Runner) -> None:
    """A first run on each, then the same change at both APIs."""
    for machine in (warm, cold):
        run(machine)
        change_the_api(machine.sim)
        machine.sim.clear_requests()


def test_a_fresh_worker_asks_the_api_what_a_warm_one_asks_and_loads_the_same(
    warm: Machine, cold: Machine, command: Runner
) -> None:
    schedule_on_both(warm, cold, command)
    cold.forget_local_state()

    command(warm)
    command(cold)

    assert cold.requests() == warm.requests()
    # the insights' recent pages and the activity windows re-read: far from a full scan
    assert len(cold.requests()) < pages_needed(240, 7) // 2, "a scheduled run, not a full scan"
    assert cold.content() == warm.content()
    assert cold.content()["insight_activity"], "the activity half compares rows"
    assert cold.rows_of_last_load() == warm.rows_of_last_load() < 20
    assert cold.local_state() == warm.local_state()


def test_a_fresh_workers_reconciliation_marks_what_a_warm_one_marks(
    warm: Machine, cold: Machine, command: Runner
) -> None:
    schedule_on_both(warm, cold, command)
    gone, resolved = cold.sim.store.insight_ids()[3:5]
    for machine in (warm, cold):
        machine.sim.store.delete(gone)
        machine.sim.store.resolve(resolved)
    cold.forget_local_state()

    command(warm, "--full-refresh")
    command(cold, "--full-refresh")

    assert cold.requests() == warm.requests()
    assert cold.content() == warm.content()
    assert cold.local_state() == warm.local_state()
    marked = cold.warehouse.execute("SELECT id FROM insights WHERE deleted_at IS NOT NULL")[1]
    assert marked == [(gone,)]


def test_the_in_process_runner_restores_the_same_way(warm: Machine, cold: Machine) -> None:
    schedule_on_both(warm, cold, in_process)
    shutil.rmtree(Workspace(cold.root).pipelines_dir)

    in_process(warm)
    in_process(cold)

    assert cold.requests() == warm.requests()
    assert cold.content() == warm.content()


def test_the_destination_restores_cursors_fingerprints_and_the_activity_cursor(
    cold: Machine, command: Runner
) -> None:
    command(cold)
    before = cold.local_state()
    resources = before["opencx"]["resources"]
    assert resources["insight_pages"]["fingerprints"]
    assert resources["insight_pages"]["incremental"]["last_seen_at"]["last_value"]
    assert resources["insight_activity"]["complete_until"]
    cold.forget_local_state()

    pipeline = dlt.pipeline(
        settings.PIPELINE_NAME,
        pipelines_dir=str(cold.data_dir / "pipelines"),
        destination=cold.warehouse.destination(),
        dataset_name=settings.DATASET_NAME,
    )
    pipeline.sync_destination()

    assert dict(pipeline.state["sources"]) == before
