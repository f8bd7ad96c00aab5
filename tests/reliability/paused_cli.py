"""The command line (``pipelines/insights.py``) with one pause point armed, for SIGKILL tests.

``OPENCX_PAUSE_AT`` names the point; when the run reaches it, the point's name is written to
``OPENCX_PAUSE_MARKER`` and the process sleeps until the test kills it. The pause changes
nothing else, so a SIGKILL while paused is a SIGKILL at that instant of an ordinary run: the
point is reached deterministically instead of by guessing a sleep.

Points (``name`` or ``name:argument``):

- ``normalize``: extraction finished (load package written), normalisation not started.
- ``normalized-uncommitted``: files normalised into ``load/new``, not yet moved to be loaded.
- ``normalized-half-committed``: package moved to ``load/normalized`` but the extracted copy
  not yet deleted (the window dlt logs as "do not kill this process").
- ``load``: normalised package ready, nothing sent to the destination yet.
- ``job-started:N`` / ``job-completed:N``: right after the N-th load job moved to started /
  completed; ``job-completed:<table>`` after the first completed job of that table.
- ``before-sql:<text>`` / ``after-sql:<text>``: before / after (inside the transaction, before
  its commit) the first destination statement containing ``<text>`` (DuckDB or PostgreSQL).
- ``after-copy:<table>``: PostgreSQL only, where dlt loads files with ``COPY`` rather than SQL
  statements: the CSV copy of ``<table>`` committed, its job not yet recorded as done.
- ``merge-committed:<table>``: the merge (SQL) job of ``<table>`` committed, dlt has not recorded
  it yet (a resumed load runs it again).
- ``insert-committed:<table>``: the insert job of ``<table>`` (dlt's ``insert_values`` file, as
  the state row is loaded) committed, dlt has not recorded it yet (a resumed load runs it again).
- ``complete-package``: every job done, the ``_dlt_loads`` row not yet written.
- ``package-archive``: ``_dlt_loads`` row written, package not yet moved to ``load/loaded``.
- ``tombstones``: a reconciliation's scan finished, deletions not yet looked up.
- ``summary``: the run is loaded and about to print its summary.
- ``repair``: after any resumed load package loaded, before the repair it owes.
- ``comments``: the run's loads completed and its views created, the comments not yet set
  (``pipelines.destination.comments``).
- ``staging-drop``: the run's loads completed, the staging dataset not yet dropped
  (``pipelines.destination.staging``).
- ``duckdb-creating``: DuckDB is creating a new database file: the file exists, empty, and its
  header is not written yet (the first ``duckdb.connect`` of a path that does not exist makes the
  file as DuckDB's own first step does, ``open(O_CREAT)``, and pauses before DuckDB writes).
- ``wipe-half-done``: dlt is wiping the pipeline's working folder (its restore found local data
  but no dataset at the destination) and its ``rmtree`` has removed the first folder, not yet
  the rest: on this machine's filesystem, ``schemas/`` gone and ``state.json`` still there.
"""

from __future__ import annotations

import contextlib
import os
import runpy
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "pipelines" / "insights.py"
_lock = threading.Lock()
_counts: dict[str, int] = {}


def pause(point: str) -> None:
    """Tell the test where we are, then wait to be killed."""
    marker = Path(os.environ["OPENCX_PAUSE_MARKER"])
    partial = marker.with_name(marker.name + ".partial")
    partial.write_text(point)
    partial.replace(marker)
    while True:
        time.sleep(60)


def _nth(key: str, n: int) -> bool:
    with _lock:
        _counts[key] = _counts.get(key, 0) + 1
        return _counts[key] == n


def _before(owner: Any, attr: str, point: str) -> None:
    original = getattr(owner, attr)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        pause(point)
        return original(*args, **kwargs)

    setattr(owner, attr, wrapper)


def _after(owner: Any, attr: str, point: str, when: Callable[[tuple[Any, ...]], bool]) -> None:
    original = getattr(owner, attr)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        if when(args):
            pause(point)
        return result

    setattr(owner, attr, wrapper)


def _job_point(owner: Any, attr: str, point: str, arg: str) -> None:
    if arg.isdigit():
        _after(owner, attr, point, lambda _args: _nth(point, int(arg)))
    else:
        _after(owner, attr, point, lambda args: str(args[2]).startswith(arg + "."))


def _sql_point(point: str, needle: str, after: bool) -> None:
    from dlt.destinations.impl.duckdb.sql_client import DuckDbSqlClient  # noqa: PLC0415
    from dlt.destinations.impl.postgres.sql_client import Psycopg2SqlClient  # noqa: PLC0415

    for client in (DuckDbSqlClient, Psycopg2SqlClient):  # only the destination's one runs
        _pause_in_queries(client, point, needle, after)


def _pause_in_queries(client: Any, point: str, needle: str, after: bool) -> None:
    original = client.execute_query

    @contextlib.contextmanager
    def execute_query(self: Any, query: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
        hit = needle in str(query) and _nth(point, 1)
        if hit and not after:
            pause(point)
        with original(self, query, *args, **kwargs) as cursor:
            if hit:
                pause(point)
            yield cursor

    client.execute_query = execute_query


def _destination_point(name: str, spec: str, arg: str) -> None:
    if name == "after-copy":
        _copy_point(spec, arg)
    elif name == "merge-committed":
        _merge_point(spec, arg)
    elif name == "insert-committed":
        _insert_point(spec, arg)
    else:
        _sql_point(spec, arg, after=name == "after-sql")


def _copy_point(point: str, table: str) -> None:
    from dlt.destinations.impl.postgres.postgres import PostgresCsvCopyJob  # noqa: PLC0415

    original = PostgresCsvCopyJob.run

    def run(self: Any) -> None:
        original(self)
        if self.load_table_name == table:
            pause(point)

    PostgresCsvCopyJob.run = run  # type: ignore[method-assign]


def _merge_point(point: str, table: str) -> None:
    from dlt.destinations.job_client_impl import SqlLoadJob  # noqa: PLC0415

    _pause_after_run(SqlLoadJob, point, table)


def _insert_point(point: str, table: str) -> None:
    from dlt.destinations.insert_job_client import InsertValuesLoadJob  # noqa: PLC0415

    _pause_after_run(InsertValuesLoadJob, point, table)


def _pause_after_run(job_class: Any, point: str, table: str) -> None:
    """Pause once a job of `table` returned: its statements ran in a transaction, committed."""
    original = job_class.run

    def run(self: Any) -> None:
        original(self)
        if self.load_table_name == table:
            pause(point)

    job_class.run = run


def _duckdb_creating_point(point: str) -> None:
    """Pause where DuckDB, creating a database file, has made it and written nothing yet."""
    import duckdb  # noqa: PLC0415

    original = duckdb.connect

    def connect(database: Any = ":memory:", *args: Any, **kwargs: Any) -> Any:
        path = Path(str(database))
        if path.is_absolute() and not path.exists():
            path.touch()  # what DuckDB's open(O_CREAT) leaves before its header is written
            pause(point)
        return original(database, *args, **kwargs)

    duckdb.connect = connect


def _wipe_point(point: str) -> None:
    """Pause right after dlt's wipe of a working folder removed its first folder."""
    from dlt.pipeline.pipeline import Pipeline  # noqa: PLC0415

    original_wipe = Pipeline._wipe_working_folder
    original_rmdir = os.rmdir
    wiping = threading.Event()

    def rmdir(path: Any, *args: Any, **kwargs: Any) -> None:
        original_rmdir(path, *args, **kwargs)
        if wiping.is_set():
            pause(point)

    def wipe(self: Any) -> None:
        wiping.set()
        try:
            original_wipe(self)
        finally:
            wiping.clear()

    os.rmdir = rmdir
    Pipeline._wipe_working_folder = wipe  # type: ignore[method-assign]


# points inside a file operation of DuckDB or of dlt's working folder
_OS_LEVEL_POINTS = {"duckdb-creating": _duckdb_creating_point, "wipe-half-done": _wipe_point}
# points just before a function of the runner runs
_RUNNER_POINTS = {
    "summary": "print_summary",
    "repair": "repair_if_owed",
    "comments": "comment_dataset",
    "staging-drop": "drop_staging_if_owed",
}


def arm(spec: str) -> None:
    """Install the pause for `spec`; imports only what that point needs."""
    name, _, arg = spec.partition(":")
    if name in ("normalize", "load"):
        from dlt.pipeline.pipeline import Pipeline  # noqa: PLC0415

        _before(Pipeline, name, spec)
    elif name in ("normalized-uncommitted", "normalized-half-committed", "package-archive"):
        from dlt.common.storages.load_storage import LoadStorage  # noqa: PLC0415

        if name == "normalized-uncommitted":
            _before(LoadStorage, "commit_new_load_package", spec)
        elif name == "normalized-half-committed":
            _after(LoadStorage, "commit_new_load_package", spec, lambda _args: True)
        else:
            _before(LoadStorage, "complete_load_package", spec)
    elif name in ("job-started", "job-completed"):
        from dlt.common.storages.load_package import PackageStorage  # noqa: PLC0415

        _job_point(PackageStorage, "start_job" if name == "job-started" else "complete_job",
                   spec, arg)  # fmt: skip
    elif name in ("before-sql", "after-sql", "after-copy", "merge-committed", "insert-committed"):
        _destination_point(name, spec, arg)
    elif name == "complete-package":
        from dlt.load.load import Load  # noqa: PLC0415

        _before(Load, "complete_package", spec)
    elif name == "tombstones":
        from sources.opencx import reconcile  # noqa: PLC0415

        _before(reconcile, "tombstones", spec)
    elif name in _OS_LEVEL_POINTS:
        _OS_LEVEL_POINTS[name](spec)
    elif name in _RUNNER_POINTS:
        from pipelines.load import runner  # noqa: PLC0415

        _before(runner, _RUNNER_POINTS[name], spec)
    else:
        raise SystemExit(f"unknown pause point {spec!r}")


def main() -> None:
    """Arm the pause, then run the real entry point exactly as `python pipelines/insights.py`."""
    os.environ.setdefault("DLT_PROJECT_DIR", str(ROOT))
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    arm(os.environ["OPENCX_PAUSE_AT"])
    sys.argv = [str(SCRIPT), *sys.argv[1:]]
    runpy.run_path(str(SCRIPT), run_name="__main__")


if __name__ == "__main__":
    main()
