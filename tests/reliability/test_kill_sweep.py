"""SIGKILL the command every few tens of milliseconds of a run, then run it again to the end.

The kill-point suite (test_kill_points.py) kills a run at named instants; this one sweeps time,
so that what lies between those instants is killed too, above all the start-up before the first
request: the lock taken, the pipeline folder and its state written, the DuckDB file created,
dlt's restore from the destination (which wipes a working folder whose dataset is missing).
Three runs are swept, each on DuckDB and on PostgreSQL:

- a first run, into a fresh destination;
- a scheduled run, after a first load and new sessions and insights at the API;
- the run after a killed first run (killed once its extraction committed: a load package and a
  local state wait, the destination holds no dataset), which starts by dlt wiping that folder.

Each sweep first runs the command once unkilled from its starting point and times it from the
moment it takes its run lock (the first file a run writes; the half second of imports before
changes nothing on disk, so kills there prove nothing) to its first request and to its exit.
Kills then land every `STARTUP_STEP_S` from the lock to just past the first request, where a run
only creates and opens things, and `LATER_KILLS` more spread evenly from there to just past its
exit (fetching, normalising and loading, which the kill-point suite names step by step). A kill
that lands after the run exited is fine: that run must then have exited 0.

Every kill starts from the same point (the working folder and DuckDB file copied back; on
PostgreSQL a database cloned from a template) minus the lock file, whose creation marks the start.
After the kill, before anything repairs it, the destination must hold nothing duplicated or made
up and no cursor ahead of its data (`assert_consistent_after_kill`); then the command runs again
from whatever the kill left (a lock file, a half-written folder, an empty DuckDB file, a
half-created dataset...) and must exit 0 with the destination equal to the API
(`assert_converged`). Every kill is checked and every failure reported, with its offset.

How dense: the start-up (lock to first request) lasts 130-280 ms here, so about ten kills land
in it; the windows this sweep found there are a few milliseconds wide (DuckDB creating its file,
dlt's wipe of a folder), so one sweep lands in one now and then, and the timing of each run
(scheduling, the lock seen within a millisecond) moves every kill a little from run to run. Each
window found is also a named point of the kill-point suite, killed there every time. The rest of
the run, fetching to loading, is named step by step there; five kills here check the sweep's own
reach. Cost on 2 cores: about 15 kills a sweep, each ~1.7 s (a process's imports, the kill, the
rerun in-process, the checks); the six sweeps take 2.5 to 3 minutes.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psycopg2
import pytest

from sources.opencx import settings
from sources.opencx_simulator import Simulator
from tests.conftest import SimFactory, share_clock
from tests.cron_support import run_in_process
from tests.postgres_server import PostgresServer
from tests.reliability.test_kill_points import (
    N_INSIGHTS,
    PAGE_SIZE,
    Scenario,
    assert_consistent_after_kill,
    assert_converged,
    kill_run,
    mutate_for_incremental,
    run_again,
    spawn,
)
from tests.test_cli import SCRIPT, cli_env
from tests.warehouses import DuckDBWarehouse, PostgresWarehouse, Warehouse

pytestmark = pytest.mark.warehouses

STARTUP_STEP_S = 0.025
# the start-up sweep runs this far past the first request, into the first pages
PAST_FIRST_REQUEST_S = 0.04
LATER_KILLS = 5
WAIT_SECONDS = 90.0
LOCK_POLL_S = 0.001

FIRST_RUN = "first-run"
SCHEDULED_RUN = "scheduled-run"
AFTER_A_KILLED_FIRST_RUN = "run-after-a-killed-first-run"
RUNS = [FIRST_RUN, SCHEDULED_RUN, AFTER_A_KILLED_FIRST_RUN]


@dataclass(frozen=True)
class Timing:
    """An unkilled run from the starting point, in seconds after it took its lock."""

    first_request: float
    exit: float

    def kill_offsets(self) -> list[float]:
        """Dense over the start-up, `LATER_KILLS` evenly spread over the rest and past the exit."""
        startup_end = self.first_request + PAST_FIRST_REQUEST_S
        dense = [i * STARTUP_STEP_S for i in range(int(startup_end / STARTUP_STEP_S) + 1)]
        span = max(self.exit - startup_end, 0.0) + STARTUP_STEP_S
        later = [startup_end + span * i / LATER_KILLS for i in range(1, LATER_KILLS + 1)]
        return dense + later


class StartingPoint:
    """What every kill of a sweep starts from, kept aside and put back before each kill.

    The files: the pipelines folder (less the run lock) and, on DuckDB, the database with its
    WAL, always at their own paths, so nothing recorded in them points elsewhere. On PostgreSQL
    the database the starting point was built in becomes the template of one clone per kill.
    """

    def __init__(self, tmp_path: Path, warehouse: Warehouse, server: PostgresServer | None):
        self.tmp_path = tmp_path
        self.warehouse = warehouse
        self.server = server
        self.saved = tmp_path / "starting_point"
        self.clones: list[str] = []

    @property
    def pipelines_dir(self) -> Path:
        return self.tmp_path / "dlt_data" / "pipelines"

    def database_files(self) -> list[Path]:
        if not isinstance(self.warehouse, DuckDBWarehouse):
            return []
        db = self.warehouse.path
        return [path for path in db.parent.glob(db.name + "*") if path.is_file()]

    def save(self) -> None:
        """Keep the files as they are now; the lock file stays out, so its creation marks the
        start of each run killed from here."""
        shutil.rmtree(self.saved, ignore_errors=True)
        self.saved.mkdir()
        if self.pipelines_dir.exists():
            shutil.copytree(self.pipelines_dir, self.saved / "pipelines")
            lock_file(self.saved / "pipelines").unlink(missing_ok=True)
        for path in self.database_files():
            shutil.copy2(path, self.saved / path.name)

    def restore(self) -> Warehouse:
        """The files back as saved; the warehouse the next kill loads into."""
        shutil.rmtree(self.pipelines_dir, ignore_errors=True)
        if (self.saved / "pipelines").exists():
            shutil.copytree(self.saved / "pipelines", self.pipelines_dir)
        for path in self.database_files():
            path.unlink()
        if isinstance(self.warehouse, DuckDBWarehouse):
            tmp_dir = self.warehouse.path.with_name(self.warehouse.path.name + ".tmp")
            shutil.rmtree(tmp_dir, ignore_errors=True)  # DuckDB's spill directory
            for path in self.saved.glob(self.warehouse.path.name + "*"):
                shutil.copy2(path, self.warehouse.path.parent / path.name)
            return self.warehouse
        return self.clone()

    def clone(self) -> Warehouse:
        """A new database copied from the starting point's (PostgreSQL's `TEMPLATE`)."""
        assert isinstance(self.warehouse, PostgresWarehouse)
        assert self.server is not None
        template = urlsplit(self.warehouse.dsn).path.lstrip("/")
        name = f"{template}_kill_{len(self.clones) + 1}"
        connection = psycopg2.connect(self.server.dsn)
        try:
            connection.autocommit = True  # CREATE DATABASE refuses transactions
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        finally:
            connection.close()
        dsn = self.server.database_dsn(name)
        self.clones.append(dsn)
        return PostgresWarehouse(dsn)

    def drop_clones(self) -> None:
        assert self.server is not None or not self.clones
        while self.clones:
            self.server.drop_database(self.clones.pop())  # type: ignore[union-attr]


def lock_file(pipelines_dir: Path) -> Path:
    """The run lock (`pipelines.runlock`): `<pipelines dir>/<pipeline name>.lock`."""
    return pipelines_dir / f"{settings.PIPELINE_NAME}.lock"


def scenario_on(tmp_path: Path, sim: Simulator, warehouse: Warehouse) -> Scenario:
    """The command, pointed at `warehouse` and the simulator, as the kill-point suite runs it."""
    share_clock(sim)  # the connector's now is the simulator's, in the commands started after
    env, args = warehouse.cli_settings()
    return Scenario(
        tmp_path, sim, warehouse, cli_env(tmp_path, **env), ["--base-url", sim.base_url, *args]
    )


def build_starting_point(run: str, scn: Scenario, sim: Simulator) -> None:
    """Bring the files and the destination to where `run` starts; the API is as it will stay."""
    if run == SCHEDULED_RUN:
        assert run_in_process(scn.env, *scn.args) == 0
        scn.note_served()
        mutate_for_incremental(sim)
    elif run == AFTER_A_KILLED_FIRST_RUN:
        kill_run(scn, "pause:load")  # extracted and normalised, nothing sent to the destination
    scn.note_served()


# ---------------------------------------------------------------------------- killing


@contextlib.contextmanager
def first_request_timed(sim: Simulator) -> Iterator[list[float]]:
    """Collects the monotonic time of the run's first POST /insights while the block runs."""
    seen: list[float] = []
    guard = threading.Lock()

    def note(_index: int, _body: object) -> None:
        with guard:
            if not seen:
                seen.append(time.monotonic())

    sim.on_request = note
    try:
        yield seen
    finally:
        sim.on_request = None


def started(scn: Scenario) -> tuple[subprocess.Popen[bytes], float]:
    """The command started from the starting point, and the moment it took its lock."""
    lock = lock_file(scn.pipeline_dir.parent)
    assert not lock.exists()
    proc = spawn(scn, SCRIPT, scn.env)
    deadline = time.monotonic() + WAIT_SECONDS
    while not lock.exists():
        if proc.poll() is not None:
            pytest.fail(f"the run exited ({proc.returncode}) before taking its lock")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the run never took its lock")
        time.sleep(LOCK_POLL_S)
    return proc, time.monotonic()


def time_unkilled_run(scn: Scenario) -> Timing:
    with first_request_timed(scn.sim) as first_request:
        proc, locked = started(scn)
        assert proc.wait(timeout=WAIT_SECONDS) == 0, "the unkilled run failed"
        exited = time.monotonic()
    assert first_request, "the unkilled run made no request"
    return Timing(first_request[0] - locked, exited - locked)


def kill_after(scn: Scenario, offset: float) -> str:
    """SIGKILL the command `offset` seconds after it took its lock; says what happened."""
    proc, locked = started(scn)
    time.sleep(max(locked + offset - time.monotonic(), 0.0))
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    status = proc.wait(timeout=WAIT_SECONDS)
    if status == -signal.SIGKILL:
        return "killed"
    assert status == 0, f"the run exited {status} before the kill"
    return "exited 0 before the kill"


def what_is_left(scn: Scenario) -> str:
    """The files the kill left (pipeline folder, DuckDB file), for the failure message."""
    files = [path for path in scn.pipeline_dir.rglob("*") if path.is_file()]
    if isinstance(scn.warehouse, DuckDBWarehouse):
        db = scn.warehouse.path
        files += [path for path in db.parent.glob(db.name + "*") if path.is_file()]
    return ", ".join(
        f"{path.relative_to(scn.tmp_path)} ({path.stat().st_size} B)" for path in sorted(files)
    )


def check_kill(
    scn: Scenario, offset: float, rerun: Callable[[Scenario], tuple[int, str]]
) -> str | None:
    """Kill at `offset`, check, rerun, check; None when all held, else what failed."""
    outcome = kill_after(scn, offset)
    left = what_is_left(scn)
    try:
        assert_consistent_after_kill(scn)
        assert_converged(scn, rerun(scn))
    except Exception as failed:  # every kill is checked: report them all, not the first only
        first_line = (str(failed).strip().splitlines() or [""])[0]
        return (
            f"kill {offset * 1000:.0f} ms after the lock ({outcome}): "
            f"{type(failed).__name__}: {first_line}\n    it left: {left}"
        )
    return None


# ---------------------------------------------------------------------------- the sweep


@pytest.mark.parametrize("run", RUNS)
def test_a_sigkill_at_any_instant_then_a_rerun_equals_the_api(
    tmp_path: Path,
    make_sim: SimFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
    destination: Warehouse,
    run: str,
) -> None:
    sim = make_sim(n_insights=N_INSIGHTS, page_size=PAGE_SIZE)
    server = None
    if isinstance(destination, PostgresWarehouse):
        server = request.getfixturevalue("postgres_server")
    setup = scenario_on(tmp_path, sim, destination)
    build_starting_point(run, setup, sim)
    start = StartingPoint(tmp_path, destination, server)
    start.save()
    served = setup.served

    def fresh_scenario() -> Scenario:
        scn = scenario_on(tmp_path, sim, start.restore())
        scn.served = served
        return scn

    def rerun(scn: Scenario) -> tuple[int, str]:
        return run_again(scn, monkeypatch, capsys)

    failures: list[str] = []
    try:
        timing = time_unkilled_run(fresh_scenario())
        offsets = timing.kill_offsets()
        for offset in offsets:
            failed = check_kill(fresh_scenario(), offset, rerun)
            if failed is not None:
                failures.append(failed)
            start.drop_clones()
    finally:
        start.drop_clones()
    assert not failures, (
        f"{len(failures)} of {len(offsets)} kills broke the next run ({timing}):\n"
        + "\n".join(failures)
    )
