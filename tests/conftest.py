"""Fixtures: simulators on ephemeral ports, isolated dlt workspaces, and the warehouses they load
into (DuckDB files; databases on a real PostgreSQL server).

Under pytest-xdist (pyproject's addopts: `-n auto --dist loadgroup`, at most two workers) the
tests that share a module-scoped fixture go to one worker, so the fixture is built once; every
other test goes wherever a worker is free.

With CI set (`.ci/run` sets it) hypothesis runs derandomized and a skipped test fails
(tests/ci_policy.py); a local run may skip the tests of a part the machine lacks.

A module marked `pytest.mark.warehouses` runs every test that loads (uses `ws` or `destination`)
once per warehouse, with ids `duckdb` and `postgres`; elsewhere `destination` is DuckDB. A
parametrized family whose cases differ only in what the API does runs fewer cases on PostgreSQL
(CI time): `pytest.mark.warehouses(postgres_cases=[...])` lists the case ids that run there.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from _pytest.nodeid import NodeId
from hypothesis import settings

from sources.opencx.clock import NOW_VARIABLE, parse_now
from sources.opencx_simulator import Simulator, SimulatorConfig
from tests import ci_policy
from tests.ci_policy import ci_requested
from tests.helpers import SCOPELESS_KEY, TEST_KEY, Workspace
from tests.postgres_server import (
    DSN_VARIABLE,
    PostgresServer,
    PostgresUnavailableError,
    server_from_environment,
    throwaway_cluster,
)
from tests.warehouses import DUCKDB, POSTGRES, DuckDBWarehouse, PostgresWarehouse, Warehouse

# CI must be reproducible: the same examples every run (locally hypothesis keeps exploring).
# Built on hypothesis' own "ci" profile (no deadline: CI machines are slow and shared).
CI_PROFILE = "ci"
settings.register_profile(
    CI_PROFILE, parent=settings.get_profile(CI_PROFILE), derandomize=True, print_blob=True
)


if ci_requested():
    settings.load_profile(CI_PROFILE)


def pytest_report_header() -> str:
    """Say in the log which profile ran, so a CI log shows the examples were derandomized."""
    return f"hypothesis profile: {settings.get_current_profile_name()}"


# "Today" for the tests: the real hour, or the instant in OPENCX_TEST_NOW (CI runs the
# calendar-bound tests a year ahead that way). The simulator starts there, and the connector is
# told the same instant through OPENCX_NOW (`isolated_dlt`, `share_clock`), so the two agree
# whatever the date; dlt's own timestamps (load ids, `_dlt_loads`) stay real.
TEST_NOW_VARIABLE = "OPENCX_TEST_NOW"


def suite_now() -> datetime:
    """The tests' "now": OPENCX_TEST_NOW, else the start of the current UTC hour."""
    given = os.environ.get(TEST_NOW_VARIABLE, "").strip()
    if given:
        return parse_now(given)
    return datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)


SIM_NOW = suite_now()
SimFactory = Callable[..., Simulator]


def share_clock(sim: Simulator) -> None:
    """Tell the connector the simulator's time (after a test moved the simulator's clock).

    In-process runs read it at once; a command started afterwards inherits it, as does an
    environment built afterwards from `os.environ` (`cli_env`).
    """
    os.environ[NOW_VARIABLE] = sim.clock.now().isoformat()


@pytest.fixture(autouse=True)
def isolated_dlt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep dlt's global dirs and any user config out of the tests; the connector's clock reads
    the tests' "now"."""
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt_data"))
    monkeypatch.setenv("RUNTIME__LOG_LEVEL", "WARNING")
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")
    monkeypatch.setenv(NOW_VARIABLE, SIM_NOW.isoformat())
    for name in list(os.environ):
        if name.startswith(("SOURCES__", "DESTINATION__")):
            monkeypatch.delenv(name)


@pytest.fixture
def make_sim() -> Iterator[SimFactory]:
    started: list[Simulator] = []

    def make(**overrides: Any) -> Simulator:
        config: dict[str, Any] = {
            "seed": 7,
            "n_insights": 240,
            "page_size": 7,
            "now": SIM_NOW,
            "api_keys": {TEST_KEY: ("*",), SCOPELESS_KEY: ("teams:read",)},
            **overrides,
        }
        sim = Simulator(SimulatorConfig(**config))
        sim.start()
        started.append(sim)
        return sim

    yield make
    for sim in started:
        sim.stop()


@pytest.fixture
def sim(make_sim: SimFactory) -> Simulator:
    return make_sim()


WAREHOUSES = (DUCKDB, POSTGRES)
WAREHOUSES_MARKER = "warehouses"
CLOCK_MARKER = "clock"


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker here: the test support that reads it lives here too."""
    config.addinivalue_line(
        "markers",
        f"{CLOCK_MARKER}: depends on the shared clock of the connector and the simulator; CI "
        f"runs these again with {TEST_NOW_VARIABLE} a year ahead",
    )
    config.addinivalue_line(
        "markers",
        f"{WAREHOUSES_MARKER}(postgres_cases=None): run each loading test on DuckDB and on "
        "PostgreSQL; postgres_cases limits PostgreSQL to those parametrized case ids",
    )
    config.pluginmanager.register(GroupsIntoNodeIds(), "opencx-xdist-groups")
    if not config.pluginmanager.is_registered(ci_policy):  # in CI a skipped test fails
        config.pluginmanager.register(ci_policy, "tests.ci_policy")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize `destination` for tests marked `warehouses` (ids `duckdb`, `postgres`)."""
    if "destination" not in metafunc.fixturenames:
        return
    if metafunc.definition.get_closest_marker(WAREHOUSES_MARKER) is None:
        return
    metafunc.parametrize("destination", WAREHOUSES, indirect=True, ids=WAREHOUSES)


@pytest.hookimpl(tryfirst=True)  # before xdist's worker reads the groups into the node ids
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect PostgreSQL cases a `postgres_cases` list leaves out (DuckDB runs them all), and
    group the tests that share a module-scoped fixture for xdist."""
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        (dropped if _left_out_on_postgres(item) else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
    for item in items:
        group = shared_fixture_group(item)
        if group is not None and item.get_closest_marker(XDIST_GROUP_MARKER) is None:
            item.add_marker(pytest.mark.xdist_group(group))


XDIST_GROUP_MARKER = "xdist_group"


class GroupsIntoNodeIds:
    """Makes `--dist loadgroup` group under pytest 9.2.

    A worker tells the scheduler a test's group by the node id it reports, `<id>@<group>`:
    pytest-xdist 3.8 appends that to `item._nodeid`, but pytest 9.2 builds `nodeid` from
    `item._id`, so the suffix never reaches the scheduler and every group is silently spread
    over the workers (each then building the group's module fixture). After xdist's own hook,
    this writes the suffix where pytest reads it, unless it is there already.
    """

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        """On a loadgroup worker, suffix each grouped test's node id with its group."""
        if not getattr(config.option, "loadgroup", False):  # set on xdist workers only
            return
        for item in items:
            groups = sorted(
                {str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
                 for mark in item.iter_markers(XDIST_GROUP_MARKER)}
            )  # fmt: skip
            if groups and "@" not in item.nodeid:
                item._id = NodeId.parse(f"{item.nodeid}@{'_'.join(groups)}")


# Workers for `-n auto`: CI's machine has two cores, and the timing-bound tests (kill points,
# run locks, progress lines, the scan window) are proven at two; PYTEST_XDIST_AUTO_NUM_WORKERS
# overrides, as in pytest-xdist itself.
MAX_WORKERS = 2
AUTO_WORKERS_VARIABLE = "PYTEST_XDIST_AUTO_NUM_WORKERS"


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto`: one worker per usable core, at most MAX_WORKERS; none on a single core,
    where a worker would only add its start-up to a serial run."""
    given = os.environ.get(AUTO_WORKERS_VARIABLE, "").strip()
    if given.isdigit():
        return int(given)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    workers = min(cores or 1, MAX_WORKERS)
    return workers if workers > 1 else 0


def shared_fixture_group(item: pytest.Item) -> str | None:
    """The xdist group of a test that uses a module-scoped fixture: the module, plus the
    parameters of such fixtures (each parameter is built once, so a module
    whose fixture is parametrized by warehouse splits into one group per warehouse).

    Without it `--dist loadgroup` would spread the module's tests over both workers and each
    worker would build the fixture (a loaded database, a demo run) again.
    """
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return None
    module = item.nodeid.split("::", 1)[0]
    callspec = getattr(item, "callspec", None)
    params: list[str] = []
    shared = False
    for name in info.names_closure:
        definitions = info.name2fixturedefs.get(name)
        if not definitions or definitions[-1].scope != "module":
            continue
        shared = True
        if callspec is not None and name in callspec.params:
            params.append(f"{name}={callspec.params[name]}")
    if not shared:
        return None
    return f"{module}[{','.join(sorted(params))}]" if params else module


def _left_out_on_postgres(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    marker = item.get_closest_marker(WAREHOUSES_MARKER)
    if callspec is None or marker is None or callspec.params.get("destination") != POSTGRES:
        return False
    cases: Sequence[str] | None = marker.kwargs.get("postgres_cases")
    if cases is None:
        return False
    case = "-".join(part for part in callspec.id.split("-") if part != POSTGRES)
    return case not in cases


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The PostgreSQL server for the session: $OPENCX_TEST_POSTGRES_DSN, else a throw-away cluster.

    In CI a missing or broken server fails every PostgreSQL test; locally a machine without
    PostgreSQL installed skips them, saying how to get one.
    """
    try:
        given = server_from_environment()
        if given is not None:
            yield given
            return
        with throwaway_cluster() as started:
            yield started
    except PostgresUnavailableError as exc:
        give_up_on_postgres(exc, in_ci=ci_requested())


def give_up_on_postgres(exc: PostgresUnavailableError, *, in_ci: bool) -> None:
    """Fail loudly in CI or when PostgreSQL is installed but broken; skip only a machine that
    simply has none (a developer's laptop), saying how to get one."""
    if exc.installed or in_ci:
        pytest.fail(f"PostgreSQL tests cannot run: {exc}", pytrace=False)
    pytest.skip(f"no PostgreSQL server: {exc} (or set {DSN_VARIABLE})")


@pytest.fixture
def destination(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Warehouse]:
    """Where `ws` loads: a DuckDB file, or a fresh database of its own on the PostgreSQL server."""
    name = getattr(request, "param", DUCKDB)
    if name == DUCKDB:
        yield DuckDBWarehouse(tmp_path / "warehouse.duckdb")
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    dsn = server.create_database()
    try:
        yield PostgresWarehouse(dsn)
    finally:
        server.drop_database(dsn)


@pytest.fixture
def ws(tmp_path: Path, destination: Warehouse) -> Workspace:
    return Workspace(tmp_path, destination)
