"""A non-editable install carries what the code reads from beside itself: the views' SQL."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from sources.opencx import views

ROOT = Path(__file__).resolve().parent.parent


def project_copy(into: Path) -> Path:
    """What a build reads, copied, so the build's own folders never land in the checkout."""
    into.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, into / name)
    for package in ("sources", "pipelines"):
        shutil.copytree(
            ROOT / package, into / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    return into


@pytest.mark.slow
def test_the_wheel_holds_every_views_sql_file(tmp_path: Path) -> None:
    project = project_copy(tmp_path / "project")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(tmp_path / "dist"), str(project)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for view in views.VIEW_NAMES:
        assert f"sources/opencx/view_sql/{view}.sql" in names, view
