"""A run that fails before any load commits leaves no new DuckDB file and no new pipeline folder.

Before it loads anything a first run creates dlt's pipeline folder (state, trace, the package
being extracted) and, on DuckDB, the database file, which it opens when extraction starts
(`duckdb_file.held_for_the_run`). A 401, an unreachable API or any other failure after that
used to leave both behind: an empty 12 KB database, which the report and the notebook then read
instead of the demo's, and in which the README's first query failed with a catalog error.

So what did not exist before the run (the pipeline folder, the database file, its `.wal` and
its spill directory) is removed when the run fails without having completed a load package
(`Pipeline.list_completed_load_packages`): dlt completes a package once its jobs and its
`_dlt_loads` row committed and it emptied the staging dataset (should that last step fail,
the new files go all the same, and the next run loads again). What existed before the run, a
database or a pipeline folder of earlier runs, is never touched, whatever happens.

A killed run (SIGKILL, power loss) cleans nothing up: it leaves the pipeline folder and, once
extraction started, the database file, empty or with the jobs that committed. The next run
loads what the killed one left or starts over (`runner.run_catching_up`;
tests/reliability/test_kill_points.py kills first runs at every step).
"""

from __future__ import annotations

import contextlib
import logging
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

from dlt.pipeline.pipeline import Pipeline

logger = logging.getLogger(__name__)
# DuckDB's own files beside the database: its write-ahead log and the directory it spills to
DUCKDB_COMPANIONS = (".wal", ".tmp")


@contextlib.contextmanager
def undone_unless_loaded(
    make_pipeline: Callable[[], Pipeline], working_dir: Path, database: Path | None
) -> Iterator[Pipeline]:
    """The pipeline `make_pipeline` makes; what the run created goes if no load completes.

    Removed when the block raises without a load package completed in it. `working_dir` is
    where `make_pipeline` keeps the pipeline; `database` the DuckDB file it loads into (None for
    other destinations). Exceptions propagate unchanged.
    """
    created = [path for path in _own_files(working_dir, database) if not path.exists()]
    pipeline = make_pipeline()
    completed_before = _completed(pipeline)
    try:
        yield pipeline
    except BaseException:
        if created and completed_before is not None and _completed(pipeline) == completed_before:
            remove(created)
        raise


def _own_files(working_dir: Path, database: Path | None) -> list[Path]:
    if database is None:
        return [working_dir]
    companions = [database.with_name(database.name + suffix) for suffix in DUCKDB_COMPANIONS]
    return [working_dir, database, *companions]


def _completed(pipeline: Pipeline) -> set[str] | None:
    """The pipeline's completed load packages; None when they cannot be listed (remove nothing)."""
    try:
        return set(pipeline.list_completed_load_packages())
    except Exception:
        logger.debug("cannot list the completed load packages", exc_info=True)
        return None


def remove(paths: list[Path]) -> None:
    """Delete these files and folders; what is already gone is skipped, a failure only logged.

    The run's own error is what the user must see, not a second one from cleaning up.
    """
    for path in paths:
        try:
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
        except OSError as exc:
            logger.warning("could not remove %s, left by the failed run: %s", path, exc)
