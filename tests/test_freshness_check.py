"""`--check-freshness BOUND`: one line and a Nagios status for the pipeline's newest successful run.

Fresh (0, OK), stale or never loaded (2, CRITICAL), cannot tell (3, UNKNOWN), on DuckDB and
PostgreSQL, with no request and no API key. A scheduled run with nothing new loads nothing (no
row in `_dlt_loads`) but keeps the pipeline fresh; a failed run never does.

The check's "now" is the connector's clock (`OPENCX_NOW`). A run through the command ends at
the connector's time (its record) and dlt stamps its load with the real clock, so the newest
successful run after a load at the tests' "now" is the later of the two.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from pipelines.command.freshness import CHECK_STATUSES, parse_bound
from sources.opencx.clock import NOW_VARIABLE, as_utc, format_timestamp
from sources.opencx.errors import ConfigValueError
from sources.opencx_simulator import Simulator
from tests.conftest import SIM_NOW, share_clock
from tests.cron_support import HeldRequest, cli_env, run_cli, run_in_process, start_cli
from tests.docs_support import section
from tests.helpers import TEST_KEY
from tests.warehouses import DuckDBWarehouse, Warehouse

pytestmark = [pytest.mark.warehouses, pytest.mark.clock]

PIPELINE = "opencx_insights"
DATASET = "opencx"


class Cron:
    """The scheduled command against one warehouse and simulator, and its monitor."""

    def __init__(self, tmp_path: Path, sim: Simulator, warehouse: Warehouse) -> None:
        settings, self.args = warehouse.cli_settings()
        self.env = cli_env(tmp_path, **settings)
        self.tmp_path, self.sim, self.warehouse = tmp_path, sim, warehouse

    def run(self, **env: str) -> int:
        """A scheduled run, in this process, at the connector's current clock."""
        return run_in_process({**self.env, **env}, "--base-url", self.sim.base_url, *self.args)

    def check(self, bound: str, at: datetime, *args: str) -> subprocess.CompletedProcess[str]:
        """The monitor's check at `at`, as a process, without the API key."""
        env = {**self.env, NOW_VARIABLE: at.isoformat()}
        del env["SOURCES__OPENCX__API_KEY"]
        return run_cli(env, "--check-freshness", bound, *self.args, *args)

    def loads(self) -> int:
        return int(self.warehouse.execute("SELECT count(*) FROM _dlt_loads")[1][0][0])

    def newest_load(self) -> datetime:
        """dlt's stamp of the newest completed load (real clock)."""
        rows = self.warehouse.execute("SELECT max(inserted_at) FROM _dlt_loads WHERE status = 0")
        return as_utc(rows[1][0][0])

    def where(self) -> str:
        if isinstance(self.warehouse, DuckDBWarehouse):
            return f"duckdb {self.warehouse.path}"
        return self.warehouse.name


@pytest.fixture
def cron(tmp_path: Path, sim: Simulator, destination: Warehouse) -> Cron:
    return Cron(tmp_path, sim, destination)


@pytest.fixture
def duckdb_cron(tmp_path: Path, sim: Simulator) -> Cron:
    return Cron(tmp_path, sim, DuckDBWarehouse(tmp_path / "warehouse.duckdb"))


def first_success(cron: Cron) -> datetime:
    """A first run at the tests' "now"; when its success counts (see the module's doc)."""
    assert cron.run() == 0
    return max(cron.newest_load(), SIM_NOW)


def later_run_with_nothing_new(cron: Cron, hours: float) -> datetime:
    """Move the API's and the connector's clock on by `hours`, run with nothing new; its time."""
    loads = cron.loads()
    cron.sim.clock.advance(hours=hours)
    share_clock(cron.sim)
    ran_at = cron.sim.clock.now()
    assert cron.run() == 0
    assert cron.loads() == loads, "the run must have loaded nothing"
    return ran_at


def test_a_pipeline_loaded_within_the_bound_is_ok_without_a_request_or_a_key(
    cron: Cron,
) -> None:
    last = first_success(cron)
    cron.sim.clear_requests()

    result = cron.check("2h", at=last + timedelta(minutes=10))

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == (
        f"OK: {PIPELINE} last successful run {format_timestamp(last)} (10m ago, bound 2h)\n"
    )
    assert result.stderr == ""
    assert cron.sim.requests == []


def test_a_pipeline_loaded_longer_ago_than_the_bound_is_critical(cron: Cron) -> None:
    last = first_success(cron)

    result = cron.check("15m", at=last + timedelta(hours=1))

    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == (
        f"CRITICAL: {PIPELINE} is stale: last successful run {format_timestamp(last)} "
        "(1h ago, bound 15m)\n"
    )


def test_a_pipeline_never_loaded_is_critical_and_nothing_is_created(cron: Cron) -> None:
    result = cron.check("2h", at=SIM_NOW)

    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == (
        f"CRITICAL: {PIPELINE} never loaded into {cron.where()}, dataset {DATASET}\n"
    )
    assert cron.warehouse.tables() == set()
    assert not (cron.tmp_path / "warehouse.duckdb").exists()
    assert not (cron.tmp_path / "dlt_data" / "pipelines").exists()
    assert cron.sim.requests == []


def test_a_run_with_nothing_new_keeps_the_pipeline_fresh(cron: Cron) -> None:
    first_success(cron)
    ran_at = later_run_with_nothing_new(cron, hours=4)

    result = cron.check("2h", at=ran_at + timedelta(minutes=10))

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"last successful run {format_timestamp(ran_at)} (10m ago, bound 2h)" in result.stdout


def test_a_failed_run_does_not_make_the_pipeline_fresh(cron: Cron) -> None:
    last = first_success(cron)
    cron.sim.store.bump_counts(5)  # something new the failed run would have loaded
    cron.sim.clock.advance(hours=4)
    share_clock(cron.sim)
    failed_at = cron.sim.clock.now()
    assert cron.run(SOURCES__OPENCX__API_KEY="ocx_live_revoked") == 3

    result = cron.check("2h", at=failed_at + timedelta(minutes=10))

    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout.startswith(
        f"CRITICAL: {PIPELINE} is stale: last successful run {format_timestamp(last)} "
    )


def test_quiet_prints_nothing_when_fresh_and_the_line_when_stale(cron: Cron) -> None:
    last = first_success(cron)

    fresh = cron.check("2h", last + timedelta(minutes=1), "--quiet")
    stale = cron.check("1m", last + timedelta(minutes=2), "--quiet")

    assert (fresh.returncode, fresh.stdout) == (0, "")
    assert stale.returncode == 2
    assert stale.stdout.startswith(f"CRITICAL: {PIPELINE} is stale:")


def test_a_record_of_another_duckdb_file_does_not_count(duckdb_cron: Cron) -> None:
    first_success(duckdb_cron)
    ran_at = later_run_with_nothing_new(duckdb_cron, hours=4)
    copy = duckdb_cron.tmp_path / "restored.duckdb"
    shutil.copyfile(duckdb_cron.tmp_path / "warehouse.duckdb", copy)

    result = duckdb_cron.check("2h", ran_at + timedelta(minutes=10), "--duckdb-path", str(copy))

    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout.startswith(f"CRITICAL: {PIPELINE} is stale:")


def test_a_record_does_not_count_once_the_destination_lost_every_load(duckdb_cron: Cron) -> None:
    first_success(duckdb_cron)
    ran_at = later_run_with_nothing_new(duckdb_cron, hours=1)
    (duckdb_cron.tmp_path / "warehouse.duckdb").unlink()  # the database was lost or replaced

    result = duckdb_cron.check("2h", ran_at + timedelta(minutes=10))

    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == (
        f"CRITICAL: {PIPELINE} never loaded into {duckdb_cron.where()}, dataset {DATASET}\n"
    )


def test_while_a_run_holds_the_file_the_check_answers_at_once_and_the_run_succeeds(
    duckdb_cron: Cron,
) -> None:
    first_success(duckdb_cron)  # its record: the run ended at the tests' "now"
    duckdb_cron.sim.store.bump_counts(3)
    held = HeldRequest(duckdb_cron.sim)
    running = start_cli(duckdb_cron.env, "--base-url", duckdb_cron.sim.base_url)
    try:
        assert held.arrived.wait(timeout=60), "the run never reached the API"
        started = time.monotonic()
        result = duckdb_cron.check("2h", SIM_NOW + timedelta(minutes=10))
        took = time.monotonic() - started
        assert running.poll() is None, "the run must still be going"
    finally:
        held.release.set()
    out, err = running.communicate(timeout=120)

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == (
        f"OK: {PIPELINE} last successful run {format_timestamp(SIM_NOW)} "
        "(10m ago, bound 2h; a run is going)\n"
    )  # the record alone: the file is the run's
    assert took < 30
    assert running.returncode == 0, err
    assert "loaded into" in out


def test_each_org_is_judged_and_the_worst_status_wins(tmp_path: Path, sim: Simulator) -> None:
    env = cli_env(tmp_path, SOURCES__OPENCX__ACME__API_KEY=TEST_KEY)
    assert run_in_process(env, "--base-url", sim.base_url, "--orgs", "acme") == 0
    database = tmp_path / "cli.duckdb"
    with duckdb.connect(str(database), read_only=True) as connection:
        loaded = connection.execute("SELECT max(inserted_at) FROM opencx_acme._dlt_loads")
        last = max(as_utc(loaded.fetchall()[0][0]), SIM_NOW)
    check_env = {**env, NOW_VARIABLE: (last + timedelta(minutes=5)).isoformat()}

    result = run_cli(check_env, "--check-freshness", "1h", "--orgs", "acme,globex")

    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == (
        f"CRITICAL: {PIPELINE}_acme last successful run {format_timestamp(last)} "
        f"(5m ago, bound 1h); {PIPELINE}_globex never loaded into duckdb {database}, "
        "dataset opencx_globex\n"
    )


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("15m", 15 * 60),
        ("2h", 2 * 3600),
        ("1d", 86400),
        ("1h30m", 5400),
        (" 2H ", 7200),
    ],
)
def test_a_bound_is_a_whole_number_and_a_unit(text: str, seconds: int) -> None:
    assert parse_bound(text).span == timedelta(seconds=seconds)


@pytest.mark.parametrize(
    "text", ["2x", "", "h", "2", "-1h", "1.5h", "2 h", "1h 30m", "0s", "0h0m", "P1D", "2w"]
)
def test_a_bad_bound_is_refused_naming_the_flag(text: str) -> None:
    with pytest.raises(ConfigValueError, match=r"^--check-freshness '") as refused:
        parse_bound(text)
    assert "\n" not in str(refused.value)


def test_a_bad_bound_is_unknown_in_one_line_without_touching_anything(
    tmp_path: Path, sim: Simulator
) -> None:
    env = cli_env(tmp_path)
    del env["SOURCES__OPENCX__API_KEY"]

    result = run_cli(env, "--check-freshness", "2x")

    assert result.returncode == 3, result.stdout + result.stderr
    assert result.stdout == (
        "UNKNOWN: --check-freshness '2x' is not a duration: use a whole number and a unit "
        "s, m, h or d: 90s, 15m, 2h, 1d, 1h30m\n"
    )
    assert result.stderr == ""
    assert not (tmp_path / "cli.duckdb").exists()
    assert not (tmp_path / "dlt_data").exists()
    assert sim.requests == []


def test_an_unreadable_destination_is_unknown(tmp_path: Path) -> None:
    env = cli_env(
        tmp_path, DESTINATION__POSTGRES__CREDENTIALS="postgresql://u:secret@127.0.0.1:9/x"
    )
    del env["SOURCES__OPENCX__API_KEY"]

    result = run_cli(env, "--check-freshness", "2h", "--destination", "postgres")

    assert result.returncode == 3, result.stdout + result.stderr
    assert result.stdout.startswith(f"UNKNOWN: {PIPELINE}: ")
    assert len(result.stdout.splitlines()) == 1
    assert "secret" not in result.stdout + result.stderr


def test_the_operations_page_lists_exactly_the_checks_statuses() -> None:
    table = section("operations", "Monitoring freshness")
    rows = re.findall(r"^\| (\d) \| `(\w+)`", table, re.M)
    assert {int(code): word for code, word in rows} == CHECK_STATUSES
