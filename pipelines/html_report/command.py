"""`python pipelines/report.py`: which DuckDB file is read, where the page goes, what is said.

Nothing to read (no file, no insights tables) ends in one line on stderr with a hint and a
non-zero exit, and writes no page: a report of an earlier load is not overwritten.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from pipelines.html_report.browser import screenshot
from pipelines.html_report.dashboard import (
    DATASET,
    DEFAULT_DUCKDB,
    DEMO_DUCKDB,
    LOAD_FIRST,
    PROJECT_ROOT,
    demo_hint,
    nothing_to_read,
)
from pipelines.html_report.page import write_report

DEFAULT_OUTPUT = PROJECT_ROOT / "reports" / "opencx_insights.html"
DEMO_OUTPUT = PROJECT_ROOT / "reports" / "opencx_demo.html"
NOTHING_TO_READ_EXIT: Final = 2


@dataclass(frozen=True)
class ReportRequest:
    """What the command line asks for; None: the default (the demo's with `demo`)."""

    duckdb_path: Path | None = None
    output: Path | None = None
    dataset: str = DATASET
    demo: bool = False
    screenshot: Path | None = None


def make_report(request: ReportRequest) -> int:
    """Write the report and print which file it read and where it wrote; the exit status."""
    default_db = DEMO_DUCKDB if request.demo else DEFAULT_DUCKDB
    db = project_path(request.duckdb_path or default_db)
    output = request.output or (DEMO_OUTPUT if request.demo else DEFAULT_OUTPUT)
    reason = nothing_to_read(db, request.dataset)
    if reason is not None:
        print(
            f"error: {reason}; {LOAD_FIRST} or pass --duckdb-path FILE"
            f"{demo_hint(db, 'python pipelines/report.py --demo')}",
            file=sys.stderr,
        )
        return NOTHING_TO_READ_EXIT
    written = write_report(db, project_path(output), request.dataset)
    print(f"report of {db} written to {written}")
    if request.screenshot:
        print(f"screenshot saved to {screenshot(written, project_path(request.screenshot))}")
    return 0


def project_path(path: Path) -> Path:
    """Relative paths are taken from the project, like the loader's `--duckdb-path`."""
    path = path.expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path
