"""Helpers shared by the reliability modules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dlt
from dlt.pipeline.pipeline import Pipeline

from pipelines.failures import UNEXPECTED_EXIT, describe_failure
from pipelines.load.runner import run_catching_up
from sources.opencx import opencx, settings
from sources.opencx_simulator import Simulator
from tests.helpers import TEST_KEY, Workspace
from tests.warehouses import DuckDBWarehouse, Warehouse


def cli_pipeline(tmp_path: Path, warehouse: Warehouse | None = None) -> Pipeline:
    """The pipeline `python pipelines/insights.py` uses under `tests.test_cli.cli_env`.

    Its warehouse is the command's default there, `cli.duckdb`, unless another is given.
    """
    target = warehouse if warehouse else DuckDBWarehouse(tmp_path / "cli.duckdb")
    return dlt.pipeline(
        pipeline_name=settings.PIPELINE_NAME,
        pipelines_dir=str(tmp_path / "dlt_data" / "pipelines"),
        destination=target.destination(),
        dataset_name=settings.DATASET_NAME,
    )


def seed_cli_pipeline(tmp_path: Path, sim: Simulator, warehouse: Warehouse | None = None) -> None:
    """A completed first run of the command's pipeline, in-process (faster than the CLI)."""
    cli_pipeline(tmp_path, warehouse).run(
        opencx(api_key=TEST_KEY, base_url=sim.base_url, requests_per_minute=0)
    )


def load_from(ws: Workspace, base_url: str, **source_args: Any) -> Pipeline:
    """`Workspace.load` against any server (a stub rather than a simulator)."""
    args: dict[str, Any] = {
        "api_key": TEST_KEY,
        "base_url": base_url,
        "requests_per_minute": 0,
        "backoff_base_seconds": 0.001,
        "max_attempts": 3,
        **source_args,
    }
    pipeline = ws.pipeline()
    run_catching_up(pipeline, args)
    return pipeline


def one_line_for(exc: BaseException) -> str:
    """What the command prints for `exc`, checked to be one line naming a known cause."""
    message, status = describe_failure(exc)
    assert "\n" not in message
    assert status != UNEXPECTED_EXIT, f"not a known failure: {message}"
    assert "Traceback" not in message
    assert TEST_KEY not in message
    return message
