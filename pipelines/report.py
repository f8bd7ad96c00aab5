"""Entry point: ``python pipelines/report.py [--duckdb-path PATH] [--output PATH]``.

Writes one self-contained HTML report of the dashboard views, for a user with no notebook or
BI tool (see `pipelines.html_report`): parses the command line, makes the report, exits.
Needs the `report` extra (altair, vl-convert-python); the connector itself does not.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from pipelines.html_report.browser import CHROMIUM  # noqa: E402
from pipelines.html_report.command import (  # noqa: E402
    DEFAULT_OUTPUT,
    DEMO_OUTPUT,
    ReportRequest,
    make_report,
)
from pipelines.html_report.dashboard import DATASET, DEFAULT_DUCKDB, DEMO_DUCKDB  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    """Options: where to read, where to write."""
    parser = argparse.ArgumentParser(
        prog="python pipelines/report.py",
        description="Write a self-contained HTML report (no network needed to view it) of the "
        "dashboard views in a DuckDB file.",
    )
    parser.add_argument("--duckdb-path", type=Path, help=f"default {DEFAULT_DUCKDB}")
    parser.add_argument(
        "--output", type=Path, help=f"HTML file to write (default {DEFAULT_OUTPUT})"
    )
    parser.add_argument("--dataset", default=DATASET, help=f"dataset (default {DATASET})")
    parser.add_argument(
        "--demo", action="store_true", help=f"read {DEMO_DUCKDB.name}, write {DEMO_OUTPUT.name}"
    )
    parser.add_argument(
        "--screenshot",
        type=Path,
        metavar="PNG",
        help=f"also save a PNG of the whole page ({CHROMIUM})",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse, make the report, return its exit status."""
    args = build_parser().parse_args(argv)
    request = ReportRequest(
        duckdb_path=args.duckdb_path,
        output=args.output,
        dataset=args.dataset,
        demo=args.demo,
        screenshot=args.screenshot,
    )
    return make_report(request)


if __name__ == "__main__":
    sys.exit(main())
