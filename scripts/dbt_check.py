"""Checks the dbt package (`dbt/opencx_insights`) in a real dbt; run by scripts/dbt_check.sh.

Runs with the dbt venv's python (requirements-dbt.lock holds the connector and dbt). On DuckDB
and on PostgreSQL, each freshly loaded from the bundled simulator by the connector's command
(`pipelines/insights.py --activity`, into a new DuckDB file and a new database of a throw-away
PostgreSQL server, under a dataset named by the `opencx_schema` var on PostgreSQL):

1. `dbt build` passes: every source test, every model (the dashboard views' own SQL files,
   built as views in the schema `opencx_dbt`) and every model test;
2. the connector loads again into the warehouse dbt built in (an insight resolved in the API);
3. every model returns the same rows as the connector's view of the same name (EXCEPT ALL both
   ways, same columns in the same order, and rows in every view);
4. `dbt source freshness` passes, measured on `_dlt_loads` and on each fact table (the last
   completed load that wrote rows into it);
5. on DuckDB, every model still answers with the file attached under another name, as the
   connector's views do (the package's macros leave the file's catalog out of the models).

Then on DuckDB, where the data is already checked, planted defects must be caught:

6. an insight copied with its id and another pointed at a category that does not exist fail
   `dbt build` on the sources' unique and relationships tests;
7. the loads aged past the error threshold fail `dbt source freshness`, on every table it
   measures.

Exits non-zero with the first failed check. The work folder, whose path is printed, keeps dbt's
logs and artifacts when a check failed and is removed when all pass.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from sources.opencx.views import VIEW_NAMES  # noqa: E402
from sources.opencx_simulator import Simulator, SimulatorConfig  # noqa: E402
from tests.postgres_server import (  # noqa: E402
    DSN_VARIABLE,
    PostgresServer,
    server_from_environment,
    throwaway_cluster,
)

PACKAGE_DIR = PROJECT_ROOT / "dbt" / "opencx_insights"
COMMAND = PROJECT_ROOT / "pipelines" / "insights.py"
DBT = Path(sys.executable).parent / "dbt"
API_KEY = "ocx_dbt_check"
N_INSIGHTS = 300
MODELS_SCHEMA = "opencx_dbt"
ERROR_HOURS = 48  # dbt_project.yml's opencx_freshness_error_hours
FRESHNESS_MEASURED = {
    f"source.opencx_insights.opencx.{table}"
    for table in ("_dlt_loads", "insights", "insight_history", "insight_activity")
}
STEP_TIMEOUT_S = 600


class CheckFailedError(Exception):
    """A check whose expectation did not hold; the message says what and where to look."""


def check(condition: bool, message: str) -> None:
    """Raise CheckFailedError with `message` unless `condition`."""
    if not condition:
        raise CheckFailedError(message)


@dataclass(frozen=True)
class Warehouse:
    """A freshly loaded warehouse: how the connector, dbt and this check reach it."""

    name: str  # the dbt target
    dataset: str
    duckdb_path: Path | None = None
    dsn: str | None = None

    def load_args(self) -> list[str]:
        """The command's options that name this warehouse."""
        if self.duckdb_path is not None:
            return ["--duckdb-path", str(self.duckdb_path), "--dataset", self.dataset]
        return ["--destination", "postgres", "--dataset", self.dataset]

    def load_env(self) -> dict[str, str]:
        """The connector's destination settings (dlt's own variables)."""
        return {} if self.dsn is None else {"DESTINATION__POSTGRES__CREDENTIALS": self.dsn}

    def dbt_env(self) -> dict[str, str]:
        """What profiles.yml reads: the DuckDB path, or the PostgreSQL connection."""
        if self.duckdb_path is not None:
            return {"OPENCX_DUCKDB_PATH": str(self.duckdb_path)}
        assert self.dsn is not None
        parts = urlsplit(self.dsn)
        return {
            "OPENCX_PG_HOST": parts.hostname or "localhost",
            "OPENCX_PG_PORT": str(parts.port or 5432),
            "OPENCX_PG_USER": parts.username or "",
            "DBT_ENV_SECRET_OPENCX_PG_PASSWORD": parts.password or "",
            "OPENCX_PG_DATABASE": parts.path.lstrip("/"),
        }

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """Rows of `sql`, on a connection closed before dbt or the connector opens the file."""
        if self.duckdb_path is not None:
            import duckdb  # noqa: PLC0415

            with duckdb.connect(str(self.duckdb_path)) as connection:
                return connection.execute(sql).fetchall()
        import psycopg2  # noqa: PLC0415

        connection = psycopg2.connect(self.dsn)
        try:
            with connection, connection.cursor() as cursor:
                cursor.execute(sql)
                return cursor.fetchall() if cursor.description else []
        finally:
            connection.close()


def drop_inherited_settings() -> None:
    """Forget connector, dlt and dbt settings inherited from the caller's shell.

    A real key, a destination or a profile set there must not change the checks, nor send them
    to the real API or a real warehouse.
    """
    prefixes = ("SOURCES__", "DESTINATION__", "DLT_", "OPENCX_", "DBT_", "RUNTIME__")
    for name in [n for n in os.environ if n.startswith(prefixes) and n != DSN_VARIABLE]:
        del os.environ[name]


def run(command: list[str], env: dict[str, str], log: Path) -> subprocess.CompletedProcess[str]:
    """Run a command with `env` added; its output goes to `log`."""
    result = subprocess.run(
        command,
        env={**os.environ, **env},
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT_S,
        check=False,
    )
    log.write_text(result.stdout + result.stderr)
    return result


def tail(result: subprocess.CompletedProcess[str], log: Path) -> str:
    lines = (result.stdout + result.stderr).splitlines()[-25:]
    return f"(log: {log})\n" + "\n".join(lines)


def load(sim: Simulator, warehouse: Warehouse, work: Path, name: str, *options: str) -> None:
    """One run of the connector's command, as a user schedules it, into `warehouse`."""
    started = time.monotonic()
    env = {
        **warehouse.load_env(),
        "SOURCES__OPENCX__API_KEY": API_KEY,
        "DLT_DATA_DIR": str(work / f"dlt-{warehouse.name}"),
        "OPENCX_NOW": sim.clock.now().isoformat(),
    }
    args = ["--activity", "--base-url", sim.base_url, "--requests-per-minute", "0", *options]
    log = work / f"load-{warehouse.name}-{name}.log"
    result = run([sys.executable, str(COMMAND), *args, *warehouse.load_args()], env, log)
    check(result.returncode == 0, f"{warehouse.name}: load {name} failed {tail(result, log)}")
    took = time.monotonic() - started
    print(f"dbt check: {warehouse.name}: load {name} in {took:.0f} s", flush=True)


def dbt(warehouse: Warehouse, work: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`dbt <args>` on the package, against `warehouse`; artifacts in the work folder."""
    started = time.monotonic()
    variables = json.dumps({"opencx_schema": warehouse.dataset})
    command = [
        str(DBT),
        *args,
        "--project-dir",
        str(PACKAGE_DIR),
        "--profiles-dir",
        str(PACKAGE_DIR),
        "--target",
        warehouse.name,
        "--target-path",
        str(artifacts(warehouse, work)),
        "--log-path",
        str(work / f"dbt-logs-{warehouse.name}"),
        "--vars",
        variables,
    ]
    log = dbt_log(warehouse, work, args)
    result = run(command, {**warehouse.dbt_env(), "DBT_USE_COLORS": "false"}, log)
    took = time.monotonic() - started
    print(f"dbt check: {warehouse.name}: dbt {' '.join(args)} exited {result.returncode}", end="")
    print(f" in {took:.0f} s", flush=True)
    return result


def dbt_log(warehouse: Warehouse, work: Path, args: tuple[str, ...]) -> Path:
    """Where a dbt command's output is kept."""
    return work / f"dbt-{warehouse.name}-{'-'.join(args).replace(':', '_')}.log"


def artifacts(warehouse: Warehouse, work: Path) -> Path:
    """The target folder of `warehouse` (one per warehouse: partial parsing carries over)."""
    return work / f"dbt-target-{warehouse.name}"


def dbt_passes(warehouse: Warehouse, work: Path, *args: str) -> None:
    """`dbt <args>` exits 0."""
    result = dbt(warehouse, work, *args)
    log = dbt_log(warehouse, work, args)
    where = f"{warehouse.name}: dbt {' '.join(args)}"
    check(result.returncode == 0, f"{where} failed {tail(result, log)}")


def check_build_and_tests(warehouse: Warehouse, work: Path) -> None:
    """`dbt build` passes, and it built every dashboard view as a model, with tests."""
    dbt_passes(warehouse, work, "build")
    ids = [r["unique_id"] for r in results_of(warehouse, work, "run_results.json")]
    models = {i.rsplit(".", 1)[1] for i in ids if i.startswith("model.")}
    check(models == set(VIEW_NAMES), f"{warehouse.name}: models built {sorted(models)}")
    tests = [i.split(".")[2] for i in ids if i.startswith("test.")]
    on_models = [name for name in tests if not name.startswith("source_")]
    check(bool(on_models), f"{warehouse.name}: no test of a model ran, of {len(tests)}")
    built = warehouse.query(
        "SELECT table_name FROM information_schema.views "  # noqa: S608 - constants
        f"WHERE table_schema = '{MODELS_SCHEMA}'"
    )
    names = {row[0] for row in built}
    check(names == set(VIEW_NAMES), f"{warehouse.name}: views in {MODELS_SCHEMA}: {names}")
    print(f"dbt check: {warehouse.name}: {len(models)} models and {len(tests)} tests passed")


def results_of(warehouse: Warehouse, work: Path, artifact: str) -> list[dict[str, Any]]:
    """The `results` of a dbt artifact of the last command on `warehouse`."""
    document = json.loads((artifacts(warehouse, work) / artifact).read_text(encoding="utf-8"))
    results: list[dict[str, Any]] = document["results"]
    return results


def columns_of(warehouse: Warehouse, schema_name: str, relation: str) -> list[str]:
    rows = warehouse.query(
        "SELECT column_name FROM information_schema.columns "  # noqa: S608 - constants
        f"WHERE table_schema = '{schema_name}' AND table_name = '{relation}' "
        "ORDER BY ordinal_position"
    )
    return [row[0] for row in rows]


def check_models_equal_views(warehouse: Warehouse) -> None:
    """Each model returns exactly the rows of the connector's view of the same name."""
    for view in VIEW_NAMES:
        model, connector = f"{MODELS_SCHEMA}.{view}", f"{warehouse.dataset}.{view}"
        model_columns = columns_of(warehouse, MODELS_SCHEMA, view)
        view_columns = columns_of(warehouse, warehouse.dataset, view)
        check(
            model_columns == view_columns,
            f"{warehouse.name}: {view} columns differ: model {model_columns}, view {view_columns}",
        )
        only_model, only_view, rows = warehouse.query(
            f"SELECT (SELECT COUNT(*) FROM (SELECT * FROM {model} EXCEPT ALL "  # noqa: S608
            f"SELECT * FROM {connector}) a), (SELECT COUNT(*) FROM (SELECT * FROM {connector} "
            f"EXCEPT ALL SELECT * FROM {model}) b), (SELECT COUNT(*) FROM {connector})"
        )[0]
        check(rows > 0, f"{warehouse.name}: the view {view} is empty: nothing compared")
        check(
            only_model == 0 and only_view == 0,
            f"{warehouse.name}: {view}: {only_model} rows only in the model, "
            f"{only_view} only in the connector's view (of {rows})",
        )
    print(f"dbt check: {warehouse.name}: {len(VIEW_NAMES)} models equal the connector's views")


def check_warehouse(sim: Simulator, warehouse: Warehouse, work: Path) -> None:
    """Load, build, load again, compare, freshness: everything a user runs, on one warehouse."""
    load(sim, warehouse, work, "first")
    check_build_and_tests(warehouse, work)
    sim.store.resolve(open_insight(sim))  # seen by a reconciliation, the nightly run
    load(sim, warehouse, work, "reconcile", "--full-refresh")
    check_models_equal_views(warehouse)
    dbt_passes(warehouse, work, "source", "freshness")
    measured = {r["unique_id"] for r in results_of(warehouse, work, "sources.json")}
    check(measured == FRESHNESS_MEASURED, f"{warehouse.name}: freshness measured on {measured}")
    if warehouse.duckdb_path is not None:
        check_models_answer_under_another_name(warehouse.duckdb_path)


def check_models_answer_under_another_name(path: Path) -> None:
    """The file attached as `renamed`: every model still finds the tables it reads."""
    import duckdb  # noqa: PLC0415

    with duckdb.connect() as connection:
        connection.execute(f"ATTACH '{path}' AS renamed (READ_ONLY)")
        for view in VIEW_NAMES:
            try:
                connection.execute(f"SELECT COUNT(*) FROM renamed.{MODELS_SCHEMA}.{view}")  # noqa: S608
            except duckdb.Error as exc:
                raise CheckFailedError(f"duckdb: {view} fails in a renamed file: {exc}") from None
    print("dbt check: duckdb: every model answers in the file attached under another name")


def open_insight(sim: Simulator) -> str:
    """An insight the API shows unresolved, to resolve between two loads."""
    return next(
        i["id"]
        for i in sim.store.ground_truth()
        if i["resolved_at"] is None and i["archived_at"] is None
    )


def failed_nodes(warehouse: Warehouse, work: Path, artifact: str) -> set[str]:
    """Nodes an artifact reports failed (`fail` for tests, `error` for freshness)."""
    results = results_of(warehouse, work, artifact)
    return {r["unique_id"] for r in results if r["status"] in {"fail", "error"}}


def check_planted_defects_fail(warehouse: Warehouse, work: Path) -> None:
    """A duplicated id and a dangling category fail the build; aged loads fail freshness."""
    dataset = warehouse.dataset
    warehouse.query(
        f"INSERT INTO {dataset}.insights SELECT * FROM {dataset}.insights "  # noqa: S608
        "WHERE insight_number = (SELECT MIN(insight_number) FROM "
        f"{dataset}.insights)"
    )
    warehouse.query(
        f"UPDATE {dataset}.insights SET category_id = 'no-such-category' "  # noqa: S608
        f"WHERE insight_number = (SELECT MAX(insight_number) FROM {dataset}.insights)"
    )
    result = dbt(warehouse, work, "build", "--select", "source:opencx")
    check(result.returncode != 0, f"{warehouse.name}: dbt build passed over planted defects")
    failed = failed_nodes(warehouse, work, "run_results.json")
    expected = (
        "source_unique_opencx_insights_id",
        "source_relationships_opencx_insights_category_id__id__source_opencx_categories_",
    )
    names = {node.split(".")[2] for node in failed}
    check(set(expected) <= names, f"{warehouse.name}: the build failed on {sorted(names)}")
    print(f"dbt check: {warehouse.name}: planted defects fail dbt build ({len(failed)} tests)")

    aged = f"inserted_at - INTERVAL '{ERROR_HOURS + 1} hours'"
    warehouse.query(f"UPDATE {dataset}._dlt_loads SET inserted_at = {aged}")  # noqa: S608
    result = dbt(warehouse, work, "source", "freshness")
    check(result.returncode != 0, f"{warehouse.name}: dbt source freshness passed on aged loads")
    stale = failed_nodes(warehouse, work, "sources.json")
    check(stale == FRESHNESS_MEASURED, f"{warehouse.name}: freshness failed on {sorted(stale)}")
    print(f"dbt check: {warehouse.name}: loads {ERROR_HOURS + 1} h old fail dbt source freshness")


@contextlib.contextmanager
def simulator() -> Iterator[Simulator]:
    """The bundled API simulator on 127.0.0.1, with per-day session counts for the views."""
    config = SimulatorConfig(
        seed=19, n_insights=N_INSIGHTS, api_keys={API_KEY: ("*",)}, window_scoped_counts=True
    )
    with Simulator(config) as sim:
        yield sim


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """$OPENCX_TEST_POSTGRES_DSN's server, else a throw-away cluster (as the tests do)."""
    given = server_from_environment()
    if given is not None:
        yield given
        return
    with throwaway_cluster() as started:
        yield started


def run_checks(work: Path) -> None:
    """Every check, in order; the first failure stops the rest."""
    with simulator() as sim, postgres_server() as server:
        duckdb_warehouse = Warehouse("duckdb", "opencx", duckdb_path=work / "opencx_check.duckdb")
        check_warehouse(sim, duckdb_warehouse, work)
        dsn = server.create_database()
        try:
            check_warehouse(sim, Warehouse("postgres", "support", dsn=dsn), work)
        finally:
            server.drop_database(dsn)
        check_planted_defects_fail(duckdb_warehouse, work)


def main() -> int:
    """Run the checks in a fresh work folder; 0 when all pass."""
    work = Path(tempfile.mkdtemp(prefix="opencx-dbt-check-"))
    print(f"dbt check: work folder {work}", flush=True)
    drop_inherited_settings()
    try:
        run_checks(work)
    except (CheckFailedError, subprocess.TimeoutExpired) as exc:
        print(f"dbt check FAILED: {exc}", file=sys.stderr)
        return 1
    shutil.rmtree(work, ignore_errors=True)  # kept only when a check failed, for its logs
    print("dbt check: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
