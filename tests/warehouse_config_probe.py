"""Resolve one destination's configuration offline and print it as JSON (run as a module).

`python -m tests.warehouse_config_probe NAME` builds the pipeline the command would build for
`--destination NAME` and resolves the destination's configuration from whatever dlt finds
(`DLT_PROJECT_DIR/.dlt/*.toml`, the environment) without opening a connection: neither an
account nor the destination's client library is needed. It runs in its own process because dlt
reads the project's TOML files once per process.
"""

from __future__ import annotations

import json
import sys
import tempfile
from typing import Any

import dlt
from dlt.common.destination.client import DestinationClientDwhConfiguration

from pipelines.destination import lake
from sources.opencx.settings import DATASET_NAME


def resolved(name: str) -> dict[str, Any]:
    """The resolved configuration's public fields, credentials under "credentials"."""
    with tempfile.TemporaryDirectory() as pipelines_dir:
        pipeline = dlt.pipeline(
            pipeline_name=f"opencx_probe_{name}",
            destination=name,
            dataset_name=DATASET_NAME,
            pipelines_dir=pipelines_dir,
        )
        factory = pipeline.destination
        assert factory is not None
        initial = factory.spec()
        if isinstance(initial, DestinationClientDwhConfiguration):  # every one named here
            initial.dataset_name = DATASET_NAME
        config = factory.configuration(initial)
    fields = {k: v for k, v in dict(config).items() if k != "credentials" and _plain(v)}
    credentials = {k: v for k, v in dict(config.credentials or {}).items() if _plain(v)}
    return {
        "resolved": config.is_resolved(),
        "destination_name": factory.destination_name,
        "credentials_type": type(config.credentials).__name__,
        "fields": fields,
        "credentials": credentials,
        "table_format": lake.table_format_of(factory),
    }


def _plain(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


if __name__ == "__main__":
    print(json.dumps(resolved(sys.argv[1]), default=str))
