"""One run at a time per pipeline: an OS file lock next to the pipeline's working directory.

Two runs of one pipeline would share dlt's working directory and state: the second could load
the first one's half-written package or move the cursor under it. cron starts the next hourly
run whether or not the last one (a long reconciliation, a rate-limited backfill) has finished,
so the command must refuse by itself.

`filelock` takes a kernel lock (flock) on the file, which the kernel drops when the process
ends however it ends, SIGKILL and power loss included: a killed run never leaves a stale lock
behind, which a pid file cannot promise.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from pipelines.failures import RunLockedError


def lock_path(pipelines_dir: Path, pipeline_name: str) -> Path:
    """`<pipelines dir>/<pipeline name>.lock`, beside the working dir dlt keeps there."""
    return pipelines_dir / f"{pipeline_name}.lock"


@contextlib.contextmanager
def run_lock(pipelines_dir: Path, pipeline_name: str) -> Iterator[Path]:
    """Hold the pipeline's lock for the block, or raise RunLockedError at once."""
    path = lock_path(pipelines_dir, pipeline_name)
    path.parent.mkdir(parents=True, exist_ok=True)
    # never the soft (marker-file) fallback: a marker would outlive a SIGKILLed run
    lock = FileLock(str(path), timeout=0, fallback_to_soft=False)
    try:
        lock.acquire()
    except Timeout:
        raise RunLockedError(
            f"another run of pipeline {pipeline_name} is going (it holds {path}); this run "
            "did nothing. Runs of the same pipeline cannot overlap: schedule them further "
            "apart, or wait for the other run to finish"
        ) from None
    try:
        yield path
    finally:
        lock.release()


@contextlib.contextmanager
def unless_running(pipelines_dir: Path, pipeline_name: str) -> Iterator[bool]:
    """Hold the pipeline's lock for the block if no run holds it (True); False at once if one does.

    For a reader that must not open the pipeline's DuckDB file while a run has it (the
    freshness check): a run that starts meanwhile stops at the lock, having done nothing.
    Creates no folder: without the pipelines dir no run of this machine can be going, and
    the block runs without the lock (True).
    """
    path = lock_path(pipelines_dir, pipeline_name)
    if not path.parent.is_dir():
        yield True
        return
    lock = FileLock(str(path), timeout=0, fallback_to_soft=False)
    try:
        lock.acquire()
    except Timeout:
        yield False
        return
    try:
        yield True
    finally:
        lock.release()
