"""Running `python pipelines/insights.py` as cron does: a real process, output captured; and
the same command in this process, for the runs a test only needs as set-up."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import pytest

from sources.opencx_simulator import Simulator
from tests.helpers import TEST_KEY, expected_insight

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "pipelines" / "insights.py"
# the settings a run reads from the environment; anything else of `env` is the shell's own
RUN_SETTINGS = ("SOURCES__", "DESTINATION__", "DLT_", "RUNTIME__")
TIMESTAMP = r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} "


def cli_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a cron job: key and paths from variables, fast retries, no pacing."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SOURCES__", "DESTINATION__", "DLT_", "RUNTIME__"))
    }
    env.update(
        {
            "DLT_DATA_DIR": str(tmp_path / "dlt_data"),
            "DESTINATION__DUCKDB__CREDENTIALS": str(tmp_path / "cli.duckdb"),
            "SOURCES__OPENCX__API_KEY": TEST_KEY,
            "SOURCES__OPENCX__REQUESTS_PER_MINUTE": "0",
            "SOURCES__OPENCX__BACKOFF_BASE_SECONDS": "0.01",
            "SOURCES__OPENCX__MAX_ATTEMPTS": "3",
            **extra,
        }
    )
    return env


def command(*args: str) -> list[str]:
    """The command line, as a crontab would spell it."""
    return [sys.executable, str(SCRIPT), *args]


def run_cli(
    env: dict[str, str], *args: str, python_args: Sequence[str] = ()
) -> subprocess.CompletedProcess[str]:
    """Run the command to completion (`python_args` go to the interpreter, before the script)."""
    return subprocess.run(
        [sys.executable, *python_args, str(SCRIPT), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def run_in_process(env: dict[str, str], *args: str) -> int:
    """The command's entry point `main()` in this process, with `env`'s settings; its exit status.

    For set-up runs (the load a test then refuses, dry-runs or reconciles): the same code path as
    `run_cli` without a second process's interpreter and import start-up. A run whose exit
    status, output, signals or locks are what the test examines stays a real process.
    """
    from pipelines.insights import main  # noqa: PLC0415

    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith(RUN_SETTINGS) and name not in env:
                patch.delenv(name)
        for name, value in env.items():
            if name.startswith(RUN_SETTINGS):
                patch.setenv(name, value)
        patch.setenv("DLT_PROJECT_DIR", str(ROOT))
        return main(list(args))


def start_cli(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    """Start the command without waiting for it."""
    return subprocess.Popen(
        command(*args),
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def only_line(stderr: str) -> str:
    """The single line a failure prints; fails when there is anything else on stderr."""
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert TEST_KEY not in stderr
    return lines[0]


class HeldRequest:
    """Holds the simulator's answer to the next `POST /insights` until the test releases it.

    A run blocked there has started (it holds its lock, made its first request) and cannot
    progress: the test decides when it continues, with no sleeps to guess.
    """

    def __init__(self, sim: Simulator) -> None:
        self.arrived = threading.Event()
        self.release = threading.Event()
        self.calls = 0
        self._lock = threading.Lock()
        sim.on_request = self._hook

    def _hook(self, _index: int, _body: Any) -> None:
        with self._lock:
            self.calls += 1
            first = self.calls == 1
        if first:
            self.arrived.set()
            self.release.wait(timeout=120)


def db_snapshot(path: Path) -> dict[str, list[str]] | None:
    """Every row of every table of the dataset, or None before the first load."""
    if not path.exists():
        return None
    with duckdb.connect(str(path), read_only=True) as con:
        tables = [
            row[0]
            for row in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'opencx' "
                "ORDER BY 1"
            ).fetchall()
        ]
        return {
            t: sorted(map(repr, con.execute(f"SELECT * FROM opencx.{t}").fetchall()))
            for t in tables
        }


def assert_insights_match(db: Path, sim: Simulator) -> None:
    """`insights` holds exactly the simulator's insights, with their current values."""
    truth = {i["id"]: expected_insight(i) for i in sim.store.ground_truth()}
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "SELECT id, occurrence_count, last_seen_at, status FROM opencx.insights"
        ).fetchall()
    assert {r[0]: r[1:] for r in rows} == {
        k: (v["occurrence_count"], v["last_seen_at"], v["status"]) for k, v in truth.items()
    }
