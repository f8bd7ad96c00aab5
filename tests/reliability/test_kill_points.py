"""SIGKILL the command at 25 points of a run, then run it again.

Every point is checked twice. Right after the kill, before anything repairs it: no table holds a
duplicate key or two open history versions, every loaded row is a version the API really served,
and no stored cursor is ahead of the data it vouches for (the destination's committed state never;
the local state file only while a pending load package on disk holds that data, which dlt loads
before extracting anything new). After the rerun: the tables equal the simulator's ground truth
column by column (changes the API made while the command was down included: the rerun must
finish what the killed run left and catch up), a reconciliation marks exactly the deleted
insights, the cursor is committed in both places, and no schema beside the dataset holds a table
(dlt's staging dataset is dropped after the load, `pipelines.destination.staging`).

Kill points are reached deterministically: fetching ones by blocking the simulator on the N-th
request, later ones by `paused_cli.py`, which pauses the real command at a named instant of
normalising, loading or committing. One time-based point, over a slow API, lands wherever the
run happens to be.

Every point runs on DuckDB and on PostgreSQL (a database of its own, the command pointed at it
with `--destination postgres`), where dlt loads files with `COPY` instead of SQL statements: the
DuckDB point after a table's copy (its append on a first load, its staging copy later) is, there,
the point after that `COPY` committed.

Two tests follow a resumed load further, since its repair must not be forgotten: a kill before
the repair ran, and dlt aborting the resumed package after a terminal job failure. One kills a
run between its completed load and the drop of the staging dataset, which the next run must drop
even with nothing new to load. One follows a killed first run into the next run, killed while
dlt wipes the working folder it left.
"""

from __future__ import annotations

import contextlib
import math
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import psycopg2
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
from dlt.common.json import json as dlt_json
from dlt.common.versioned_state import decompress_state

from pipelines.load.owed_repair import OWED_MARK
from sources.opencx import schema, settings
from sources.opencx_simulator import Simulator
from tests.conftest import SimFactory
from tests.helpers import expected_entities, expected_insight, insight_requests
from tests.reliability.support import cli_pipeline, seed_cli_pipeline
from tests.test_cli import ROOT, SCRIPT, cli_env
from tests.test_comments import assert_every_table_and_column_described, relation_comments
from tests.warehouses import (
    DATASET,
    POSTGRES,
    DuckDBWarehouse,
    PostgresWarehouse,
    Warehouse,
    rows_beside_the_dataset,
    schemas_beside_the_dataset,
)

PAUSED_CLI = Path(__file__).with_name("paused_cli.py")
N_INSIGHTS = 300
PAGE_SIZE = 20
FULL_SCAN_PAGES = math.ceil(N_INSIGHTS / PAGE_SIZE)
KEYS = {"insights": "id", "categories": "id", "teams": "id", "people": "person_key"}
TRACKED = ", ".join(schema.HISTORY_TRACKED)
WAIT_SECONDS = 90.0
pytestmark = pytest.mark.warehouses


@dataclass(frozen=True)
class KillPoint:
    """Where to kill: `scenario` is the run being killed, `how` the trigger.

    `on_postgres` is the same instant on PostgreSQL where that needs another trigger.
    """

    scenario: str  # first | incremental | reconcile
    how: str  # request:N | pause:<paused_cli point> | after:<seconds>
    on_postgres: str | None = None

    def trigger(self, warehouse: Warehouse) -> str:
        return self.on_postgres if warehouse.name == POSTGRES and self.on_postgres else self.how


POINTS = [
    # first run, fresh destination: creating the DuckDB file (DuckDB only)
    pytest.param(
        KillPoint("first", "pause:duckdb-creating"), id="first-run-duckdb-file-created-empty"
    ),
    # first run: fetching
    pytest.param(KillPoint("first", "request:1"), id="first-run-fetching-request-1"),
    pytest.param(KillPoint("first", "request:11"), id="first-run-fetching-request-11"),
    pytest.param(
        KillPoint("first", f"request:{FULL_SCAN_PAGES}"), id="first-run-fetching-the-last-request"
    ),
    # first run: normalising
    pytest.param(KillPoint("first", "pause:normalize"), id="first-run-extracted-not-normalised"),
    pytest.param(
        KillPoint("first", "pause:normalized-uncommitted"), id="first-run-normalised-uncommitted"
    ),
    pytest.param(
        KillPoint("first", "pause:normalized-half-committed"),
        id="first-run-normalised-half-committed",
    ),
    # first run: loading and committing
    pytest.param(KillPoint("first", "pause:load"), id="first-run-before-loading"),
    pytest.param(KillPoint("first", "pause:job-completed:1"), id="first-run-after-first-load-job"),
    # (a first load appends insights and history into the empty tables: `pipelines.load.first_load`)
    pytest.param(
        KillPoint(
            "first",
            'pause:after-sql:INSERT INTO "opencx"."insight_history"',
            on_postgres="pause:after-copy:insight_history",
        ),
        id="first-run-history-append-committed",
    ),
    pytest.param(
        KillPoint(
            "first",
            'pause:after-sql:INSERT INTO "opencx"."insights"',
            on_postgres="pause:after-copy:insights",
        ),
        id="first-run-insights-append-committed",
    ),
    pytest.param(
        KillPoint("first", 'pause:after-sql:INSERT INTO "opencx"."categories"'),
        id="first-run-categories-merge-uncommitted",
    ),
    pytest.param(
        KillPoint("first", "pause:complete-package"), id="first-run-jobs-done-load-not-recorded"
    ),
    pytest.param(
        KillPoint("first", "pause:package-archive"), id="first-run-load-recorded-not-archived"
    ),
    pytest.param(KillPoint("first", "pause:summary"), id="first-run-committed-before-summary"),
    # incremental run after new sessions and insights
    pytest.param(KillPoint("incremental", "request:2"), id="incremental-fetching-request-2"),
    pytest.param(
        KillPoint("incremental", "pause:insert-committed:_dlt_pipeline_state"),
        id="incremental-state-row-committed-not-recorded",
    ),
    pytest.param(
        KillPoint("incremental", "pause:job-completed:_dlt_pipeline_state"),
        id="incremental-state-row-written-data-not-merged",
    ),
    pytest.param(
        KillPoint(
            "incremental",
            'pause:after-sql:INSERT INTO "opencx_staging"."insights"',
            on_postgres="pause:after-copy:insights",
        ),
        id="incremental-insights-staging-copy-committed",
    ),
    pytest.param(
        KillPoint("incremental", 'pause:before-sql:INSERT INTO "opencx"."insights"'),
        id="incremental-before-insights-merge",
    ),
    pytest.param(
        KillPoint("incremental", "pause:staging-drop"), id="incremental-loaded-staging-not-dropped"
    ),
    # reconciliation (--full-refresh) after resolve / archive / reassign / delete
    pytest.param(KillPoint("reconcile", "request:8"), id="reconcile-fetching-request-8"),
    pytest.param(KillPoint("reconcile", "pause:tombstones"), id="reconcile-before-marking-deleted"),
    pytest.param(
        KillPoint("reconcile", 'pause:after-sql:UPDATE "opencx"."insight_history"'),
        id="reconcile-history-merge-uncommitted",
    ),
    # time-based, over a slow API: wherever the run happens to be
    pytest.param(KillPoint("first", "after:1.6"), id="first-run-after-1.6s-slow-api"),
]
# Where the killed run never reached the destination, one fetching and one normalising point
# stand for the others on PostgreSQL (CI time); every point that writes or reads it runs there.
BEFORE_THE_DESTINATION = {
    "first-run-fetching-request-1",
    "first-run-fetching-the-last-request",
    "first-run-extracted-not-normalised",
    "first-run-normalised-uncommitted",
    "incremental-fetching-request-2",
    "reconcile-fetching-request-8",
}
# points only a DuckDB file has
DUCKDB_ONLY = {"first-run-duckdb-file-created-empty"}
POSTGRES_POINTS = [p.id for p in POINTS if p.id not in BEFORE_THE_DESTINATION | DUCKDB_ONLY]


@dataclass
class Scenario:
    """A simulator, a CLI environment and what the destination may and must hold."""

    tmp_path: Path
    sim: Simulator
    warehouse: Warehouse
    env: dict[str, str]
    args: list[str]
    reconcile: bool = False
    # every version of each insight the API served during the scenario (as table rows)
    served: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    deleted: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def pipeline_dir(self) -> Path:
        return self.tmp_path / "dlt_data" / "pipelines" / settings.PIPELINE_NAME

    def note_served(self) -> None:
        for item in self.sim.store.ground_truth():
            row = expected_insight(item)
            versions = self.served.setdefault(item["id"], [])
            if row not in versions:
                versions.append(row)


def mutate_for_incremental(sim: Simulator) -> None:
    sim.clock.advance(hours=3)
    sim.store.bump_counts(70, rng_seed=5)
    for _ in range(3):
        sim.store.add_insight(sessions=2)


def mutate_for_reconcile(scn: Scenario) -> None:
    """Changes only a full scan sees, plus new sessions; remembers what gets deleted."""
    store = scn.sim.store
    truth = store.ground_truth()
    open_ids = [i["id"] for i in truth if not i["resolved_at"] and not i["archived_at"]]
    archived = [i["id"] for i in truth if i["archived_at"]]
    teams = store.team_ids()
    scn.sim.clock.advance(hours=2)
    for insight_id in open_ids[:4]:
        store.resolve(insight_id)
    for insight_id in open_ids[4:7]:
        store.archive(insight_id, reason="duplicate")
    for insight_id in archived[:2]:
        store.unarchive(insight_id)
    store.reassign(open_ids[7], None)
    store.reassign(open_ids[8], teams[1])
    by_id = {i["id"]: expected_insight(i) for i in truth}
    for insight_id in open_ids[9:14]:
        scn.deleted[insight_id] = by_id[insight_id]
        store.delete(insight_id)
    store.bump_counts(10, rng_seed=9)


def make_scenario(
    tmp_path: Path, make_sim: SimFactory, point: KillPoint, warehouse: Warehouse
) -> Scenario:
    latency = 0.3 if point.how.startswith("after:") else 0.0
    sim = make_sim(n_insights=N_INSIGHTS, page_size=PAGE_SIZE, latency_s=latency)
    env, args = warehouse.cli_settings()
    scn = Scenario(
        tmp_path, sim, warehouse, cli_env(tmp_path, **env), ["--base-url", sim.base_url, *args]
    )
    scn.note_served()
    if point.scenario != "first":
        seed_cli_pipeline(tmp_path, sim, warehouse)
        if point.scenario == "incremental":
            mutate_for_incremental(sim)
        else:
            mutate_for_reconcile(scn)
            scn.reconcile = True
            scn.args.append("--full-refresh")
        scn.note_served()
    return scn


# ---------------------------------------------------------------------------- killing


def wait_until(done: Any, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not done():
        if proc.poll() is not None:
            pytest.fail(f"the run exited ({proc.returncode}) before reaching {what}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the run never reached {what}")
        time.sleep(0.005)


def kill(proc: subprocess.Popen[bytes]) -> None:
    assert proc.poll() is None, "the run finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL


def spawn(scn: Scenario, script: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(script), *scn.args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def kill_run(scn: Scenario, how: str) -> None:
    kind, _, arg = how.partition(":")
    if kind == "request":
        kill_at_request(scn, int(arg))
    elif kind == "pause":
        marker = scn.tmp_path / "paused.marker"
        marker.unlink(missing_ok=True)  # a previous kill's
        # one load worker: while the run is paused no other load job moves on behind it
        env = {
            **scn.env,
            "OPENCX_PAUSE_AT": arg,
            "OPENCX_PAUSE_MARKER": str(marker),
            "LOAD__WORKERS": "1",
        }
        proc = spawn(scn, PAUSED_CLI, env)
        wait_until(marker.exists, proc, f"pause point {arg}")
        kill(proc)
        assert marker.read_text() == arg
    else:
        proc = spawn(scn, SCRIPT, scn.env)
        time.sleep(float(arg))
        kill(proc)


def kill_at_request(scn: Scenario, number: int) -> None:
    """Kill while the `number`-th POST /insights of the run waits for its answer."""
    reached, release = threading.Event(), threading.Event()
    target = len(insight_requests(scn.sim)) + number - 1

    def hold(index: int, body: object) -> None:
        if index == target:
            reached.set()
            release.wait(WAIT_SECONDS)

    scn.sim.on_request = hold
    try:
        proc = spawn(scn, SCRIPT, scn.env)
        wait_until(reached.is_set, proc, f"request {number}")
        kill(proc)
    finally:
        release.set()
        scn.sim.on_request = None


def rename_table(warehouse: Warehouse, table: str, new_name: str) -> None:
    """Rename a table of the dataset and commit (as an operator's session would)."""
    statement = f"ALTER TABLE {DATASET}.{table} RENAME TO {new_name}"
    if isinstance(warehouse, DuckDBWarehouse):
        with duckdb.connect(str(warehouse.path)) as con:
            con.execute(statement)
        return
    assert isinstance(warehouse, PostgresWarehouse)
    with contextlib.closing(psycopg2.connect(warehouse.dsn)) as connection, connection:
        connection.cursor().execute(statement)


def run_to_exit(scn: Scenario, extra_env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The command run to its end in a process of its own, with `extra_env` set."""
    return subprocess.run(
        [sys.executable, str(SCRIPT), *scn.args],
        env={**scn.env, **extra_env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=WAIT_SECONDS,
        check=False,
    )


# ---------------------------------------------------------------------------- inspecting


@contextlib.contextmanager
def destination_as_left(scn: Scenario) -> Iterator[Warehouse | None]:
    """The destination exactly as the kill left it; None if the run never created it.

    A DuckDB file is opened from a copy (WAL included): opening the original would replay its
    WAL before the rerun does, and the rerun must find it as the killed process left it.
    PostgreSQL is read as it is: the killed run's open transaction is rolled back by the
    server, exactly what the rerun finds, and no reader can change that.
    """
    if not isinstance(scn.warehouse, DuckDBWarehouse):
        yield scn.warehouse
        return
    db = scn.warehouse.path
    if not db.exists():
        yield None
        return
    copy_dir = scn.tmp_path / "as_left"
    shutil.rmtree(copy_dir, ignore_errors=True)
    copy_dir.mkdir()
    for path in db.parent.glob(db.name + "*"):
        if path.is_file():  # the database and its WAL; `<db>.tmp/` is DuckDB's spill scratch
            shutil.copy2(path, copy_dir / path.name)
    yield DuckDBWarehouse(copy_dir / db.name, read_only=False)


def select(warehouse: Warehouse, sql: str) -> list[tuple[Any, ...]]:
    return warehouse.execute(sql)[1]


def state_cursor(state: dict[str, Any] | None) -> datetime | None:
    try:
        resources = state["sources"]["opencx"]["resources"]  # type: ignore[index]
        value = resources["insight_pages"]["incremental"]["last_seen_at"]["last_value"]
    except (KeyError, TypeError):
        return None
    return value if isinstance(value, datetime) else None


def local_cursor(scn: Scenario) -> datetime | None:
    path = scn.pipeline_dir / "state.json"
    if not path.exists():
        return None
    return state_cursor(dlt_json.typed_loads(path.read_text()))


def destination_states(
    warehouse: Warehouse,
) -> tuple[datetime | None, list[tuple[str, datetime | None]]]:
    """The committed cursor (what dlt restores: the newest state of a recorded load) and the
    cursor of every state row with the load id it belongs to, recorded or not."""
    if "_dlt_pipeline_state" not in warehouse.tables():
        return None, []
    rows = select(
        warehouse,
        "SELECT s.state, s._dlt_load_id, l.load_id IS NOT NULL FROM _dlt_pipeline_state s "
        "LEFT JOIN (SELECT load_id FROM _dlt_loads WHERE status = 0) l "
        "ON l.load_id = s._dlt_load_id ORDER BY s._dlt_load_id",
    )
    decoded = [(load_id, state_cursor(decompress_state(state)), ok) for state, load_id, ok in rows]
    committed = [cursor for _, cursor, ok in decoded if ok]
    return (committed[-1] if committed else None), [(i, c) for i, c, ok in decoded if not ok]


def half_wiped_folder(scn: Scenario) -> bool:
    """Whether the local state names a schema whose file the pipeline folder no longer holds."""
    path = scn.pipeline_dir / "state.json"
    if not path.exists():
        return False
    state = dlt_json.typed_loads(path.read_text())
    named = {*state.get("schema_names", []), state.get("default_schema_name")} - {None}
    return any(not (scn.pipeline_dir / "schemas" / f"{n}.schema.json").exists() for n in named)


def pending_packages(scn: Scenario) -> list[Path]:
    """Load packages on disk not yet fully loaded: extracted, being normalised or loading."""
    folders = ("normalize/extracted", "load/new", "load/normalized")
    return [
        package
        for folder in folders
        if (scn.pipeline_dir / folder).is_dir()
        for package in (scn.pipeline_dir / folder).iterdir()
        if package.is_dir()
    ]


def pending_max_last_seen(scn: Scenario) -> datetime | None:
    """The newest `last_seen_at` among insights rows waiting in pending packages.

    Not those in `load/new`: a normalisation killed there leaves its files half written, and
    the same package waits whole in `normalize/extracted` until that normalisation commits.
    """
    newest: datetime | None = None
    for package in pending_packages(scn):
        if package.parent == scn.pipeline_dir / "load" / "new":
            continue
        for path in package.glob("*_jobs/insights.*"):
            values = [v for v in last_seen_column(path) if v is not None]
            if values and (newest is None or max(values) > newest):
                newest = max(values)
    return newest


def last_seen_column(path: Path) -> list[Any]:
    """`last_seen_at` of a job file: Parquet (extracted; DuckDB's load files) or CSV
    (PostgreSQL's load files, gzipped)."""
    if path.name.endswith(".parquet"):
        return list(pq.read_table(path, columns=["last_seen_at"]).column(0).to_pylist())
    if ".csv" in path.suffixes:
        options = pa_csv.ConvertOptions(
            include_columns=["last_seen_at"],
            column_types={"last_seen_at": pa.timestamp("us", tz="UTC")},
        )
        return list(pa_csv.read_csv(path, convert_options=options).column(0).to_pylist())
    return []


def insight_rows(warehouse: Warehouse) -> dict[str, dict[str, Any]]:
    columns = list(expected_insight({"id": "", "insight_number": 0, "content": "",
                                     "sentiment": "", "occurrence_count": 0}))  # fmt: skip
    rows = select(warehouse, f"SELECT {', '.join(columns)} FROM insights")
    return {row[0]: dict(zip(columns, row, strict=True)) for row in rows}


def doubled_open_versions(warehouse: Warehouse) -> int:
    """Insights with more than one open history version."""
    return len(
        select(
            warehouse,
            "SELECT insight_id FROM insight_history WHERE valid_to IS NULL "
            "GROUP BY insight_id HAVING COUNT(*) > 1",
        )
    )


def assert_no_duplicates(warehouse: Warehouse) -> None:
    present = warehouse.tables()
    for table, key in KEYS.items():
        if table in present:
            total, distinct = select(
                warehouse, f"SELECT COUNT(*), COUNT(DISTINCT {key}) FROM {table}"
            )[0]
            assert total == distinct, f"{total - distinct} duplicate {key}s in {table}"
    if "insight_history" in present:
        doubled = doubled_open_versions(warehouse)
        assert doubled == 0, f"{doubled} insights with two open history versions"


def without_deletion(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != "deleted_at"}


def assert_consistent_after_kill(scn: Scenario) -> None:
    with destination_as_left(scn) as warehouse:
        loaded: dict[str, dict[str, Any]] = {}
        committed: datetime | None = None
        unrecorded: list[tuple[str, datetime | None]] = []
        if warehouse is not None:
            assert_no_duplicates(warehouse)
            if "insights" in warehouse.tables():
                loaded = insight_rows(warehouse)
            committed, unrecorded = destination_states(warehouse)
    # nothing loaded is made up: every row is a version the API served
    for insight_id, row in loaded.items():
        served = [without_deletion(v) for v in scn.served[insight_id]]
        assert without_deletion(row) in served, f"insight {insight_id} was loaded wrong"
        if row["deleted_at"] is not None:
            assert insight_id in scn.deleted
    newest_loaded = max((r["last_seen_at"] for r in loaded.values() if r["last_seen_at"]),
                        default=None)  # fmt: skip
    # the destination's committed state never vouches for data it does not hold
    if committed is not None:
        assert newest_loaded is not None
        assert committed <= newest_loaded
    # a state row of an unrecorded load is ignored by dlt; its package must still be pending
    pending_ids = {package.name for package in pending_packages(scn)}
    for load_id, cursor in unrecorded:
        if cursor is not None and (newest_loaded is None or cursor > newest_loaded):
            assert load_id in pending_ids, f"state of load {load_id} is ahead and orphaned"
    # the local state may run ahead only of data that waits on disk to be loaded first, or in a
    # folder left half wiped, which the next run drops (pipelines.load.working_folder)
    local = local_cursor(scn)
    ahead = local is not None and (newest_loaded is None or local > newest_loaded)
    if ahead and not half_wiped_folder(scn):
        waiting = pending_max_last_seen(scn)
        assert local is not None
        assert waiting is not None
        assert local <= waiting


def run_again(
    scn: Scenario, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    """The same command again, through its entry point `main()` in this process.

    Identical code path to `python pipelines/insights.py`, minus a second of interpreter and
    import start-up per test; the killed run is always a real process.
    """
    from pipelines.insights import main  # noqa: PLC0415

    for name, value in scn.env.items():
        if name.startswith(("SOURCES__", "DESTINATION__", "DLT_")):
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("DLT_PROJECT_DIR", str(ROOT))
    capsys.readouterr()
    code = main(scn.args)
    return code, capsys.readouterr().err


def assert_converged(scn: Scenario, outcome: tuple[int, str]) -> None:
    code, stderr = outcome
    assert code == 0, stderr
    assert "Traceback" not in stderr
    assert pending_packages(scn) == []
    truth_items = scn.sim.store.ground_truth()
    truth = {i["id"]: expected_insight(i) for i in truth_items}
    warehouse = scn.warehouse
    assert_no_duplicates(warehouse)
    loaded = insight_rows(warehouse)
    committed, _ = destination_states(warehouse)
    history = {
        row[0]: row[1:]
        for row in select(
            warehouse, f"SELECT insight_id, {TRACKED} FROM insight_history WHERE valid_to IS NULL"
        )
    }
    current = {row[0]: row[1:] for row in select(warehouse, f"SELECT id, {TRACKED} FROM insights")}
    entities = {
        table: {row[0]: row for row in select(warehouse, f"SELECT * FROM {table}")}
        for table in ("categories", "teams", "people")
    }
    marked = {k for k, v in loaded.items() if v["deleted_at"] is not None}
    assert marked == set(scn.deleted)
    for insight_id, before in scn.deleted.items():
        assert without_deletion(loaded.pop(insight_id)) == without_deletion(before)
    assert loaded == truth
    assert history == current
    for table, expected in expected_entities(truth_items).items():
        for key, values in expected.items():
            assert entities[table][key][: len(values)] == tuple(values.values())
    assert rows_beside_the_dataset(warehouse) == {}, "the staging dataset was left to readers"
    assert schemas_beside_the_dataset(warehouse) == set()
    local = local_cursor(scn)
    assert local == committed
    newest = max(v["last_seen_at"] for v in truth.values() if v["last_seen_at"])
    assert local is not None
    if scn.reconcile:
        assert local <= newest
    else:
        assert local == newest


# ---------------------------------------------------------------------------- tests


def change_while_down(scn: Scenario) -> None:
    """What happens at the API between the kill and the rerun: new sessions, a new insight and,
    for a reconciliation, one more deletion (of an insight whose version never changed)."""
    sim = scn.sim
    sim.clock.advance(hours=1)
    sim.store.bump_counts(15, rng_seed=11)
    sim.store.add_insight(sessions=1)
    scn.note_served()
    if scn.reconcile:
        victim = next(  # the oldest such insight: loaded by the seed run for sure
            i
            for i in sim.store.ground_truth()
            if len(scn.served[i["id"]]) == 1 and i["id"] not in scn.deleted
        )
        scn.deleted[victim["id"]] = expected_insight(victim)
        sim.store.delete(victim["id"])


@pytest.mark.warehouses(postgres_cases=POSTGRES_POINTS)
@pytest.mark.parametrize("point", POINTS)
def test_sigkill_then_rerun_equals_the_api_and_no_cursor_runs_ahead(
    tmp_path: Path,
    make_sim: SimFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    point: KillPoint,
    destination: Warehouse,
) -> None:
    scn = make_scenario(tmp_path, make_sim, point, destination)
    kill_run(scn, point.trigger(destination))

    assert_consistent_after_kill(scn)

    scn.sim.config.latency_s = 0.0
    change_while_down(scn)
    assert_converged(scn, run_again(scn, monkeypatch, capsys))


def test_a_kill_before_the_repair_of_a_resumed_load_is_repaired_by_the_next_run(
    tmp_path: Path,
    make_sim: SimFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    destination: Warehouse,
) -> None:
    """A staging copy committed twice leaves duplicates that only the repair removes; the run
    that resumes the package and is killed before repairing leaves no package pending, so the
    one after it must still know the repair is owed."""
    point = KillPoint(
        "incremental",
        'pause:after-sql:INSERT INTO "opencx_staging"."insights"',
        on_postgres="pause:after-copy:insights",
    )
    scn = make_scenario(tmp_path, make_sim, point, destination)
    kill_run(scn, point.trigger(destination))
    kill_run(scn, "pause:repair")
    assert pending_packages(scn) == [], "the resumed package loaded before the second kill"

    scn.sim.config.latency_s = 0.0
    change_while_down(scn)
    assert_converged(scn, run_again(scn, monkeypatch, capsys))


def test_a_kill_between_the_load_and_the_staging_drop_is_dropped_by_a_run_with_nothing_new(
    tmp_path: Path,
    make_sim: SimFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    destination: Warehouse,
) -> None:
    """A run's loads completed, its merges' copies in the staging dataset, and the kill comes
    before the drop; so does it for the run after (which commits the state the changes moved).
    The run after that, with nothing new to load, must still drop the staging dataset."""
    point = KillPoint("incremental", "pause:staging-drop")
    scn = make_scenario(tmp_path, make_sim, point, destination)
    kill_run(scn, point.trigger(destination))
    assert_consistent_after_kill(scn)
    with destination_as_left(scn) as warehouse:
        assert warehouse is not None
        staged = rows_beside_the_dataset(warehouse)
    assert staged.get(f"{DATASET}_staging.{schema.INSIGHTS}", 0) > 0, f"no copy left: {staged}"
    kill_run(scn, point.trigger(destination))
    with destination_as_left(scn) as warehouse:
        assert warehouse is not None
        assert schemas_beside_the_dataset(warehouse) == {f"{DATASET}_staging"}
        loads = select(warehouse, "SELECT COUNT(*) FROM _dlt_loads")

    assert_converged(scn, run_again(scn, monkeypatch, capsys))
    assert select(destination, "SELECT COUNT(*) FROM _dlt_loads") == loads, "nothing was new"


def test_a_kill_before_the_comments_leaves_them_to_the_next_run_with_nothing_new(
    tmp_path: Path,
    make_sim: SimFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    destination: Warehouse,
) -> None:
    """A first run's loads and views committed, the kill comes before their comments. The run
    after, with nothing new to load, sets them all: what was commented is recorded only once
    the comments committed (`pipelines.destination.comments`)."""
    point = KillPoint("first", "pause:comments")
    scn = make_scenario(tmp_path, make_sim, point, destination)
    kill_run(scn, point.trigger(destination))
    assert_consistent_after_kill(scn)
    with destination_as_left(scn) as warehouse:
        assert warehouse is not None
        assert not any(relation_comments(warehouse).values()), "the kill came before them"

    assert_converged(scn, run_again(scn, monkeypatch, capsys))
    assert_every_table_and_column_described(destination)


def test_a_kill_half_way_through_dlts_wipe_of_the_working_folder_is_recovered_by_the_next_run(
    tmp_path: Path,
    make_sim: SimFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    destination: Warehouse,
) -> None:
    """A first run killed after its extraction leaves a load package and a local state naming
    the schema, and no dataset at the destination. The next run's restore (dlt's
    `sync_destination`) then wipes the working folder with `rmtree`, which removes `schemas/`
    before `state.json`: killed in between, it leaves a state naming a schema that is gone,
    which dlt cannot open again (`SchemaNotFoundError`, reported as the `_dlt_pipeline_state`
    catalog error it was handling). The run after must start over and load everything."""
    scn = make_scenario(tmp_path, make_sim, KillPoint("first", "pause:load"), destination)
    kill_run(scn, "pause:load")
    kill_run(scn, "pause:wipe-half-done")
    assert (scn.pipeline_dir / "state.json").exists(), "the wipe was killed before the state"
    assert not (scn.pipeline_dir / "schemas" / f"{DATASET}.schema.json").exists()

    change_while_down(scn)
    assert_converged(scn, run_again(scn, monkeypatch, capsys))


# how dlt comes to abort the resumed package after its terminal job failure
ABORTED_BY_DLT = "aborted-by-dlt-on-the-failure"  # load.auto_abort_on_terminal_error
ABORTED_BY_OPERATOR = (
    "aborted-by-the-operator-after-the-failed-run"  # dlt pipeline .. abort-packages
)


@pytest.mark.parametrize("abort", [ABORTED_BY_DLT, ABORTED_BY_OPERATOR])
def test_a_resumed_load_whose_package_aborts_is_still_repaired_by_the_next_run(
    tmp_path: Path,
    make_sim: SimFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    destination: Warehouse,
    abort: str,
) -> None:
    """The history staging copy is committed twice (a kill after the first copy, then its
    resumption) and merged, the kill coming right after that merge committed. The next run
    resumes the merge, which fails terminally (the table is missing meanwhile). dlt aborts the
    package, on the failure (`load.auto_abort_on_terminal_error`) or when the operator asks
    (`dlt pipeline <name> abort-packages`), and rewinds the local state to the package's start,
    from before the repair was owed. The run after must still repair."""
    point = KillPoint(
        "incremental",
        'pause:after-sql:INSERT INTO "opencx_staging"."insight_history"',
        on_postgres="pause:after-copy:insight_history",
    )
    scn = make_scenario(tmp_path, make_sim, point, destination)
    kill_run(scn, point.trigger(destination))
    kill_run(scn, "pause:merge-committed:insight_history")
    rename_table(destination, schema.HISTORY, "insight_history_away")
    auto_abort = {"LOAD__AUTO_ABORT_ON_TERMINAL_ERROR": "true"} if abort == ABORTED_BY_DLT else {}
    failed = run_to_exit(scn, auto_abort)
    rename_table(destination, "insight_history_away", schema.HISTORY)
    assert failed.returncode != 0
    assert "failed terminally" in failed.stderr, failed.stderr
    if abort == ABORTED_BY_OPERATOR:
        assert pending_packages(scn) != [], "the failed package waits to be loaded again"
        cli_pipeline(tmp_path, destination).abort_packages()
    assert pending_packages(scn) == [], "dlt aborted the resumed package"
    assert doubled_open_versions(destination) > 0, "the resumed load left duplicates to repair"

    scn.sim.config.latency_s = 0.0
    change_while_down(scn)
    assert_converged(scn, run_again(scn, monkeypatch, capsys))
    assert not (scn.pipeline_dir / OWED_MARK).exists(), "the repair ran, so it is owed no more"
