"""The command's one logging setup: what reaches stderr, what reaches the operator's log file.

Cron mails whatever a job writes, so stderr carries only what someone must read: warnings,
and with ``-v`` the routine retries. ``--quiet`` silences it entirely (errors are printed by
the caller, not logged). ``--log-file`` keeps everything at INFO, timestamped, for the operator
who wants to know why last night's run took an hour. dlt's own logger ("dlt", level from
RUNTIME__LOG_LEVEL) is dlt's business and left alone.

A record can override the stderr decision with ``extra=``: `TO_STDERR` for progress lines (shown
without ``-v``, since asking for a long run's progress is not asking for its retries) and
`FILE_ONLY` for copies of what already went to stdout or stderr some other way.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from sources.opencx.errors import ConfigValueError

LOG_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# our loggers: the source's (retries), and the command's (progress, summary, errors)
LOGGERS: Final = ("sources.opencx", "pipelines")
_STDERR_ATTR: Final = "opencx_stderr"
TO_STDERR: Final = {_STDERR_ATTR: True}
FILE_ONLY: Final = {_STDERR_ATTR: False}


class _StderrFilter(logging.Filter):
    """Warnings and worse always; INFO only with -v; records that say otherwise decide."""

    def __init__(self, verbose: bool) -> None:
        super().__init__()
        self._verbose = verbose

    def filter(self, record: logging.LogRecord) -> bool:
        forced = getattr(record, _STDERR_ATTR, None)
        if forced is not None:
            return bool(forced)
        return self._verbose or record.levelno >= logging.WARNING


def log_to_file(
    logger: logging.Logger,
    level: int,
    message: str,
    *args: object,
    exc: BaseException | None = None,
) -> None:
    """Keep in the log file a line that already reached the user another way.

    Without a configured handler (the log file could not be opened, or an in-process caller
    never configured logging) Python's last-resort handler would print it on stderr a second
    time, so then it is not logged at all.
    """
    if logger.hasHandlers():
        logger.log(level, message, *args, exc_info=exc, extra=FILE_ONLY)


@contextlib.contextmanager
def configured_logging(*, verbose: bool, quiet: bool, log_file: Path | None) -> Iterator[None]:
    """Logging for one command run; the previous setup is restored afterwards.

    Restoring matters for callers that run the command in-process more than once (tests):
    handlers must not pile up, and library users' logging must not stay changed.
    """
    handlers = _handlers(verbose=verbose, quiet=quiet, log_file=log_file)
    loggers = [logging.getLogger(name) for name in LOGGERS]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.INFO)
        for handler in handlers:
            lg.addHandler(handler)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)
            for handler in handlers:
                lg.removeHandler(handler)
        for handler in handlers:
            handler.close()


def _handlers(*, verbose: bool, quiet: bool, log_file: Path | None) -> list[logging.Handler]:
    formatter = logging.Formatter(LOG_FORMAT)
    handlers: list[logging.Handler] = []
    if log_file:
        path = log_file.expanduser()
        try:
            file_handler = logging.FileHandler(path, encoding="utf-8")
        except OSError as exc:
            raise ConfigValueError(
                f"cannot write the log file {path}: {exc.strerror or exc} (--log-file)"
            ) from None
        file_handler.setLevel(logging.INFO)
        handlers.append(file_handler)
    if not quiet:
        stderr = logging.StreamHandler(sys.stderr)
        stderr.addFilter(_StderrFilter(verbose))
        handlers.append(stderr)
    # with neither, a handler that drops everything keeps Python's last-resort printer away
    handlers = handlers or [logging.NullHandler()]
    for handler in handlers:
        handler.setFormatter(formatter)
    return handlers
