"""The local record of a pipeline's last successful run, left by a run with nothing new too.

dlt records each completed load in the destination's `_dlt_loads`, but a scheduled run that
finds nothing new loads nothing and so records nothing there (on purpose, for speed: see
tests/test_noop_runs.py). To a freshness check reading the destination alone, a quiet tenant
would look stale. So every run of the command that ends successfully (status 0, or 6: loaded,
deletions withheld) writes when it ended, and where it loaded, to a small file in the
pipeline's working folder; `pipelines.command.freshness` takes the newer of this record and
the destination's newest load.

Honest by construction: the record is written last, after the load, the views and the
summary, so a run that fails or is killed before leaves the previous record as it was. It is
cheap (tens of microseconds): written whole under another name and renamed into place, without
fsync. The old record is removed first, since on ext4 a rename that replaces a file flushes the
new one to disk (`auto_da_alloc`), which costs milliseconds. The reader takes the newer of the
record and a whole one still under the other name, so the instant between the two steps, or a
kill there, hides nothing. A record that a power loss garbles is ignored, and the check then
judges by the destination alone: a pipeline can look staler, never fresher. A machine without
the working folder (a fresh CI runner, a stateless worker) has no record, and dlt's drop of the
folder takes it along.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final

from pipelines.load.target import Target
from sources.opencx.clock import as_utc, format_timestamp, utc_now

RECORD_FILE: Final = "opencx_last_success.json"
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LastSuccess:
    """When a run of the pipeline last ended successfully, and where it loaded.

    `duckdb_path` is the DuckDB file's absolute path, None for other destinations (whose
    credentials stay out of the record: they may hold a password).
    """

    at: datetime
    destination: str
    dataset: str
    duckdb_path: str | None

    def is_for(self, target: Target) -> bool:
        """Whether this record speaks of the destination and dataset `target` names."""
        path = None if target.duckdb_path is None else str(target.duckdb_path)
        return (self.destination, self.dataset, self.duckdb_path) == (
            target.destination,
            target.dataset,
            path,
        )


def record_path(working_folder: Path) -> Path:
    """The record in the pipeline's working folder (`<pipelines dir>/<pipeline>/`)."""
    return working_folder / RECORD_FILE


def _scratch_path(working_folder: Path) -> Path:
    """Where a record is written before it is renamed into place."""
    return working_folder / f"{RECORD_FILE}.new"


def record_success(working_folder: Path, target: Target) -> None:
    """Record that a run into `target` ended successfully now (the connector's clock).

    A record that cannot be written is a warning, not a failure: the load it would speak of
    has completed, and without the record the check only sees the pipeline as staler.
    """
    text = json.dumps(
        {
            "succeeded_at": format_timestamp(utc_now()),
            "destination": target.destination,
            "dataset": target.dataset,
            "duckdb_path": None if target.duckdb_path is None else str(target.duckdb_path),
        }
    )
    path, scratch = record_path(working_folder), _scratch_path(working_folder)
    try:
        scratch.unlink(missing_ok=True)  # a killed run's: writing over it would flush it too
        scratch.write_text(text, encoding="utf-8")
        path.unlink(missing_ok=True)
        scratch.rename(path)
    except OSError as exc:
        logger.warning("could not record the run's success for --check-freshness: %s", exc)


def read_last_success(working_folder: Path) -> LastSuccess | None:
    """The newest whole record in `working_folder`; None when there is none."""
    found = [_read(record_path(working_folder)), _read(_scratch_path(working_folder))]
    records = [record for record in found if record is not None]
    return max(records, key=lambda record: record.at, default=None)


def _read(path: Path) -> LastSuccess | None:
    """The record in `path`; None when it is missing or not whole."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return LastSuccess(
            at=as_utc(str(raw["succeeded_at"])),
            destination=str(raw["destination"]),
            dataset=str(raw["dataset"]),
            duckdb_path=None if raw["duckdb_path"] is None else str(raw["duckdb_path"]),
        )
    except (OSError, ValueError, TypeError, KeyError):
        return None
