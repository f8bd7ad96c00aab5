"""`--report-json PATH`: the run as one JSON object, for a scheduler or a monitoring job.

The summary on stdout is written for people; a scheduler that alerts on row counts, 429s or
withheld deletions should not parse it. The report is written whatever the outcome, failures
included (with the error line and the exit status the process ends with), and atomically
(a temporary file in the same directory, then a rename), so a reader polling the path never
sees half a file. It holds no secret: only counts, names, cursors and the error line, which
is the same line that reaches stderr (and never carries the key, see `pipelines.failures`).

The schema is documented in the README ("Run report (--report-json)"); `SCHEMA` names its
version, raised when a field changes meaning or disappears (new fields do not raise it).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Final

from pipelines.failures import DELETIONS_WITHHELD_EXIT, OK_EXIT, describe_failure
from sources.opencx.batches import ScanStats
from sources.opencx.clock import format_timestamp
from sources.opencx.errors import ConfigValueError

SCHEMA: Final = "opencx-insights-run/1"
OUTCOME_OK: Final = "ok"
OUTCOME_WITHHELD: Final = "deletions_withheld"
OUTCOME_FAILED: Final = "failed"


def now_text() -> str:
    """The real time now, as every instant of a run is written: `2026-11-27T02:31:05.112Z`.

    The real clock, not the connector's (`OPENCX_NOW`): when a run started and ended is a
    measurement of the world, like its elapsed seconds.
    """
    return format_timestamp(datetime.now(timezone.utc))


def outcome_of(status: int) -> str:
    """The outcome word of an exit status (6 loaded, only deletions were withheld)."""
    if status == OK_EXIT:
        return OUTCOME_OK
    if status == DELETIONS_WITHHELD_EXIT:
        return OUTCOME_WITHHELD
    return OUTCOME_FAILED


def iso(value: datetime | str | None) -> str | None:
    """A cursor value as every instant of a run is written (None stays None)."""
    return None if value is None else format_timestamp(value)


@dataclass
class PipelineRun:
    """One pipeline's part of the report: one org, or the whole run without orgs."""

    org: str | None
    pipeline: str | None = None
    destination: str | None = None
    location: str | None = None
    dataset: str | None = None
    started_at: str = field(default_factory=now_text)
    finished_at: str | None = None
    outcome: str = OUTCOME_FAILED
    exit_status: int | None = None
    error: str | None = None
    rows: dict[str, int] | None = None
    cursor_before: str | None = None
    cursor_after: str | None = None
    stats: ScanStats | None = None
    _clock: float = field(default_factory=time.monotonic, repr=False)
    elapsed_seconds: float | None = None

    def finish(self, status: int) -> None:
        """The run ended with exit status `status` (0 or 6 when it loaded)."""
        self.finished_at = now_text()
        self.elapsed_seconds = round(time.monotonic() - self._clock, 3)
        self.exit_status = status
        self.outcome = outcome_of(status)

    def fail(self, exc: BaseException) -> None:
        """The run ended with `exc`; record the line and status the user sees."""
        self.error, status = describe_failure(exc, self.org)
        self.finish(status)

    def as_json(self) -> dict[str, Any]:
        """The run's JSON object (see the README's field table)."""
        requests = self.stats.requests.snapshot() if self.stats else None
        return {
            "org": self.org,
            "outcome": self.outcome,
            "exit_status": self.exit_status,
            "error": self.error,
            "pipeline": self.pipeline,
            "destination": self.destination,
            "location": self.location,
            "dataset": self.dataset,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "elapsed_seconds": self.elapsed_seconds,
            "strategy": self.stats.strategy if self.stats else None,
            "rows": self.rows,
            "requests": requests.requests if requests else 0,
            "retries": requests.retries if requests else 0,
            "rate_limited": requests.rate_limited if requests else 0,
            "pages": requests.pages if requests else 0,
            "insights_read": requests.insights if requests else 0,
            "cursor_before": self.cursor_before,
            "cursor_after": self.cursor_after,
            "marked_deleted": self.stats.deleted if self.stats else 0,
            "deletions_withheld": _one_line(self.stats.deletions_withheld) if self.stats else None,
            "notes": [_one_line(note) for note in self.stats.notes] if self.stats else [],
        }


@dataclass
class RunReport:
    """The whole command's report: its outcome and one `PipelineRun` per pipeline it ran."""

    path: Path | None
    started_at: str = field(default_factory=now_text)
    runs: list[PipelineRun] = field(default_factory=list)
    outcome: str = OUTCOME_FAILED
    exit_status: int | None = None
    error: str | None = None
    finished_at: str | None = None
    elapsed_seconds: float | None = None
    _clock: float = field(default_factory=time.monotonic, repr=False)

    @classmethod
    def start(cls, path: Path | None) -> RunReport:
        """A report for `--report-json PATH` (None: nothing is written); checks PATH first.

        A missing directory is a configuration error before any request, not a surprise after
        an hour's load.
        """
        if not path:
            return cls(None)
        target = path.expanduser().absolute()
        if not target.parent.is_dir():
            raise ConfigValueError(
                f"--report-json {path}: the directory {target.parent} does not exist"
            )
        if target.is_dir():
            raise ConfigValueError(f"--report-json {path} is a directory; name a file")
        return cls(target)

    def new_run(self, org: str | None) -> PipelineRun:
        """Add the part of one pipeline (org) and return it to be filled in."""
        run = PipelineRun(org)
        self.runs.append(run)
        return run

    def finish(self, status: int, error: str | None = None) -> None:
        """The command ends with exit status `status`.

        With orgs, the line of the first org that failed (whose status the command exits with)
        is the report's error.
        """
        if error is None:
            failed = [r for r in self.runs if r.outcome == OUTCOME_FAILED and r.error]
            error = f"org {failed[0].org}: {failed[0].error}" if failed else None
        self.finished_at = now_text()
        self.elapsed_seconds = round(time.monotonic() - self._clock, 3)
        self.exit_status = status
        self.outcome = outcome_of(status)
        self.error = error

    def fail(self, exc: BaseException) -> None:
        """The command ends with `exc`, the error line the user sees."""
        error, status = describe_failure(exc)
        self.finish(status, error)

    def as_json(self) -> dict[str, Any]:
        """The report's JSON object (see the README's field table)."""
        return {
            "schema": SCHEMA,
            "outcome": self.outcome,
            "exit_status": self.exit_status,
            "error": self.error,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "elapsed_seconds": self.elapsed_seconds,
            "runs": [run.as_json() for run in self.runs],
        }

    def write(self) -> None:
        """Write the report atomically (no-op without `--report-json`)."""
        if self.path is None:
            return
        write_atomically(self.path, json.dumps(self.as_json(), indent=2) + "\n")


def write_atomically(path: Path, text: str) -> None:
    """Replace `path` with `text` in one rename: readers see the old file or the new one."""
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        # mkstemp's 0600 would hide the report from a monitoring job running as another
        # user; it holds no secret, so it gets the mode any new file of this process gets
        os.fchmod(handle, 0o666 & ~_umask())
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        Path(temp_name).replace(path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def _umask() -> int:
    """The process umask (only readable by setting it; the run's threads are done by now)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _one_line(text: str | None) -> str | None:
    return None if text is None else " ".join(text.split())
