"""What a dlt user writes instead of this connector: dlt's ``rest_api`` source, as documented.

``python -m bench.baseline_rest_api --base-url URL --api-key KEY --duckdb-path PATH``
(set ``DLT_DATA_DIR`` to isolate its state; a second run in the same place is incremental).

``POST /insights`` with a JSON body, page number in the body (``page_body_path``), stop at
``totalPages``, records under ``data``, merge on ``id``, incremental on ``last_seen_at`` with
``row_order="desc"`` (so the body asks for that order: rest_api stops paging at the first row
below the cursor), bearer auth; everything else is dlt's default: nesting, the DuckDB loader
file format (``insert_values``), retries, no lookback.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import dlt
from dlt.sources.rest_api import rest_api_source


def config(base_url: str, api_key: str) -> Any:
    """The rest_api configuration (a RESTAPIConfig dict)."""
    return {
        "client": {
            "base_url": base_url,
            "auth": {"type": "bearer", "token": api_key},
        },
        "resources": [
            {
                "name": "insights",
                "primary_key": "id",
                "write_disposition": "merge",
                "endpoint": {
                    "path": "insights",
                    "method": "POST",
                    "json": {"sortBy": "last_seen_at", "sortOrder": "desc"},
                    "paginator": {
                        "type": "page_number",
                        "base_page": 1,
                        "page_param": None,
                        "page_body_path": "page",
                        "total_path": "totalPages",
                    },
                    "data_selector": "data",
                    "incremental": {"cursor_path": "last_seen_at", "row_order": "desc"},
                },
            }
        ],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.baseline_rest_api")
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--duckdb-path", required=True)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    pipeline = dlt.pipeline(
        pipeline_name="rest_api_insights",
        destination=dlt.destinations.duckdb(args.duckdb_path),
        dataset_name="opencx",
    )
    pipeline.run(rest_api_source(config(args.base_url, args.api_key)))
    trace = pipeline.last_trace
    normalize = trace.last_normalize_info if trace else None
    rows = dict(normalize.row_counts) if normalize else {}
    print(f"rest_api: rows {rows}, elapsed {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
