"""Entry point users schedule: ``python pipelines/insights.py [--demo] [--full-refresh] ...``.

Imports stay light until the arguments are parsed, so ``--help`` is instant and works without
credentials. Every failure a user can cause ends in one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))
if __name__ == "__main__":  # the command only, before its first import: see pipelines/lean_gc.py
    from pipelines.lean_gc import pause_collections_for_imports

    pause_collections_for_imports()
# dlt reads `.dlt/` from the project, not from wherever cron happens to start us.
os.environ.setdefault("DLT_PROJECT_DIR", str(PROJECT_ROOT))
# dlt's anonymous telemetry would try to reach the internet on every run; opt in explicitly.
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")

from pipelines.cli import parse_request  # noqa: E402
from pipelines.request import RunRequest  # noqa: E402


def main(argv: list[str] | None = None, *, lean: bool = False) -> int:
    """Parse, run, and turn any failure into one line and an exit status.

    `lean` (the command, not a library caller): keep pandas and numpy out of the run when the
    destination never uses them (see pipelines/lean_imports.py).
    """
    request = parse_request(argv)
    refused = refuse_untested_versions()
    if refused is not None:
        return refused
    if lean:
        from pipelines.lean_imports import hide_unused_modules  # noqa: PLC0415

        hide_unused_modules(request.destination)
    from pipelines.errors import report_failure  # noqa: PLC0415
    from pipelines.logs import configured_logging  # noqa: PLC0415

    try:
        with configured_logging(
            verbose=request.verbose, quiet=request.quiet, log_file=request.log_file
        ):
            return _run_reporting(request)
    except Exception as exc:  # the log file itself could not be opened
        return report_failure(exc, verbose=request.verbose)


def refuse_untested_versions() -> int | None:
    """Exit status 2 after one line if dlt or DuckDB is untested; None to go on.

    Runs before dlt is imported, so a release that breaks an import is refused all the same.
    A run allowed on untested versions goes on after one warning line.
    """
    from pipelines.versions import UntestedVersionError, check_tested_versions  # noqa: PLC0415

    try:
        warning = check_tested_versions()
    except UntestedVersionError as refused:
        print(f"error: {refused}", file=sys.stderr)
        return refused.exit_code
    if warning is not None:
        print(warning, file=sys.stderr)
    return None


def _run_reporting(request: RunRequest) -> int:
    """The run inside the logging setup, so failures reach the log file too."""
    from pipelines.errors import INTERRUPTED_EXIT, report_failure  # noqa: PLC0415
    from pipelines.lean_gc import imports_done  # noqa: PLC0415

    try:
        from pipelines import runner  # noqa: PLC0415

        imports_done()
        return runner.run(request)
    except KeyboardInterrupt:
        print("error: interrupted; nothing was committed past the last completed load",
              file=sys.stderr)  # fmt: skip
        return INTERRUPTED_EXIT
    except Exception as exc:
        return report_failure(exc, verbose=request.verbose)


if __name__ == "__main__":
    from pipelines.lean_gc import skip_the_final_collection

    status = main(lean=True)
    skip_the_final_collection()
    sys.exit(status)
