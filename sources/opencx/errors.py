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
