"""Shared test helpers: running the pipeline in-process against the simulator, reading the
warehouse (DuckDB or PostgreSQL), and the expected rows computed independently from the
simulator's ground truth."""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import dlt
import pytest
from dlt.pipeline.pipeline import Pipeline

from pipelines.load.runner import run_catching_up
from sources.opencx import stored_cursor
from sources.opencx.batches import ScanStats
from sources.opencx.clock import NOW_VARIABLE
from sources.opencx_simulator import Simulator
from sources.opencx_simulator.server import Reply
from tests.warehouses import DuckDBWarehouse, Warehouse

TEST_KEY = "ocx_test_SECRET_5f1c2a9e"
SCOPELESS_KEY = "ocx_test_noscope_77aa"
PIPELINE = "opencx_test"
DATASET = "opencx"
TABLES = ("insights", "categories", "teams", "people")


@contextlib.contextmanager
def on_clock_of(sim: Simulator) -> Iterator[None]:
    """The connector takes the simulator's time as now while the block runs: one clock for the
    API and the connector, however far a test moved the simulator's."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv(NOW_VARIABLE, sim.clock.now().isoformat())
        yield


class Workspace:
    """A pipeline's working dir under pytest's tmp_path, and the warehouse it loads into.

    The warehouse is a DuckDB file beside the working dir unless a test passes another one
    (the `destination` fixture does); every read goes through it, so a test reads DuckDB and
    PostgreSQL alike.
    """

    def __init__(self, root: Path, warehouse: Warehouse | None = None) -> None:
        self.root = root
        self.warehouse: Warehouse = warehouse if warehouse else DuckDBWarehouse(self.db)

    @property
    def db(self) -> Path:
        """The DuckDB file (of DuckDB workspaces; DuckDB-only tests open it themselves)."""
        return self.root / "warehouse.duckdb"

    @property
    def pipelines_dir(self) -> Path:
        return self.root / "pipelines"

    def pipeline(self, name: str = PIPELINE) -> Pipeline:
        return dlt.pipeline(
            pipeline_name=name,
            pipelines_dir=str(self.pipelines_dir),
            destination=self.warehouse.destination(),
            dataset_name=DATASET,
        )

    def load(self, sim: Simulator, **source_args: Any) -> Pipeline:
        """Run one load in-process with fast retries and no pacing."""
        self.load_with_stats(sim, **source_args)
        return self.pipeline()

    def load_with_stats(self, sim: Simulator, **source_args: Any) -> ScanStats:
        """`load`, returning what the run's scans counted."""
        args: dict[str, Any] = {
            "api_key": TEST_KEY,
            "requests_per_minute": 0,
            "backoff_base_seconds": 0.001,
            "max_attempts": 6,
            **source_args,
        }
        if "base_url" not in args:
            args["base_url"] = sim.base_url
        with on_clock_of(sim):
            return run_catching_up(self.pipeline(), args)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """Rows of `sql` against the dataset (tables unqualified)."""
        return self.warehouse.execute(sql)[1]

    def rows(self, table: str, order_by: str = "1") -> list[dict[str, Any]]:
        names, rows = self.warehouse.execute(f"SELECT * FROM {table} ORDER BY {order_by}")
        return [dict(zip(names, row, strict=True)) for row in rows]

    def count(self, table: str) -> int:
        return int(self.query(f"SELECT COUNT(*) FROM {table}")[0][0])

    def tables(self) -> set[str]:
        """Tables in the dataset; empty when nothing was ever committed."""
        return self.warehouse.tables()


def merged_tables(pipeline: Pipeline, load_id: str | None = None) -> set[str]:
    """Tables a completed load (the newest by default) merged from a staging copy.

    dlt's merge (and scd2) of a table is an SQL job over the table's copy in the staging
    dataset; a table loaded straight into the dataset (append) has none.
    """
    load_id = load_id or max(pipeline.list_completed_load_packages())
    jobs = pipeline.get_load_package_info(load_id).jobs["completed_jobs"]
    return {job.job_file_info.table_name for job in jobs if job.job_file_info.file_format == "sql"}


def cursor_of(pipeline: Pipeline) -> Any:
    """The stored cursor (where dlt keeps it: tests/test_internals_contract.py)."""
    cursor = stored_cursor(pipeline.state)
    assert cursor is not None, "no cursor stored"
    return cursor


def ts(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def person_key(person: Mapping[str, Any] | None) -> str | None:
    """The documented rule, re-implemented here so the test does not trust the code under test."""
    if not person or (person.get("name") is None and person.get("avatar_url") is None):
        return None
    raw = f"{person.get('name') or ''}\x1f{person.get('avatar_url') or ''}"
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def expected_insight(item: Mapping[str, Any]) -> dict[str, Any]:
    """What the `insights` table must hold for one API item."""
    archived_by = item.get("archived_by") or {}
    if item.get("archived_at"):
        status = "archived"
    elif item.get("resolved_at"):
        status = "resolved"
    else:
        status = "unresolved"
    return {
        "id": item["id"],
        "insight_number": item["insight_number"],
        "content": item["content"],
        "sentiment": item["sentiment"],
        "status": status,
        "occurrence_count": item["occurrence_count"],
        "category_id": (item.get("category") or {}).get("id"),
        "team_id": (item.get("team") or {}).get("id"),
        "resolved_by_key": person_key(item.get("resolved_by")),
        "resolved_at": ts(item.get("resolved_at")),
        "archived_by_key": person_key(item.get("archived_by")),
        "archived_at": ts(item.get("archived_at")),
        "archive_reason": archived_by.get("reason"),
        "deep_research": item.get("deep_research"),
        "deep_research_completed_at": ts(item.get("deep_research_completed_at")),
        "first_seen_at": ts(item.get("first_seen_at")),
        "last_seen_at": ts(item.get("last_seen_at")),
        "created_at": ts(item.get("created_at")),
        "updated_at": ts(item.get("updated_at")),
        "deleted_at": None,
    }


def loaded_insights(ws: Workspace) -> dict[str, dict[str, Any]]:
    columns = list(expected_insight_columns())
    out = {}
    for row in ws.rows("insights"):
        out[row["id"]] = {c: row[c] for c in columns}
    return out


def expected_insight_columns() -> Iterator[str]:
    yield from expected_insight(
        {"id": "x", "insight_number": 1, "content": "", "sentiment": "", "occurrence_count": 1}
    ).keys()


def expected_entities(items: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """categories / teams / people the tables must hold after loading `items`."""
    categories, teams, people = {}, {}, {}
    for item in items:
        if item.get("category"):
            categories[item["category"]["id"]] = dict(item["category"])
        if item.get("team"):
            teams[item["team"]["id"]] = dict(item["team"])
        for field in ("resolved_by", "archived_by"):
            person = item.get(field)
            key = person_key(person)
            if key and person:
                people[key] = {
                    "person_key": key,
                    "name": person.get("name"),
                    "avatar_url": person.get("avatar_url"),
                }
    return {"categories": categories, "teams": teams, "people": people}


def insight_requests(sim: Simulator) -> list[Any]:
    return [r for r in sim.requests if r.method == "POST" and r.path == "/insights"]


def pages_needed(k: int, page_size: int) -> int:
    return math.ceil(k / page_size) if k else 0


def within_lookback(items: list[dict[str, Any]], cursor: datetime, hours: float) -> int:
    """K: insights whose last_seen_at is at or above the cursor minus the lookback."""
    threshold = cursor - timedelta(hours=hours)
    seen = [ts(i.get("last_seen_at")) for i in items]
    return sum(1 for moment in seen if moment is not None and moment >= threshold)


def answer_get_with(
    monkeypatch: pytest.MonkeyPatch, sim: Simulator, status: int, body: dict[str, Any]
) -> None:
    """Make the simulator answer every GET /insights/{id} with this status and body."""
    original = sim._endpoint

    def endpoint(route: tuple[str, str], *args: Any) -> Reply:
        if route[0] not in {"list", "categories"}:
            return Reply(status, json.dumps(body).encode())
        return original(route, *args)

    monkeypatch.setattr(sim, "_endpoint", endpoint)
