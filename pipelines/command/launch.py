"""The command as a process: versions checked, unused modules hidden, logging, one line per failure.

What `python pipelines/insights.py` does around the run itself, in the order it must happen:
untested dlt or DuckDB refused before either is imported, pandas and numpy hidden before
anything could import them, the logging of `-v`/`-q`/`--log-file` set up, and every failure
turned into one line on stderr and an exit status. Imports stay light until the run starts.
"""

from __future__ import annotations

import sys

from pipelines.command.request import RunRequest


def launch(request: RunRequest, *, lean: bool = False) -> int:
    """Run `request`; its exit status.

    `lean` (the command, not a library caller): keep pandas and numpy out of the run when the
    destination never uses them (see pipelines/command/lean_imports.py). `--check-freshness`
    runs none of it: it loads nothing, answers in its own one line and Nagios status, and
    judges whatever versions are installed (it reads only dlt's documented loads table).
    """
    if request.check_freshness is not None:
        from pipelines.command.freshness import check_freshness  # noqa: PLC0415

        return check_freshness(request)
    refused = refuse_untested_versions()
    if refused is not None:
        return refused
    if lean:
        from pipelines.command.lean_imports import hide_unused_modules  # noqa: PLC0415

        hide_unused_modules(request.destination)
    from pipelines.output.logs import configured_logging  # noqa: PLC0415
    from pipelines.output.outcome import report_failure  # noqa: PLC0415

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
    from pipelines.command.versions import (  # noqa: PLC0415
        UntestedVersionError,
        check_tested_versions,
    )

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
    from pipelines.command.lean_gc import imports_done  # noqa: PLC0415
    from pipelines.failures import INTERRUPTED_EXIT, INTERRUPTED_LINE  # noqa: PLC0415
    from pipelines.output.outcome import report_failure  # noqa: PLC0415

    try:
        from pipelines.command import run  # noqa: PLC0415

        imports_done()
        return run.run(request)
    except KeyboardInterrupt:
        print(f"error: {INTERRUPTED_LINE}", file=sys.stderr)
        return INTERRUPTED_EXIT
    except Exception as exc:
        return report_failure(exc, verbose=request.verbose)
