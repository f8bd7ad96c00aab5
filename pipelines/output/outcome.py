"""How a run ended, as the operator reads it: one error line, or a warning, on stderr.

Each line also goes to the log file (if any), with the traceback of what nobody expected;
the exit status it stands for is `pipelines.failures`'. A run that loaded prints nothing
here unless its deletions were withheld.
"""

from __future__ import annotations

import logging
import sys
import traceback

from pipelines.failures import (
    DELETIONS_WITHHELD_EXIT,
    OK_EXIT,
    UNEXPECTED_EXIT,
    describe_failure,
)
from pipelines.output.logs import log_to_file
from pipelines.output.summary import summary_logger
from sources.opencx.batches import ScanStats

logger = logging.getLogger("pipelines")


def report_failure(exc: BaseException, *, verbose: bool = False) -> int:
    """Print the one line for `exc` and return the process exit status."""
    if verbose:
        traceback.print_exception(exc, file=sys.stderr)
    message, status = describe_failure(exc)
    print(f"error: {message}", file=sys.stderr)
    # the log file (if any) keeps the line, and the traceback of what nobody expected
    unexpected = exc if status == UNEXPECTED_EXIT else None
    log_to_file(logger, logging.ERROR, "error (exit %d): %s", status, message, exc=unexpected)
    return status


def report_org_failure(org: str, exc: Exception, *, verbose: bool, quiet: bool) -> int:
    """The failed org's one line on stderr (and the log file), a line in the summary."""
    if verbose:
        traceback.print_exception(exc, file=sys.stderr)
    message, status = describe_failure(exc, org)
    print(f"error: org {org}: {message}", file=sys.stderr)
    unexpected = exc if status == UNEXPECTED_EXIT else None
    log_to_file(summary_logger, logging.ERROR, "error (exit %d): org %s: %s", status, org,
                message, exc=unexpected)  # fmt: skip
    if not quiet:
        print(f"org {org}: nothing loaded (exit {status})")
    return status


def finished_status(stats: ScanStats, org: str | None = None) -> int:
    """Exit status of a run that loaded: 0, or 6 with a warning line if deletions were withheld.

    Withheld deletions mean the tables may still show insights that no longer exist; the load
    itself is good, so it is not an error, but a scheduler must be able to alert on it. The
    warning prints even with --quiet: that is exactly what a cron job must mail.
    """
    if stats.deletions_withheld is None:
        return OK_EXIT
    reason = " ".join(stats.deletions_withheld.split())
    if org is not None:
        reason = f"org {org}: {reason}"
    print(f"warning: {reason}", file=sys.stderr)
    log_to_file(logger, logging.WARNING, "warning (exit %d): %s", DELETIONS_WITHHELD_EXIT, reason)
    return DELETIONS_WITHHELD_EXIT
