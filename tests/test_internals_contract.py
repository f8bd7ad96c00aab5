"""One test per assumption `sources/opencx/internals.py` makes about dlt's and DuckDB's internals.

Each test is named after its assumption and exercises dlt or DuckDB directly (a throw-away
pipeline, a real DuckDB file), not the connector, so a release that changes one fails here by
name before anything else does.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import dlt
import duckdb
import pytest
from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials

from sources.opencx import internals

SOURCE, RESOURCE, CURSOR = "contract_probe", "pages", "seen"


def probe_pipeline(tmp_path: Path, name: str = "contract") -> dlt.Pipeline:
    return dlt.pipeline(
        name,
        pipelines_dir=str(tmp_path / "pipelines"),
        destination=dlt.destinations.duckdb(str(tmp_path / "contract.duckdb")),
        dataset_name="probe",
    )


def cursor_source(values: list[int], seen_by_the_run: list[Any] | None = None) -> Any:
    """A source whose one resource has an incremental on `seen` over `values`.

    `seen_by_the_run` gets the cursor as the source reads it from its own state while it runs.
    """

    @dlt.source(name=SOURCE)
    def contract_probe() -> Any:
        @dlt.resource(name=RESOURCE)
        def pages(seen: Any = dlt.sources.incremental(CURSOR)) -> Iterator[list[dict[str, int]]]:
            if seen_by_the_run is not None:
                state = internals.resource_state_in_source(dlt.current.source_state(), RESOURCE)
                seen_by_the_run.append(internals.incremental_last_value(state, CURSOR))
            yield [{CURSOR: value} for value in values]

        return pages

    return contract_probe()


def test_an_incremental_cursor_is_kept_at_sources_resources_incremental_last_value(
    tmp_path: Path,
) -> None:
    pipeline = probe_pipeline(tmp_path)
    pipeline.run(cursor_source([3, 5, 4]))

    stored = internals.resource_state(pipeline.state, SOURCE, RESOURCE)
    assert internals.incremental_last_value(stored, CURSOR) == 5
    seen_by_the_run: list[Any] = []
    pipeline.run(cursor_source([6], seen_by_the_run))
    assert seen_by_the_run == [5]  # what the source itself reads from `dlt.current`


def test_the_local_state_is_state_json_in_the_pipelines_folder_and_reads_as_pipeline_state(
    tmp_path: Path,
) -> None:
    assert Path(dlt.pipeline("default_dir_probe").pipelines_dir) == internals.pipelines_dir()
    pipeline = probe_pipeline(tmp_path)
    pipeline.run(cursor_source([7]))

    path = internals.local_state_path(pipeline.pipeline_name, tmp_path / "pipelines")
    assert path == Path(pipeline.working_dir) / internals.LOCAL_STATE_FILE
    assert internals.read_local_state(path) == pipeline.state
    assert internals.read_local_state(tmp_path / "absent" / "state.json") is None


def test_scd2_opens_a_version_valid_from_the_load_packages_creation_time(
    tmp_path: Path,
) -> None:
    created: list[datetime] = []

    def remember_package_creation(row: dict[str, Any]) -> dict[str, Any]:
        created.append(internals.package_created_at())
        return row

    @dlt.resource(
        name="versions",
        write_disposition={
            "disposition": "merge",
            "strategy": "scd2",
            "validity_column_names": ["valid_from", "valid_to"],
        },
    )
    def versions() -> Iterator[dict[str, Any]]:
        yield from ({"key": key, "value": 1} for key in ("a", "b"))

    pipeline = probe_pipeline(tmp_path)
    pipeline.run(versions().add_map(remember_package_creation))

    with pipeline.sql_client() as client:
        rows = client.execute_sql("SELECT DISTINCT valid_from, valid_to FROM versions")
    assert len(set(created)) == 1
    assert rows == [(created[0], None)]


def test_sql_destinations_have_sql_job_clients_and_the_filesystem_has_not(tmp_path: Path) -> None:
    assert internals.runs_sql(dlt.destinations.duckdb(str(tmp_path / "f.duckdb")))
    assert internals.runs_sql(dlt.destinations.postgres("postgresql://u:p@localhost/db"))
    lake = dlt.destinations.filesystem(bucket_url=tmp_path.as_uri())
    assert not internals.runs_sql(lake)
    assert not internals.has_sql_client(lake.client_class)
    assert not internals.runs_sql(None)


def test_the_filesystem_destination_type_is_filesystem_type_under_any_name(
    tmp_path: Path,
) -> None:
    plain = dlt.destinations.filesystem(bucket_url=tmp_path.as_uri())
    named = dlt.destinations.filesystem(bucket_url=tmp_path.as_uri(), destination_name="lake")
    assert plain.destination_type == named.destination_type == internals.FILESYSTEM_TYPE
    assert dlt.destinations.duckdb().destination_type != internals.FILESYSTEM_TYPE


def test_dlt_opens_the_duckdb_file_recorded_in_local_state_under_duckdb_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # where dlt would create a stray file if it did not find ours
    db = tmp_path / "elsewhere" / "loaded.duckdb"
    db.parent.mkdir()
    pipeline = dlt.pipeline(
        "readers_probe",
        pipelines_dir=str(tmp_path / "pipelines"),
        destination=dlt.destinations.duckdb(str(db)),
        dataset_name="probe",
    )
    pipeline.run([{"id": 1}], table_name="items")
    pipeline.set_local_state_val(internals.DUCKDB_FILE_STATE_KEY, str(db))

    attached = dlt.attach("readers_probe", pipelines_dir=str(tmp_path / "pipelines"))
    with attached.sql_client() as client:
        assert client.execute_sql("SELECT id FROM items") == [(1,)]
    assert not list(tmp_path.glob("*.duckdb"))


def test_dlt_connects_to_duckdb_with_custom_user_agent_as_its_only_connect_option(
    tmp_path: Path,
) -> None:
    db = tmp_path / "held.duckdb"
    global_config = {"custom_user_agent": "opencx-contract", "threads": 1, "memory_limit": "64MB"}
    options = internals.duckdb_connect_options(global_config)
    assert options == {"custom_user_agent": "opencx-contract"}
    credentials = DuckDbCredentials(str(db), global_config=global_config)
    with duckdb.connect(str(db), config=options) as held:
        pipeline = dlt.pipeline(
            "held_probe",
            pipelines_dir=str(tmp_path / "pipelines"),
            destination=dlt.destinations.duckdb(credentials),
            dataset_name="probe",
        )
        pipeline.run([{"id": 1}, {"id": 2}], table_name="items")  # joins the open database
        assert held.execute("SELECT COUNT(*) FROM probe.items").fetchall() == [(2,)]


HOLD_FILE = (
    "import sys, duckdb; held = duckdb.connect(sys.argv[1]); print('held', flush=True); input()"
)


def test_duckdbs_lock_conflict_names_the_file_and_the_holding_process(tmp_path: Path) -> None:
    db = tmp_path / "locked.duckdb"
    duckdb.connect(str(db)).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_FILE, str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(duckdb.IOException) as conflict:
            duckdb.connect(str(db))
    finally:
        holder.communicate("\n", timeout=30)

    message = str(conflict.value)
    locked = internals.DUCKDB_LOCK_CONFLICT.search(message)
    holding = internals.DUCKDB_LOCK_HOLDER.search(message)
    assert locked is not None, message
    assert locked["path"] == str(db)
    assert holding is not None, message
    assert int(holding["pid"]) == holder.pid


def state_rows_of_completed_loads(pipeline: dlt.Pipeline) -> list[Any]:
    """(load id) of the pipeline's state rows whose load completed, newest first."""
    with pipeline.sql_client() as client:
        sql = (
            f"SELECT s.{internals.STATE_LOAD_ID_COLUMN} FROM _dlt_pipeline_state s "
            f"JOIN _dlt_loads l ON l.{internals.LOADS_LOAD_ID_COLUMN} = "
            f"s.{internals.STATE_LOAD_ID_COLUMN} WHERE s.{internals.STATE_PIPELINE_COLUMN} = %s"
            f" AND l.{internals.LOADS_STATUS_COLUMN} = {internals.COMPLETED_LOAD_STATUS}"
            f" ORDER BY 1 DESC"
        )
        return list(client.execute_sql(sql, pipeline.pipeline_name) or [])


def test_each_state_changing_load_adds_a_state_row_naming_its_pipeline_and_completed_load(
    tmp_path: Path,
) -> None:
    pipeline = probe_pipeline(tmp_path)
    pipeline.run(cursor_source([1]))
    pipeline.run(cursor_source([2]))

    rows = state_rows_of_completed_loads(pipeline)
    assert [row[0] for row in rows] == sorted(pipeline.list_completed_load_packages())[::-1]


def test_dlt_restores_the_newest_completed_state_row_without_the_older_ones(
    tmp_path: Path,
) -> None:
    pipeline = probe_pipeline(tmp_path)
    pipeline.run(cursor_source([1]))
    pipeline.run(cursor_source([2]))
    newest, older = (row[0] for row in state_rows_of_completed_loads(pipeline))
    with pipeline.sql_client() as client:
        client.execute_sql(
            f"DELETE FROM _dlt_pipeline_state WHERE {internals.STATE_LOAD_ID_COLUMN} = %s",
            older,
        )

    fresh = dlt.pipeline(
        pipeline.pipeline_name,
        pipelines_dir=str(tmp_path / "fresh"),
        destination=dlt.destinations.duckdb(str(tmp_path / "contract.duckdb")),
        dataset_name="probe",
    )
    fresh.sync_destination()
    restored = internals.resource_state(fresh.state, SOURCE, RESOURCE)
    assert internals.incremental_last_value(restored, CURSOR) == 2
    assert newest > older


class RecordingSteps(internals.StepCollector):
    """The connector's collector, remembering each step it was told about."""

    def __init__(self) -> None:
        super().__init__()
        self.steps: list[str] = []

    def _start(self, step: str) -> None:
        super()._start(step)
        self.steps.append(self.current)


def test_a_collector_is_told_each_step_through_start_and_stop(tmp_path: Path) -> None:
    steps = RecordingSteps()
    pipeline = dlt.pipeline(
        "steps_probe",
        pipelines_dir=str(tmp_path / "pipelines"),
        destination=dlt.destinations.duckdb(str(tmp_path / "steps.duckdb")),
        dataset_name="probe",
        progress=steps,
    )
    pipeline.run([{"id": 1}], table_name="items")
    assert list(dict.fromkeys(steps.steps)) == ["extract", "normalize", "load"], steps.steps
    assert steps.current == ""


def test_the_type_mapper_names_column_types_as_dlt_creates_them(tmp_path: Path) -> None:
    columns: dict[str, Any] = {
        "label": {"name": "label", "data_type": "text"},
        "at": {"name": "at", "data_type": "timestamp", "timezone": True},
        "n": {"name": "n", "data_type": "bigint"},
    }
    pipeline = probe_pipeline(tmp_path)
    pipeline.run(
        [{"label": "x", "at": datetime(2026, 1, 1).astimezone(), "n": 1}],
        table_name="typed",
        columns=columns,
    )
    capabilities = pipeline.destination.capabilities()
    table = {"name": "typed", "columns": columns}
    with pipeline.sql_client() as client:
        created: dict[str, str] = dict(
            client.execute_sql(  # type: ignore[arg-type]
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = 'probe' AND table_name = 'typed'"
            )
            or []
        )
    for name, column in columns.items():
        mapped = internals.destination_column_type(capabilities, column, table)
        assert mapped.upper() == created[name].upper(), name
