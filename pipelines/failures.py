"""Failures and exit statuses: any exception from a run as one line and an exit status.

dlt wraps errors from sources in its own exceptions (several levels deep); users need the cause
and the config key to change, not the wrapping. Secrets never reach these messages: our own
errors are written without them and unknown errors are reduced to their type and first line.

The exit statuses are an interface: cron wrappers and alerting branch on them, so they are
defined once here, documented in the README's "Exit statuses" table, and a test keeps the two
equal.

The ground of `pipelines/`: every other module may import this one, and it imports none of
them. A failure that needs a destination to recognise it (DuckDB's "file in use") is turned
into its error type by the destination (`pipelines.destination.duckdb_file`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from dlt.common.configuration.exceptions import (
    ConfigFieldMissingException,
    ConfigValueCannotBeCoercedException,
)

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
INTERRUPTED_LINE: Final = "interrupted; nothing was committed past the last completed load"
# the one-org run's API key; with `--orgs` each org's own (`org_api_key`)
ONE_ORG_KEY: Final = "sources.opencx.api_key"
ONE_ORG_KEY_ENV: Final = "SOURCES__OPENCX__API_KEY"

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


class RunLockedError(OpenCXError):
    """Another run of the same pipeline holds its lock; this run did nothing at all."""

    exit_code = RUN_LOCKED_EXIT


def describe_failure(exc: BaseException, org: str | None = None) -> tuple[str, int]:
    """The line and exit status for `exc`: the most specific known cause in its chain.

    For an organisation's pipeline (`--orgs`), the line names the org's key, not the one-org
    run's. Ctrl-C is the interrupted status.
    """
    if isinstance(exc, KeyboardInterrupt):
        return INTERRUPTED_LINE, INTERRUPTED_EXIT
    message, status = _describe(exc)
    return (message if org is None else for_org(org, message)), status


def _describe(exc: BaseException) -> tuple[str, int]:
    for cause in _chain(exc):
        if isinstance(cause, OpenCXError):
            return str(cause), cause.exit_code
        if isinstance(cause, ConfigFieldMissingException):
            return _missing_config(cause), CONFIG_EXIT
        if isinstance(cause, ConfigValueCannotBeCoercedException):
            return (f"config value {cause.field_name} cannot be read as "
                    f"{getattr(cause.hint, '__name__', cause.hint)}", CONFIG_EXIT)  # fmt: skip
    root = _chain(exc)[-1]
    first_line = (str(root).strip().splitlines() or [""])[0][:300]
    return f"{type(root).__name__}: {first_line} (run with --verbose for details)", UNEXPECTED_EXIT


def _missing_config(exc: ConfigFieldMissingException) -> str:
    fields = ", ".join(exc.fields)
    if "api_key" in exc.fields:
        return (
            f"no OpenCX API key: set {ONE_ORG_KEY_ENV} or api_key under "
            f"[sources.opencx] in .dlt/secrets.toml (config key: {ONE_ORG_KEY})"
        )
    return f"missing configuration: {fields} ({exc.spec_name})"


def org_api_key(org: str) -> str:
    """The config key of an organisation's API key (`--orgs`): its own, never shared."""
    return f"sources.opencx.{org}.api_key"


def for_org(org: str, message: str) -> str:
    """An error line with the one-org key names replaced by the org's (`401 ... api_key`)."""
    env = org_api_key(org).upper().replace(".", "__")
    return message.replace(ONE_ORG_KEY, org_api_key(org)).replace(ONE_ORG_KEY_ENV, env)


def combined_status(statuses: Sequence[int]) -> int:
    """The command's exit status for its pipelines' statuses (one per org), in the order run.

    The first org that failed decides (its status says what to fix first); if none failed
    but some withheld deletions, 6; else 0.
    """
    failed = [s for s in statuses if s not in (OK_EXIT, DELETIONS_WITHHELD_EXIT)]
    if failed:
        return failed[0]
    return DELETIONS_WITHHELD_EXIT if DELETIONS_WITHHELD_EXIT in statuses else OK_EXIT


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    return seen
