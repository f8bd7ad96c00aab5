"""Loading into dlt's filesystem destination (a local folder) and reading the files back.

The files are read with pyarrow (plain Parquet) and deltalake (Delta), not through dlt, so the
tests check what any other reader of the lake sees.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dlt
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable
from dlt.pipeline.pipeline import Pipeline

from pipelines.load.runner import run_catching_up
from sources.opencx.batches import ScanStats
from sources.opencx_simulator import Simulator
from tests.helpers import (
    DATASET,
    TEST_KEY,
    expected_insight,
    expected_insight_columns,
    on_clock_of,
)

PIPELINE = "opencx_lake_test"
TABLE_FORMAT_ENV = "DESTINATION__FILESYSTEM__TABLE_FORMAT"


class Lake:
    """A filesystem destination in `root/lake` and the pipeline's working dir beside it."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch, table_format: str) -> None:
        self.root = root
        self.table_format = table_format
        if table_format == "delta":
            monkeypatch.setenv(TABLE_FORMAT_ENV, "delta")
        else:
            monkeypatch.delenv(TABLE_FORMAT_ENV, raising=False)

    @property
    def bucket(self) -> Path:
        return self.root / "lake"

    @property
    def dataset_dir(self) -> Path:
        return self.bucket / DATASET

    def pipeline(self) -> Pipeline:
        return dlt.pipeline(
            pipeline_name=PIPELINE,
            pipelines_dir=str(self.root / "pipelines"),
            destination=dlt.destinations.filesystem(bucket_url=str(self.bucket)),
            dataset_name=DATASET,
        )

    def command_env(self, tmp_path: Path) -> dict[str, str]:
        """The environment of `python pipelines/insights.py` writing into this lake (`cli_env`)."""
        from tests.cron_support import cli_env  # noqa: PLC0415 - cron_support imports the runner

        env = cli_env(tmp_path, DESTINATION__FILESYSTEM__BUCKET_URL=str(self.bucket))
        if self.table_format == "delta":
            env[TABLE_FORMAT_ENV] = "delta"
        return env

    def load(self, sim: Simulator, **source_args: Any) -> ScanStats:
        """One run the way the command makes it (`run_catching_up`), fast retries, no pacing."""
        with on_clock_of(sim):
            return run_catching_up(self.pipeline(), source_arguments(sim, **source_args))

    def table(self, name: str) -> pa.Table:
        """Every row as stored: all Parquet files, or the Delta table's current version."""
        if self.table_format == "delta":
            return DeltaTable(str(self.dataset_dir / name)).to_pyarrow_table()
        files = self.parquet_files(name)
        return pa.concat_tables([pq.read_table(f) for f in files], promote_options="default")

    def parquet_files(self, name: str) -> list[Path]:
        return sorted((self.dataset_dir / name).glob("*.parquet"))

    def rows(self, name: str) -> list[dict[str, Any]]:
        return public(self.table(name).to_pylist())


def source_arguments(sim: Simulator, **source_args: Any) -> dict[str, Any]:
    return {
        "api_key": TEST_KEY,
        "base_url": sim.base_url,
        "requests_per_minute": 0,
        "backoff_base_seconds": 0.001,
        "max_attempts": 6,
        **source_args,
    }


def public(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows without dlt's own columns."""
    return [{k: v for k, v in row.items() if not k.startswith("_dlt_")} for row in rows]


def insight_rows(rows: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(id, the documented insight columns) per stored row."""
    columns = list(expected_insight_columns())
    for row in rows:
        yield row["id"], {c: row[c] for c in columns}


def truth(sim: Simulator) -> dict[str, dict[str, Any]]:
    """What `insights` must hold for the simulator's current data."""
    return {item["id"]: expected_insight(item) for item in sim.store.ground_truth()}


def change_what_only_a_reconciliation_sees(sim: Simulator) -> dict[str, list[str]]:
    """Resolve, archive, reassign and delete a few insights: none moves `last_seen_at`."""
    truth_items = sim.store.ground_truth()
    open_ids = [i["id"] for i in truth_items if not i["resolved_at"] and not i["archived_at"]]
    changed = {
        "resolved": open_ids[:3],
        "archived": open_ids[3:5],
        "reassigned": open_ids[5:7],
        "deleted": open_ids[7:10],
    }
    for insight_id in changed["resolved"]:
        sim.store.resolve(insight_id)
    for insight_id in changed["archived"]:
        sim.store.archive(insight_id, reason="duplicate")
    for insight_id in changed["reassigned"]:
        sim.store.reassign(insight_id, None)
    for insight_id in changed["deleted"]:
        sim.store.delete(insight_id)
    return changed
