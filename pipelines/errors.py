"""Turns any exception from a run into one line on stderr and an exit status.

dlt wraps errors from sources in its own exceptions (several levels deep); users need the cause
and the config key to change, not the wrapping. Secrets never reach these messages: our own
errors are written without them and unknown errors are reduced to their type and first line.

The exit statuses are an interface: cron wrappers and alerting branch on them, so they are
defined once here, documented in the README's "Exit statuses" table, and a test keeps the two
equal.
"""

from __future__ import annotations

import logging
import sys
import traceback
from typing import Final

from dlt.common.configuration.exceptions import (
    ConfigFieldMissingException,
    ConfigValueCannotBeCoercedException,
)

from pipelines.logs import log_to_file
from sources.opencx.batches import ScanStats
from sources.opencx.errors import OpenCXError

OK_EXIT: Final = 0
UNEXPECTED_EXIT: Final = 1
CONFIG_EXIT: Final = 2
AUTH_EXIT: Final = 3
UNREACHABLE_EXIT: Final = 4
BAD_RESPONSE_EXIT: Final = 5
DELETIONS_WITHHELD_EXIT: Final = 6
DUCKDB_IN_USE_EXIT: Final = 7
RUN_LOCKED_EXIT: Final = 8
INTERRUPTED_EXIT: Final = 130

# status -> what it means, as the README's table says it (its first cell after the number)
EXIT_STATUSES: Final[dict[int, str]] = {
    OK_EXIT: "ok",
    UNEXPECTED_EXIT: "unexpected error",
    CONFIG_EXIT: "configuration",
    AUTH_EXIT: "authentication",
    UNREACHABLE_EXIT: "API unreachable",
    BAD_RESPONSE_EXIT: "unusable API response",
    DELETIONS_WITHHELD_EXIT: "loaded, deletions withheld",
    DUCKDB_IN_USE_EXIT: "DuckDB file in use",
    RUN_LOCKED_EXIT: "another run is going",
    INTERRUPTED_EXIT: "interrupted",
}

logger = logging.getLogger("pipelines")


class RunLockedError(OpenCXError):
    """Another run of the same pipeline holds its lock; this run did nothing at all."""

    exit_code = RUN_LOCKED_EXIT


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


def describe_failure(exc: BaseException) -> tuple[str, int]:
    """Find the most specific known cause in the exception chain."""
    for cause in _chain(exc):
        if isinstance(cause, OpenCXError):
            return str(cause), cause.exit_code
        if isinstance(cause, ConfigFieldMissingException):
            return _missing_config(cause), CONFIG_EXIT
        if isinstance(cause, ConfigValueCannotBeCoercedException):
            return (f"config value {cause.field_name} cannot be read as "
                    f"{getattr(cause.hint, '__name__', cause.hint)}", CONFIG_EXIT)  # fmt: skip
    from pipelines.duckdb_file import in_use_error  # noqa: PLC0415 - only on failure

    in_use = in_use_error(exc)  # a reader opened the file after the run's own check
    if in_use is not None:
        return str(in_use), in_use.exit_code
    root = _chain(exc)[-1]
    first_line = (str(root).strip().splitlines() or [""])[0][:300]
    return f"{type(root).__name__}: {first_line} (run with --verbose for details)", UNEXPECTED_EXIT


def _missing_config(exc: ConfigFieldMissingException) -> str:
    fields = ", ".join(exc.fields)
    if "api_key" in exc.fields:
        return (
            "no OpenCX API key: set SOURCES__OPENCX__API_KEY or api_key under "
            "[sources.opencx] in .dlt/secrets.toml (config key: sources.opencx.api_key)"
        )
    return f"missing configuration: {fields} ({exc.spec_name})"


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    return seen
