"""Errors a user can cause or fix, each rendered as one line that names the config key.

The command line prints ``str(error)`` and exits non-zero without a traceback, so every message
must stand on its own and must never contain the API key.
"""

from __future__ import annotations

CONFIG_PREFIX = "sources.opencx."


class OpenCXError(Exception):
    """Base of every error the connector reports to the user as a single line."""

    exit_code = 1

    def __init__(self, message: str, config_key: str | None = None) -> None:
        self.config_key = config_key
        suffix = f" (config key: {CONFIG_PREFIX}{config_key})" if config_key else ""
        super().__init__(f"{message}{suffix}")


class ConfigValueError(OpenCXError):
    """A configured value (filter, date, option) is invalid; raised before any request."""

    exit_code = 2


class AuthenticationError(OpenCXError):
    """401: the key is missing, malformed or revoked."""

    exit_code = 3


class PermissionDeniedError(OpenCXError):
    """403: the key is valid but lacks the `insights:read` scope."""

    exit_code = 3


class ApiUnreachableError(OpenCXError):
    """The API could not be reached even after all retries (DNS, refused, timeouts)."""

    exit_code = 4


class ApiResponseError(OpenCXError):
    """The API answered something a correct load cannot be built from."""

    exit_code = 5

    def __init__(
        self, message: str, config_key: str | None = None, status: int | None = None
    ) -> None:
        super().__init__(message, config_key)
        self.status = status


class DuckDBFileInUseError(OpenCXError):
    """Another process has the DuckDB file open, so this run cannot write to it.

    DuckDB lets a process write a file only while no other process has it open, read-only
    readers included: a BI tool, `duckdb data/...` or a notebook blocks the load. Nothing is
    written and the next run catches up, so the message says what to close, and who holds it
    when DuckDB tells.
    """

    exit_code = 7

    def __init__(self, path: str, holder: str | None = None) -> None:
        self.path = path
        self.holder = holder
        by = f" by {holder}" if holder else " by another process"
        super().__init__(
            f"the DuckDB file {path} is in use{by}, so nothing was loaded; close that "
            "connection (read-only ones block loads too) and run again, or load another file "
            "(--duckdb-path or DESTINATION__DUCKDB__CREDENTIALS)"
        )
