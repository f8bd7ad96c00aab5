"""The DuckDB file the pipeline writes opens in the oldest DuckDB the docs promise (1.4), in
a second Python environment built for it, and its header names a storage version 1.4 reads."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock

from sources.opencx_simulator import Simulator, SimulatorConfig
from tests.ci_policy import ci_requested
from tests.conftest import SIM_NOW
from tests.duckdb_support import ROOT, cli_env, run_cli
from tests.helpers import TEST_KEY

pytestmark = pytest.mark.clock

# The oldest release of "DuckDB 1.4 or newer" (docs/warehouses.md, "The DuckDB file");
# MotherDuck accepts clients 1.4-1.5 and the project itself runs 1.5, so 1.4.0 is the release
# to prove.
OLDEST_PROMISED_DUCKDB = "1.4.0"
COMPAT_ROOT = ROOT / ".venv-compat"
# DuckDB 1.4.0: "we can only read versions between 64 and 67" (the header's storage number)
STORAGE_VERSIONS_1_4_READS = range(64, 68)

COUNT_TABLES = """
import json, sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
tables = [row[0] for row in con.execute(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'opencx'"
).fetchall()]
counts = {t: con.execute(f'SELECT COUNT(*) FROM opencx."{t}"').fetchone()[0] for t in tables}
print(json.dumps({"version": duckdb.__version__, "counts": counts}))
"""


def table_counts(python: Path | str, db: Path) -> dict[str, Any]:
    """Row count per table of the dataset, as DuckDB in `python`'s environment reads it."""
    result = subprocess.run(
        [str(python), "-c", COUNT_TABLES, str(db)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    payload: dict[str, Any] = json.loads(result.stdout)
    return payload


def storage_version(db: Path) -> int:
    """The storage version number in the file header (after the checksum and "DUCK")."""
    header = db.read_bytes()[:20]
    assert header[8:12] == b"DUCK", header
    return int.from_bytes(header[12:20], "little")


def compat_python() -> Path:
    """A Python with the oldest promised DuckDB, built once under `.venv-compat/` (git-ignored).

    Built under a file lock, so two test sessions on one checkout do not build it twice.
    """
    env_dir = COMPAT_ROOT / f"duckdb-{OLDEST_PROMISED_DUCKDB}"
    python = env_dir / "bin" / "python"
    COMPAT_ROOT.mkdir(exist_ok=True)
    with FileLock(str(COMPAT_ROOT / "build.lock")):
        if compat_version(python) != OLDEST_PROMISED_DUCKDB:
            shutil.rmtree(env_dir, ignore_errors=True)
            # no pip of its own (ensurepip costs seconds): this environment's pip installs into it
            subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)],
                           check=True, capture_output=True, timeout=300)  # fmt: skip
            subprocess.run(
                [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
                 "--disable-pip-version-check", f"duckdb=={OLDEST_PROMISED_DUCKDB}"],
                check=True, capture_output=True, timeout=600,
            )  # fmt: skip
    return python


def compat_version(python: Path) -> str | None:
    if not python.exists():
        return None
    result = subprocess.run(
        [str(python), "-c", "import duckdb; print(duckdb.__version__)"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return result.stdout.strip() if result.returncode == 0 else None


@pytest.fixture(scope="module")
def oldest_duckdb() -> Path:
    """The compat environment; in CI a failure to build it fails the test, never skips it."""
    try:
        python = compat_python()
    except (subprocess.SubprocessError, OSError) as exc:
        stderr = getattr(exc, "stderr", b"") or b""
        reason = f"cannot build a DuckDB {OLDEST_PROMISED_DUCKDB} environment: {exc} {stderr!r}"
        if ci_requested():
            pytest.fail(reason)
        pytest.skip(reason)
    assert compat_version(python) == OLDEST_PROMISED_DUCKDB
    return python


@dataclass(frozen=True)
class LoadedFile:
    """A DuckDB file the scheduled command wrote, and how many insights its API served."""

    path: Path
    insights: int


@pytest.fixture(scope="module")
def loaded_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoadedFile]:
    """A file written by the scheduled command, activity included (every table).

    Written once for the module: both tests only read it (the old DuckDB read-only).
    """
    root = tmp_path_factory.mktemp("compat")
    db = root / "insights.duckdb"
    config = SimulatorConfig(
        seed=7, n_insights=240, page_size=7, now=SIM_NOW, api_keys={TEST_KEY: ("*",)}
    )
    with Simulator(config) as sim:
        env = cli_env(root, DESTINATION__DUCKDB__CREDENTIALS=str(db))
        result = run_cli(env, sim, "--activity")
        assert result.returncode == 0, result.stderr
        yield LoadedFile(db, len(sim.store.ground_truth()))


def test_the_oldest_promised_duckdb_opens_the_file_and_reads_every_row(
    oldest_duckdb: Path, loaded_db: LoadedFile
) -> None:
    loaded = table_counts(sys.executable, loaded_db.path)

    old = table_counts(oldest_duckdb, loaded_db.path)

    assert old["version"] == OLDEST_PROMISED_DUCKDB
    assert old["counts"] == loaded["counts"]
    assert old["counts"]["insights"] == loaded_db.insights
    assert old["counts"]["insight_activity"] > 0


def test_the_file_uses_a_storage_version_duckdb_1_4_reads(loaded_db: LoadedFile) -> None:
    assert storage_version(loaded_db.path) in STORAGE_VERSIONS_1_4_READS
