"""The command keeps pandas and numpy out of runs into the destinations it is tested with, and
those runs still load everything; other destinations, and processes that already use pandas,
keep it (pipelines/command/lean_imports.py)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from sources.opencx_simulator import Simulator
from tests.cron_support import ROOT, cli_env, run_cli
from tests.lake_support import Lake, insight_rows, truth
from tests.warehouses import Warehouse

pytestmark = pytest.mark.warehouses

# runs the command, then says on its last stderr line which of the two it imported
_REPORT_AT_EXIT = (
    "import atexit, runpy, sys\n"
    "atexit.register(lambda: print('imported:', [m for m in ('pandas', 'numpy')\n"
    "                                            if m in sys.modules], file=sys.stderr))\n"
    "sys.argv = sys.argv[1:]\n"
    "runpy.run_path(sys.argv[0], run_name='__main__')\n"
)


REPORTING = ("-c", _REPORT_AT_EXIT)


def run_in_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )


def test_pandas_and_numpy_are_installed_else_these_tests_prove_nothing() -> None:
    for installed in ("pandas", "numpy"):
        assert importlib.util.find_spec(installed) is not None, installed


def test_hidden_pandas_and_numpy_look_uninstalled_while_duckdb_and_arrow_still_work() -> None:
    result = run_in_python(
        "import sys\n"
        "from pipelines.command.lean_imports import hide_unused_modules\n"
        "assert hide_unused_modules('duckdb') is not None\n"
        "import datetime, duckdb, pyarrow as pa\n"
        "t = pa.table({'at': [datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)]})\n"
        "assert duckdb.connect().execute('SELECT ?', ['x']).fetchall() == [('x',)]\n"
        "for name in ('pandas', 'numpy'):\n"
        "    try:\n"
        "        __import__(name)\n"
        "    except ModuleNotFoundError:\n"
        "        print('hidden', name, t.num_rows, name in sys.modules)\n"
    )
    assert (result.returncode, result.stdout.splitlines()) == (
        0,
        ["hidden pandas 1 False", "hidden numpy 1 False"],
    ), result.stderr


@pytest.mark.parametrize("destination_name", ["bigquery", "snowflake", "motherduck"])
def test_a_destination_the_command_is_not_tested_with_keeps_pandas(destination_name: str) -> None:
    result = run_in_python(
        "from pipelines.command.lean_imports import hide_unused_modules\n"
        f"assert hide_unused_modules({destination_name!r}) is None\n"
        "import pandas, numpy\n"
        "print(pandas.DataFrame({'a': [1]}).shape)\n"
    )
    assert (result.returncode, result.stdout.strip()) == (0, "(1, 1)"), result.stderr


def test_a_process_that_already_imported_pandas_keeps_it() -> None:
    result = run_in_python(
        "import pandas\n"
        "from pipelines.command.lean_imports import hide_unused_modules\n"
        "assert hide_unused_modules('duckdb') is None\n"
        "import pandas.testing, numpy.linalg\n"
        "print(pandas.DataFrame({'a': [1, 2]}).shape)\n"
    )
    assert (result.returncode, result.stdout.strip()) == (0, "(2, 1)"), result.stderr


def test_the_command_loads_into_each_tested_warehouse_without_pandas_or_numpy(
    destination: Warehouse, sim: Simulator, tmp_path: Path
) -> None:
    settings, args = destination.cli_settings()
    env = cli_env(tmp_path, **settings)
    for run in ("first load (append)", "new occurrences (merge, scd2)"):
        if run.startswith("new"):
            sim.store.bump_counts(5, rng_seed=3)
        result = run_cli(env, "--base-url", sim.base_url, *args, python_args=REPORTING)
        assert result.returncode == 0, (run, result.stderr)
        assert result.stderr.splitlines()[-1] == "imported: []", run
    loaded = destination.execute("SELECT id, occurrence_count FROM insights")[1]
    assert dict(loaded) == {i["id"]: i["occurrence_count"] for i in sim.store.ground_truth()}


@pytest.mark.parametrize("table_format", ["parquet", "delta"])
def test_the_command_loads_into_a_local_lake_without_pandas_or_numpy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sim: Simulator, table_format: str
) -> None:
    lake = Lake(tmp_path, monkeypatch, table_format)
    env = lake.command_env(tmp_path)
    args = ("--base-url", sim.base_url, "--destination", "filesystem")

    result = run_cli(env, *args, python_args=REPORTING)

    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[-1] == "imported: []"
    assert dict(insight_rows(lake.rows("insights"))) == truth(sim)
