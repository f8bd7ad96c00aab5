"""Where a measured connector run loads, and what the bench reads back from there.

DuckDB (a file per state directory) and PostgreSQL (a database per state directory, on the
server ``tests/postgres_server.py`` finds or starts) answer the same questions: the command line
and environment that point ``pipelines/insights.py`` at them, the loaded ids, and dlt's state as
stored there. Reads use a connection of their own, after the run, so they see what was committed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import duckdb

from bench.harness import PY, Bench
from bench.simproc import SimProcess

DATASET = "opencx"
PIPELINE = "opencx_insights"  # sources.opencx.settings.PIPELINE_NAME, without importing dlt
FINGERPRINTS = "fingerprints"  # sources.opencx.fingerprints.STATE_KEY
Rows = list[tuple[Any, ...]]


class Destination(Protocol):
    """A warehouse the connector loads into during a case."""

    @property
    def name(self) -> str:
        """`duckdb` or `postgres`, as `--destination` spells it."""
        ...

    def argv(self, sim: SimProcess, state_dir: Path) -> list[str]:
        """The connector's command line, as users schedule it."""
        ...

    def env(self, state_dir: Path) -> dict[str, str]:
        """The connector's environment (bench key, no pacing, this destination's credentials)."""
        ...

    def query(self, state_dir: Path, sql: str) -> Rows:
        """Rows of `sql` on a connection of its own (read only)."""
        ...


@dataclass(frozen=True)
class DuckDBDestination:
    """The default: `--duckdb-path` names a file in the run's state directory."""

    name: str = "duckdb"

    def argv(self, sim: SimProcess, state_dir: Path) -> list[str]:
        return Bench.connector_argv(sim, state_dir)

    def env(self, state_dir: Path) -> dict[str, str]:
        return Bench.connector_env(state_dir)

    def query(self, state_dir: Path, sql: str) -> Rows:
        con = duckdb.connect(str(state_dir / "connector.duckdb"), read_only=True)
        try:
            return list(con.execute(sql).fetchall())
        finally:
            con.close()


class PostgresDestination:
    """`--destination postgres`, each state directory with a database of its own."""

    name = "postgres"

    def __init__(self, server: Any) -> None:
        # tests.postgres_server.PostgresServer; imported lazily (psycopg2) by `postgres_server`
        self._server = server
        self._databases: dict[Path, str] = {}

    def dsn(self, state_dir: Path) -> str:
        """The run's database, created on first use: every setup load starts empty."""
        if state_dir not in self._databases:
            self._databases[state_dir] = str(self._server.create_database())
        return self._databases[state_dir]

    def argv(self, sim: SimProcess, state_dir: Path) -> list[str]:
        del state_dir  # the database comes from the environment
        base = [PY, "pipelines/insights.py", "--base-url", sim.base_url]
        return [*base, "--destination", self.name]

    def env(self, state_dir: Path) -> dict[str, str]:
        env = Bench.connector_env(state_dir)
        env["DESTINATION__POSTGRES__CREDENTIALS"] = self.dsn(state_dir)
        return env

    def query(self, state_dir: Path, sql: str) -> Rows:
        import psycopg2  # noqa: PLC0415 - only the PostgreSQL cases need it

        connection = psycopg2.connect(self.dsn(state_dir))
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql)
                return list(cursor.fetchall())
        finally:
            connection.rollback()  # a read: never commit anything
            connection.close()

    def drop_all(self) -> None:
        """Drop every database this destination created (a server from the environment stays)."""
        for dsn in self._databases.values():
            self._server.drop_database(dsn)
        self._databases.clear()


@contextmanager
def postgres_server() -> Iterator[PostgresDestination]:
    """PostgreSQL for a case: `OPENCX_TEST_POSTGRES_DSN`'s server, else a throw-away cluster.

    Raises `tests.postgres_server.PostgresUnavailableError` (its message says why: not
    installed, or installed and not starting) for the case to report as skipped.
    """
    from tests.postgres_server import (  # noqa: PLC0415 - psycopg2, only for these cases
        server_from_environment,
        throwaway_cluster,
    )

    server = server_from_environment()
    if server is not None:
        destination = PostgresDestination(server)
        try:
            yield destination
        finally:
            destination.drop_all()
        return
    with throwaway_cluster() as cluster:
        yield PostgresDestination(cluster)


def loaded_ids(dest: Destination, state_dir: Path) -> tuple[int, set[str]]:
    """Row count and distinct ids of the loaded insights."""
    rows = dest.query(state_dir, f"SELECT id FROM {DATASET}.insights")
    return len(rows), {str(r[0]) for r in rows}


def _moment(value: object) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def bumped_loaded(dest: Destination, state_dir: Path, ids: list[str], after: str) -> int:
    """How many of `ids` are loaded with a `last_seen_at` after `after` (their new occurrence)."""
    wanted, bound = set(ids), _moment(after)
    rows = dest.query(state_dir, f"SELECT id, last_seen_at FROM {DATASET}.insights")
    return len({str(i) for i, seen in rows if str(i) in wanted and _moment(seen) > bound})


@dataclass(frozen=True)
class StateSize:
    """dlt's pipeline state after a load, as dlt stores it, in bytes.

    `local_bytes`: the pipeline's `state.json` under `DLT_DATA_DIR` (JSON, rewritten by every
    run). `row_bytes`: the newest `_dlt_pipeline_state` row's `state` (zlib + base64, what a
    fresh machine restores from). dlt appends a row for every load that changed the state, so the
    table holds `table_rows` rows and `table_bytes` in all. `fingerprints`: the insights whose
    fingerprint the state keeps (those within the lookback window; `sources.opencx.fingerprints`).
    """

    local_bytes: int
    row_bytes: int
    table_rows: int
    table_bytes: int
    fingerprints: int

    def as_extra(self) -> dict[str, int]:
        """Plain data for a run record's `extra`."""
        return {f"state_{k}": v for k, v in asdict(self).items()}


def _fingerprints(state: dict[str, Any]) -> int:
    """Entries under every resource's fingerprints key."""
    sources = state.get("sources", {})
    return sum(
        len(resource.get(FINGERPRINTS) or {})
        for source in sources.values()
        for resource in source.get("resources", {}).values()
    )


def state_size(dest: Destination, state_dir: Path) -> StateSize:
    """dlt's state of the connector's pipeline in `state_dir` and in its destination."""
    local = state_dir / "dlt" / "pipelines" / PIPELINE / "state.json"
    text = local.read_text(encoding="utf-8") if local.exists() else "{}"
    rows = dest.query(
        state_dir,
        f"SELECT version, state FROM {DATASET}._dlt_pipeline_state "
        f"WHERE pipeline_name = '{PIPELINE}' ORDER BY version",
    )
    sizes = [len(str(r[1]).encode()) for r in rows]
    return StateSize(
        local_bytes=len(text.encode()),
        row_bytes=sizes[-1] if sizes else 0,
        table_rows=len(sizes),
        table_bytes=sum(sizes),
        fingerprints=_fingerprints(json.loads(text)),
    )
