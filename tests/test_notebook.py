"""notebooks/insights.py, the marimo notebook, runs every cell without error, headless.

Two ways a user runs it: as a plain script (`python notebooks/insights.py`), and exported by
marimo (`marimo export html`), which also renders every cell's output, so each Altair chart is
built and serialised; marimo exits non-zero when any cell raised. Against a loaded demo database
and against a fresh tenant's empty one.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SimFactory
from tests.cron_support import ROOT, SCRIPT, cli_env
from tests.helpers import Workspace

NOTEBOOK = ROOT / "notebooks" / "insights.py"
MARIMO = Path(sys.executable).parent / "marimo"
CHARTS = 6


def notebook_env(db: Path, cache: Path | None = None) -> dict[str, str]:
    """The database to read; marimo's session cache (`__marimo__/`) kept out of the project."""
    env = {**os.environ, "OPENCX_DUCKDB": str(db)}
    if cache is not None:
        env["PYTHONPYCACHEPREFIX"] = str(cache)
    return env


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("notebook_demo")
    db = root / "demo.duckdb"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--demo", "--demo-insights", "300", "--duckdb-path",
         str(db), "--quiet"],
        env=cli_env(root), cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return db


def run_script(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(NOTEBOOK), *args], env=env, cwd=ROOT, capture_output=True,
        text=True, timeout=300, check=False,
    )  # fmt: skip


def export_html(db: Path, output: Path) -> str:
    done = subprocess.run(
        [str(MARIMO), "export", "html", str(NOTEBOOK), "-o", str(output)],
        env=notebook_env(db, output.parent / "cache"), cwd=ROOT, capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return output.read_text(encoding="utf-8")


def test_every_cell_runs_as_a_script(demo_db: Path) -> None:
    done = run_script(env=notebook_env(demo_db))
    assert done.returncode == 0, done.stderr


def test_the_database_can_be_given_on_the_command_line(demo_db: Path) -> None:
    done = run_script("--duckdb-path", str(demo_db), env=dict(os.environ))
    assert done.returncode == 0, done.stderr


def test_every_cell_renders_with_every_chart_in_a_marimo_export(
    demo_db: Path, tmp_path: Path
) -> None:
    page = export_html(demo_db, tmp_path / "notebook.html")
    assert len(re.findall(r"vega-lite/v[\d.]+\.json", page)) == CHARTS


# runs every cell as `python notebooks/insights.py` does, and prints each cell's output
RUN_CELLS = (
    "import sys; sys.path.insert(0, sys.argv[1]); from notebooks.insights import app; "
    "outputs, _ = app.run(); print(*(o.text for o in outputs if o is not None), sep='\\n')"
)


def shown(db: Path) -> str:
    """What the notebook shows for `db`: every cell's output, as HTML."""
    done = subprocess.run(
        [sys.executable, "-c", RUN_CELLS, str(ROOT)], env=notebook_env(db), cwd=ROOT,
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_missing_database_shows_one_line_naming_it_with_a_hint_and_no_chart(
    tmp_path: Path,
) -> None:
    db = tmp_path / "nothing.duckdb"
    page = shown(db)
    assert f"<code>{db}</code>" in page
    assert f"Nothing to show</strong>: there is no DuckDB file at {db}; " in page
    assert "make demo" in page
    assert "OPENCX_DUCKDB" in page
    assert "No data yet" not in page
    assert "<h3" not in page  # no chart cell ran
    assert not db.exists()


def test_a_database_without_the_dataset_shows_one_line_and_no_chart(tmp_path: Path) -> None:
    import duckdb  # noqa: PLC0415

    db = tmp_path / "empty.duckdb"
    duckdb.connect(str(db)).close()
    page = shown(db)
    assert f"Nothing to show</strong>: {db} holds no tables of the dataset 'opencx'" in page
    assert "<h3" not in page


def test_a_fresh_tenant_runs_every_cell_and_says_there_is_no_data(
    ws: Workspace, make_sim: SimFactory, tmp_path: Path
) -> None:
    ws.load(make_sim(n_insights=0))
    assert run_script(env=notebook_env(ws.db)).returncode == 0
    page = export_html(ws.db, tmp_path / "notebook.html")
    assert not re.findall(r"vega-lite/v[\d.]+\.json", page)
    assert not (NOTEBOOK.parent / "__marimo__").exists()
