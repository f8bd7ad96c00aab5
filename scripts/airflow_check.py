"""Checks `dags/opencx_insights.py` in a real Airflow 3; run by scripts/airflow_check.sh.

Runs with the Airflow venv's python (Airflow cannot live in the main venv). In a temporary
AIRFLOW_HOME: migrates a SQLite metadata database, creates the shared pool, loads the DagBag
(no import errors; schedules, pool and `max_active_runs` as documented), checks which runs are
backfills, then runs the DAGs with `airflow dags test` against the bundled simulator and reads
the DuckDB file they load:

1. an hourly run triggered with `since`/`until` loads exactly the insights last seen in that
   range and stores no cursor;
2. a plain hourly run loads everything (merging onto the backfill's rows, one open history
   version per insight) and stores the cursor; after either, no staging dataset is left;
3. after an insight is deleted and an old one resolved in the API, the reconciliation DAG marks
   the first deleted and the second resolved, and leaves the cursor where it was;
4. a reconciliation that withholds deletions (more missing insights than it may check) loads
   what it read and then fails its task, as the command exits 6.

Exits non-zero with the first failed check. The temp home, whose path is printed, keeps each
`airflow dags test` log when a check failed and is removed when all pass.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from sources.opencx_simulator import Simulator, SimulatorConfig  # noqa: E402

DAGS_FOLDER = PROJECT_ROOT / "dags"
DAG_FILE = DAGS_FOLDER / "opencx_insights.py"
HOURLY, RECONCILE = "opencx_insights_hourly", "opencx_insights_reconcile"
POOL = "opencx_insights"
API_KEY = "ocx_airflow_check"
N_INSIGHTS = 300
DAG_TEST_TIMEOUT_S = 600


class CheckFailedError(Exception):
    """A check whose expectation did not hold; the message says what and where to look."""


def airflow_environment(home: Path, duckdb_path: Path) -> dict[str, str]:
    """Airflow and connector settings shared by every command: all local, nothing real."""
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "SOURCES__OPENCX__API_KEY": API_KEY,
        "SOURCES__OPENCX__REQUESTS_PER_MINUTE": "0",
        "DESTINATION__DUCKDB__CREDENTIALS": str(duckdb_path),
        "RUNTIME__DLTHUB_TELEMETRY": "false",
    }


def drop_inherited_settings() -> None:
    """Forget connector, dlt and Airflow settings inherited from the caller's shell.

    A real key, a destination or a mode set there must not change the checks, nor send them
    to the real API.
    """
    prefixes = ("SOURCES__", "DESTINATION__", "DLT_", "AIRFLOW", "OPENCX_", "PROVIDERS__")
    for name in [n for n in os.environ if n.startswith(prefixes)]:
        del os.environ[name]


def airflow(*args: str, log: Path | None = None, timeout: float = 300) -> None:
    """Run the venv's `airflow` command; its output goes to `log` (or is shown on failure)."""
    command = [str(Path(sys.executable).parent / "airflow"), *args]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, check=False, env=os.environ
    )
    if log is not None:
        log.write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-30:])
        where = f" (log: {log})" if log else ""
        raise CheckFailedError(
            f"`airflow {' '.join(args)}` exited {result.returncode}{where}\n{tail}"
        )


def check(condition: bool, message: str) -> None:
    """Raise CheckFailedError with `message` unless `condition`."""
    if not condition:
        raise CheckFailedError(message)


@contextmanager
def environment_kept() -> Iterator[None]:
    """Undo what importing the DAG file does to os.environ (dlt's helper sets DLT_* paths)."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def check_dagbag() -> Any:
    """No import errors; both DAGs, on data-interval cron schedules, never overlapping."""
    from airflow.dag_processing.dagbag import DagBag  # noqa: PLC0415

    with environment_kept():
        bag = DagBag(dag_folder=str(DAGS_FOLDER))
    check(not bag.import_errors, f"DAG import errors: {bag.import_errors}")
    check({HOURLY, RECONCILE} <= set(bag.dags), f"DAGs found: {sorted(bag.dags)}")
    crons = {HOURLY: "0 * * * *", RECONCILE: "30 2 * * *"}
    for dag_id, cron in crons.items():
        dag = bag.dags[dag_id]
        timetable = dag.timetable
        check(type(timetable).__name__ == "CronDataIntervalTimetable", f"{dag_id}: {timetable}")
        check(getattr(timetable, "expression", None) == cron, f"{dag_id}: schedule is not {cron}")
        check(dag.max_active_runs == 1, f"{dag_id}: max_active_runs {dag.max_active_runs}")
        check(dag.catchup is False, f"{dag_id}: catchup is on")
        pools = {(task.task_id, task.pool, task.pool_slots) for task in dag.tasks}
        check(
            bool(pools) and all(p == POOL and s == 1 for _, p, s in pools),
            f"{dag_id}: every task must take the one slot of pool {POOL}: {pools}",
        )
    return bag


def load_dag_module() -> Any:
    """The DAG file as a module, for its pure helpers (`load_window`)."""
    import importlib.util  # noqa: PLC0415

    spec = importlib.util.spec_from_file_location("opencx_insights_dag", DAG_FILE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    with environment_kept():
        spec.loader.exec_module(module)
    return module


def check_backfill_window() -> None:
    """Backfill runs load their interval; scheduled and manual runs load incrementally."""
    # the enum a task's `dag_run.run_type` carries in Airflow 3's task SDK
    from airflow.sdk.api.datamodels._generated import DagRunType  # noqa: PLC0415

    load_window = load_dag_module().load_window
    start = datetime(2026, 3, 1, 10, tzinfo=timezone.utc)
    end = start + timedelta(hours=1)

    def context(run_type: DagRunType, **params: Any) -> dict[str, Any]:
        return {
            "dag_run": SimpleNamespace(run_type=run_type),
            "data_interval_start": start,
            "data_interval_end": end,
            "params": {"since": None, "until": None, **params},
        }

    backfill = load_window(context(DagRunType.BACKFILL))
    expected = {"since": start.isoformat(), "until": end.isoformat()}
    check(backfill == expected, f"backfill run loads {backfill}, not its interval {expected}")
    for run_type in (DagRunType.SCHEDULED, DagRunType.MANUAL):
        window = load_window(context(run_type))
        check(window == {}, f"a {run_type.value} run is bounded to {window}")
    given = load_window(context(DagRunType.MANUAL, since="2026-01-01T00:00:00Z"))
    check(given == {"since": "2026-01-01T00:00:00Z"}, f"params since/until ignored: {given}")


def check_duckdb_settings() -> None:
    """The DAGs load DuckDB with the command's bounded memory and threads."""
    from pipelines.destination.duckdb_file import LOAD_SETTINGS  # noqa: PLC0415

    credentials = load_dag_module().destination().config_params["credentials"]
    settings = getattr(credentials, "global_config", None)
    check(settings == LOAD_SETTINGS, f"the DAG's DuckDB loads with {settings}, not {LOAD_SETTINGS}")


def middle_window(insights: list[dict[str, Any]]) -> tuple[str, str, set[str]]:
    """A `[since, until)` range holding about a third of the insights, and their ids."""
    stamps = sorted(insight["last_seen_at"] for insight in insights)
    since, until = stamps[len(stamps) // 3], stamps[2 * len(stamps) // 3]
    inside = {i["id"] for i in insights if since <= i["last_seen_at"] < until}
    return since, until, inside


def query(duckdb_path: Path, sql: str) -> list[tuple[Any, ...]]:
    """Rows of `sql` from the loaded file, opened read-only and closed before the next run."""
    import duckdb  # noqa: PLC0415

    with duckdb.connect(str(duckdb_path), read_only=True) as connection:
        return connection.sql(sql).fetchall()


def stored_cursor(duckdb_path: Path, pipelines_dir: Path) -> Any:
    """The `last_seen_at` cursor as the next run will restore it: from the destination."""
    import dlt  # noqa: PLC0415

    from sources.opencx import stored_cursor as opencx_stored_cursor  # noqa: PLC0415

    pipeline = dlt.pipeline(
        pipeline_name="opencx_insights",
        pipelines_dir=str(pipelines_dir),
        destination=dlt.destinations.duckdb(credentials=str(duckdb_path)),
        dataset_name="opencx",
    )
    pipeline.drop()
    pipeline.sync_destination()
    state: Mapping[str, Any] = pipeline.state
    return opencx_stored_cursor(state)


def run_dag(home: Path, dag_id: str, name: str, conf: dict[str, Any] | None = None) -> float:
    """`airflow dags test` one DAG run; returns its wall time in seconds."""
    started = time.monotonic()
    args = ["dags", "test", dag_id]
    if conf:
        args += ["--conf", json.dumps(conf)]
    airflow(*args, log=home / f"dags-test-{name}.log", timeout=DAG_TEST_TIMEOUT_S)
    took = time.monotonic() - started
    print(f"airflow check: dags test {dag_id} ({name}) passed in {took:.0f} s", flush=True)
    return took


def check_backfill_run(home: Path, sim: Simulator, duckdb_path: Path) -> None:
    """A run triggered with since/until loads that range only and stores no cursor."""
    since, until, inside = middle_window(sim.store.ground_truth())
    run_dag(home, HOURLY, "backfill", {"since": since, "until": until})
    loaded = {row[0] for row in query(duckdb_path, "SELECT id FROM opencx.insights")}
    check(
        loaded == inside,
        f"backfill [{since}, {until}) loaded {len(loaded)} insights, expected {len(inside)}",
    )
    cursor = stored_cursor(duckdb_path, home / "dlt-check")
    check(cursor is None, f"the backfill stored a cursor: {cursor}")
    check_no_staging_dataset(duckdb_path, "backfill")


def check_no_staging_dataset(duckdb_path: Path, name: str) -> None:
    """After a DAG run, as after a command's run, readers see the dataset and nothing else."""
    staged = query(
        duckdb_path,
        "SELECT table_schema, table_name FROM information_schema.tables"
        " WHERE table_schema NOT IN ('opencx', 'information_schema', 'pg_catalog', 'main')",
    )
    check(not staged, f"the {name} DAG run left tables outside the dataset: {staged}")


def check_scheduled_run(home: Path, sim: Simulator, duckdb_path: Path) -> Any:
    """A plain hourly run loads every insight and stores the newest `last_seen_at`."""
    run_dag(home, HOURLY, "hourly")
    truth = sim.store.ground_truth()
    count = query(duckdb_path, "SELECT COUNT(*) FROM opencx.insights")[0][0]
    check(count == len(truth), f"hourly run loaded {count} insights, the API has {len(truth)}")
    doubled = query(
        duckdb_path,
        "SELECT COUNT(*) FROM (SELECT insight_id FROM opencx.insight_history"
        " WHERE valid_to IS NULL GROUP BY insight_id HAVING COUNT(*) > 1)",
    )[0][0]
    check(doubled == 0, f"{doubled} insights have two open history versions after the merge")
    check_no_staging_dataset(duckdb_path, "hourly")
    cursor = stored_cursor(duckdb_path, home / "dlt-check")
    newest = max(datetime.fromisoformat(i["last_seen_at"]) for i in truth)
    check(cursor == newest, f"cursor after the hourly run is {cursor}, expected {newest}")
    return cursor


def check_reconciliation(home: Path, sim: Simulator, duckdb_path: Path, cursor: Any) -> None:
    """The nightly DAG sees what incremental runs cannot: a deletion and an old resolution."""
    oldest_first = sorted(sim.store.ground_truth(), key=lambda i: i["last_seen_at"])
    resolved = next(
        i["id"] for i in oldest_first if i["resolved_at"] is None and i["archived_at"] is None
    )
    deleted = oldest_first[-1]["id"]
    sim.store.resolve(resolved)
    sim.store.delete(deleted)
    run_dag(home, RECONCILE, "reconcile")
    rows = dict(
        query(
            duckdb_path,
            "SELECT id, CASE WHEN deleted_at IS NOT NULL THEN 'deleted' ELSE status END "
            "FROM opencx.insights",
        )
    )
    check(rows.get(deleted) == "deleted", f"deleted insight is {rows.get(deleted)}")
    check(
        rows.get(resolved) == "resolved", f"old insight resolved in the API is {rows.get(resolved)}"
    )
    after = stored_cursor(duckdb_path, home / "dlt-check")
    check(after == cursor, f"the reconciliation moved the cursor: {cursor} -> {after}")


def check_withheld_deletions_fail_the_task(home: Path, sim: Simulator, duckdb_path: Path) -> None:
    """Withheld deletions fail the reconciliation's task after its load committed."""
    live = [i for i in sim.store.ground_truth() if not i["resolved_at"] and not i["archived_at"]]
    resolved, gone = live[0]["id"], [live[1]["id"], live[2]["id"]]
    sim.store.resolve(resolved)
    for insight_id in gone:
        sim.store.delete(insight_id)
    os.environ["SOURCES__OPENCX__MAX_DELETION_CHECKS"] = "1"  # two missing: more than it may ask
    try:
        run_dag(home, RECONCILE, "reconcile-withheld")
    except CheckFailedError as failed:
        log = (home / "dags-test-reconcile-withheld.log").read_text()
        check("deletions were withheld" in log, f"the task failed for another reason: {failed}")
    else:
        raise CheckFailedError("the reconciliation withheld deletions and its task succeeded")
    finally:
        del os.environ["SOURCES__OPENCX__MAX_DELETION_CHECKS"]
    rows = dict(query(duckdb_path, "SELECT id, status FROM opencx.insights"))
    check(rows.get(resolved) == "resolved", f"the failed task did not load: {rows.get(resolved)}")
    marked = query(duckdb_path, "SELECT COUNT(*) FROM opencx.insights WHERE deleted_at IS NOT NULL")
    check(marked[0][0] == 1, f"withheld deletions were marked: {marked[0][0]} deleted in all")
    print("airflow check: withheld deletions fail the reconciliation's task", flush=True)


@contextmanager
def simulator() -> Iterator[Simulator]:
    """The bundled API simulator on 127.0.0.1, its URL exported for the DAG's source."""
    config = SimulatorConfig(seed=11, n_insights=N_INSIGHTS, api_keys={API_KEY: ("*",)})
    with Simulator(config) as sim:
        os.environ["SOURCES__OPENCX__BASE_URL"] = sim.base_url
        yield sim


def run_checks(home: Path) -> None:
    """Every check, in order; the first failure stops the rest."""
    duckdb_path = home / "opencx_airflow.duckdb"
    drop_inherited_settings()
    os.environ.update(airflow_environment(home, duckdb_path))
    started = time.monotonic()
    airflow("db", "migrate", log=home / "db-migrate.log")
    airflow("pools", "set", POOL, "1", "OpenCX loads: one at a time", log=home / "pools.log")
    print(f"airflow check: db migrate + pool in {time.monotonic() - started:.0f} s", flush=True)
    check_dagbag()
    check_backfill_window()
    check_duckdb_settings()
    print(
        "airflow check: DagBag loads, schedules, pool, backfill windows and DuckDB settings ok",
        flush=True,
    )
    with simulator() as sim:
        check_backfill_run(home, sim, duckdb_path)
        cursor = check_scheduled_run(home, sim, duckdb_path)
        check_reconciliation(home, sim, duckdb_path, cursor)
        check_withheld_deletions_fail_the_task(home, sim, duckdb_path)


def main() -> int:
    """Run the checks in a fresh AIRFLOW_HOME; 0 when all pass."""
    home = Path(tempfile.mkdtemp(prefix="opencx-airflow-check-"))
    print(f"airflow check: AIRFLOW_HOME={home}", flush=True)
    try:
        run_checks(home)
    except (CheckFailedError, subprocess.TimeoutExpired) as exc:
        print(f"airflow check FAILED: {exc}", file=sys.stderr)
        return 1
    shutil.rmtree(home, ignore_errors=True)  # kept only when a check failed, for its logs
    print("airflow check: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
