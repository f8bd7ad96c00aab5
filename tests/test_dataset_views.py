"""dlt's own reader reads the dashboard views like the tables, from any working directory.

The reported defect: after `python pipelines/insights.py --demo`, `dlt.attach(
"opencx_insights_demo").dataset()` read the tables but not the views: `SELECT rank,
insight_number FROM top_insights_7d` failed with "Column 'rank' could not be resolved", `SELECT *`
failed, and `ds.table("top_insights_7d")` was "not found". dlt resolves every name and column
against the pipeline's dlt schema, so the views are declared there (`sources/opencx/view_tables`).

The demo is loaded once per warehouse (DuckDB, PostgreSQL) by the command, as the user did; every
check then attaches to it by name from a directory of its own. Counts and columns to compare
with come from plain SQL over the warehouse, never from dlt.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dlt
import pyarrow as pa
import pytest
from dlt.common.schema.utils import has_table_seen_data

from pipelines.load import runner
from sources.opencx.clock import NOW_VARIABLE
from sources.opencx.settings import DEMO_PIPELINE_NAME
from sources.opencx.views import VIEW_NAMES
from sources.opencx_simulator import Simulator
from tests.conftest import SIM_NOW, WAREHOUSES
from tests.docs_support import section
from tests.duckdb_support import ROOT, SCRIPT, cli_env
from tests.helpers import DATASET, Workspace
from tests.postgres_server import PostgresServer
from tests.warehouses import DUCKDB, DuckDBWarehouse, PostgresWarehouse, Warehouse

pytestmark = pytest.mark.warehouses

DEMO_INSIGHTS = 300
# what each engine calls the types the views yield, as dlt names them (data_type, timezone);
# a view yielding another type fails the comparison until it is declared and listed here
NATIVE_TYPES: dict[str, dict[str, tuple[str, bool]]] = {
    DUCKDB: {
        "VARCHAR": ("text", False),
        "BIGINT": ("bigint", False),
        "DOUBLE": ("double", False),
        "DATE": ("date", False),
        "TIMESTAMP WITH TIME ZONE": ("timestamp", True),
    },
    "postgres": {
        "character varying": ("text", False),
        "text": ("text", False),
        "bigint": ("bigint", False),
        "double precision": ("double", False),
        "date": ("date", False),
        "timestamp with time zone": ("timestamp", True),
    },
}


@dataclass(frozen=True)
class Demo:
    """The demo loaded into one warehouse, and what a reader's shell needs to find it."""

    warehouse: Warehouse
    data_dir: Path  # the run's DLT_DATA_DIR

    def reader_env(self) -> dict[str, str]:
        """A reader's settings: dlt's data dir, and the credentials of a server warehouse."""
        settings, _ = self.warehouse.cli_settings()
        server = {} if self.warehouse.name == DUCKDB else settings
        return {"DLT_DATA_DIR": str(self.data_dir), **server}


@pytest.fixture(scope="module", params=WAREHOUSES, ids=WAREHOUSES)
def demo(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Demo]:
    """`python pipelines/insights.py --demo` into the warehouse, once for the module."""
    root = tmp_path_factory.mktemp(f"dataset_views_{request.param}")
    if request.param == DUCKDB:
        yield run_demo(root, DuckDBWarehouse(root / "demo.duckdb"))
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    dsn = server.create_database()
    try:
        yield run_demo(root, PostgresWarehouse(dsn))
    finally:
        server.drop_database(dsn)


def run_demo(root: Path, warehouse: Warehouse) -> Demo:
    settings, args = warehouse.cli_settings()
    if isinstance(warehouse, DuckDBWarehouse):  # the demo writes its own file unless told
        args = ["--duckdb-path", str(warehouse.path)]
    env = {**cli_env(root, **settings), NOW_VARIABLE: SIM_NOW.isoformat()}
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--demo", "--demo-insights", str(DEMO_INSIGHTS), *args],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return Demo(warehouse, root / "dlt_data")


@pytest.fixture
def reader(demo: Demo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dlt.Dataset:
    """What the user typed, in a directory of its own: `dlt.attach(<demo>).dataset()`."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    for name, value in demo.reader_env().items():
        monkeypatch.setenv(name, value)
    return dlt.attach(DEMO_PIPELINE_NAME).dataset()


def real_columns(warehouse: Warehouse, view: str) -> list[tuple[str, str]]:
    """The view's columns and native types, in order, as the engine reports them."""
    _, rows = warehouse.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        f"WHERE table_schema = '{DATASET}' AND table_name = '{view}' ORDER BY ordinal_position"
    )
    return [(str(name), str(data_type)) for name, data_type in rows]


def plain_count(warehouse: Warehouse, view: str) -> int:
    _, rows = warehouse.execute(f"SELECT COUNT(*) FROM {view}")
    count = int(rows[0][0])
    assert count > 0, f"the demo left {view} empty: the comparison would prove nothing"
    return count


def arrow(relation: dlt.Relation) -> pa.Table:
    table = relation.arrow()
    assert table is not None
    return table


@pytest.mark.parametrize("view", VIEW_NAMES)
def test_each_view_reads_as_arrow_with_every_row(
    demo: Demo, reader: dlt.Dataset, view: str
) -> None:
    table = getattr(reader, view).arrow()
    assert table.num_rows == plain_count(demo.warehouse, view)
    assert table.column_names == [name for name, _ in real_columns(demo.warehouse, view)]


@pytest.mark.parametrize("view", VIEW_NAMES)
def test_each_view_answers_select_star_with_its_own_columns(
    demo: Demo, reader: dlt.Dataset, view: str
) -> None:
    table = arrow(reader(f"SELECT * FROM {view}"))
    assert table.num_rows == plain_count(demo.warehouse, view)
    assert table.column_names == [name for name, _ in real_columns(demo.warehouse, view)]


@pytest.mark.parametrize("view", VIEW_NAMES)
def test_each_view_answers_a_query_naming_its_columns(
    demo: Demo, reader: dlt.Dataset, view: str
) -> None:
    names = list(reversed([name for name, _ in real_columns(demo.warehouse, view)]))
    relation = reader(f"SELECT {', '.join(names)} FROM {view}")
    _, expected = demo.warehouse.execute(f"SELECT {', '.join(names)} FROM {view}")
    assert Counter(relation.fetchall()) == Counter(expected)
    typed = {name: column.get("data_type") for name, column in relation.columns_schema.items()}
    assert list(typed) == names
    assert None not in typed.values(), "dlt's reader resolved every column with its type"


def test_the_reported_query_ranks_the_top_insights(demo: Demo, reader: dlt.Dataset) -> None:
    rows = reader("SELECT rank, insight_number FROM top_insights_7d").fetchall()
    _, expected = demo.warehouse.execute("SELECT rank, insight_number FROM top_insights_7d")
    assert sorted(rows) == sorted(expected)
    assert arrow(reader.table("top_insights_7d")).num_rows == len(expected)


@pytest.mark.parametrize("view", VIEW_NAMES)
def test_each_view_is_declared_with_the_columns_and_types_it_yields(
    demo: Demo, reader: dlt.Dataset, view: str
) -> None:
    declared = [
        (name, column.get("data_type"), bool(column.get("timezone")))
        for name, column in reader.schema.get_table_columns(view).items()
    ]
    types = NATIVE_TYPES[demo.warehouse.name]
    real = [(name, *types.get(native, (native, False))) for name, native in real_columns(
        demo.warehouse, view
    )]  # fmt: skip
    assert declared == real


@pytest.mark.parametrize("view", VIEW_NAMES)
def test_a_reader_without_the_pipeline_finds_the_views_in_the_stored_schema(
    demo: Demo, view: str
) -> None:
    dataset = dlt.dataset(demo.warehouse.destination(), DATASET)
    assert arrow(dataset.table(view)).num_rows == plain_count(demo.warehouse, view)


def test_the_documented_way_to_read_the_views_runs(
    demo: Demo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Python block of docs/reading.md's "Views with dlt's reader", run elsewhere."""
    text = section("reading", "Views with dlt's reader")
    code = text.split("```python\n", 1)[1].split("```", 1)[0]
    assert DEMO_PIPELINE_NAME in code
    monkeypatch.chdir(tmp_path)
    for name, value in demo.reader_env().items():
        monkeypatch.setenv(name, value)
    namespace: dict[str, Any] = {}
    exec(compile(code, "docs/reading.md", "exec"), namespace)


# ------------------------------------------------------------- what dlt does with the declaration


def views_kinds(ws: Workspace) -> dict[str, str]:
    """Each view's kind in the destination: it must stay a VIEW, never become a table."""
    _, rows = ws.warehouse.execute(
        "SELECT table_name, table_type FROM information_schema.tables "
        f"WHERE table_schema = '{DATASET}'"
    )
    return {str(name): str(kind) for name, kind in rows if name in VIEW_NAMES}


def test_a_pipeline_loaded_before_the_declaration_reads_the_views_after_its_next_run(
    ws: Workspace, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An upgrade: the views exist in the destination but not in the schema yet; the next run,
    with nothing new, declares them and dlt neither creates nor alters them."""
    with monkeypatch.context() as older_release:
        older_release.setattr(runner, "declare_views", lambda *_args: None)
        ws.load(sim)
    assert not set(VIEW_NAMES) & set(ws.pipeline().dataset().tables)

    dataset = ws.load(sim).dataset()

    for view in VIEW_NAMES:
        assert getattr(dataset, view).arrow().num_rows == ws.count(view)
    assert views_kinds(ws) == dict.fromkeys(VIEW_NAMES, "VIEW")


def test_loads_and_schema_syncs_leave_the_declared_views_as_views(
    ws: Workspace, sim: Simulator
) -> None:
    ws.load(sim)
    sim.store.bump_counts(3)
    pipeline = ws.load(sim)
    assert views_kinds(ws) == dict.fromkeys(VIEW_NAMES, "VIEW")
    tables = pipeline.default_schema.tables
    assert not [view for view in VIEW_NAMES if has_table_seen_data(tables[view])]
    # dlt's explicit migration of every table finds the views with their declared columns
    assert not set(pipeline.sync_schema()) & set(VIEW_NAMES)
    assert views_kinds(ws) == dict.fromkeys(VIEW_NAMES, "VIEW")


def test_a_run_with_nothing_new_leaves_the_schema_and_its_stored_versions_as_they_were(
    ws: Workspace, sim: Simulator
) -> None:
    """Declaring the views again changes nothing: no new schema version, nothing stored."""
    before = ws.load(sim).default_schema.version_hash
    stored = ws.count("_dlt_version")
    after = ws.load(sim).default_schema.version_hash
    assert after == before
    assert ws.count("_dlt_version") == stored


def test_a_destination_without_views_gets_no_view_tables(tmp_path: Path) -> None:
    """Parquet or Delta files keep no views, so dlt must not list them there."""
    from sources.opencx import opencx  # noqa: PLC0415
    from sources.opencx.view_tables import declare_views  # noqa: PLC0415

    source = opencx(api_key="unused", base_url="http://127.0.0.1:9")
    declare_views(source, dlt.destinations.filesystem(bucket_url=tmp_path.as_uri()))
    assert not set(VIEW_NAMES) & set(source.schema.tables)
    declare_views(source, dlt.destinations.duckdb(str(tmp_path / "x.duckdb")))
    assert set(VIEW_NAMES) <= set(source.schema.tables)
