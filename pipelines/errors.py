"""Turns any exception from a run into one line on stderr and an exit status.

dlt wraps errors from sources in its own exceptions (several levels deep); users need the cause
and the config key to change, not the wrapping. Secrets never reach these messages: our own
errors are written without them and unknown errors are reduced to their type and first line.
"""

from __future__ import annotations

import sys
import traceback

from dlt.common.configuration.exceptions import (
    ConfigFieldMissingException,
    ConfigValueCannotBeCoercedException,
)

from sources.opencx.errors import OpenCXError

UNEXPECTED_EXIT = 1


def report_failure(exc: BaseException, *, verbose: bool = False) -> int:
    """Print the one line for `exc` and return the process exit status."""
    if verbose:
        traceback.print_exception(exc, file=sys.stderr)
    message, status = describe_failure(exc)
    print(f"error: {message}", file=sys.stderr)
    return status


def describe_failure(exc: BaseException) -> tuple[str, int]:
    """Find the most specific known cause in the exception chain."""
    for cause in _chain(exc):
        if isinstance(cause, OpenCXError):
            return str(cause), cause.exit_code
        if isinstance(cause, ConfigFieldMissingException):
            return _missing_config(cause), 2
        if isinstance(cause, ConfigValueCannotBeCoercedException):
            return (f"config value {cause.field_name} cannot be read as "
                    f"{getattr(cause.hint, '__name__', cause.hint)}", 2)  # fmt: skip
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
