"""`python pipelines/report.py` writes one HTML file that draws offline in a real browser.

The demo command loads the simulator's data (the same path `make demo` takes, smaller); the
report of it is opened in headless Chromium with the network cut off, and every chart must
have drawn marks. A screenshot is kept as a test artifact (`$OPENCX_TEST_ARTIFACTS`, default
`reports/test-artifacts/`). Chromium is Debian's `chromium`: CI installs it and fails without
it; elsewhere the browser tests are skipped with the reason.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.html_report.browser import CHROMIUM, chromium_command, screenshot
from pipelines.html_report.command import NOTHING_TO_READ_EXIT
from pipelines.html_report.dashboard import TOP_N, read_dashboard
from tests.ci_policy import ci_requested
from tests.conftest import SimFactory
from tests.cron_support import ROOT, SCRIPT, cli_env
from tests.helpers import Workspace

REPORT_SCRIPT = ROOT / "pipelines" / "report.py"
CHARTS = ("sessions_by_category", "top_insights", "sentiment_by_week", "weekly_flow",
          "backlog", "resolution_times")  # fmt: skip
# mark items each chart must draw at least: bars, points, ticks; the backlog is one area and
# its line, each a single path
MIN_MARKS = {**dict.fromkeys(CHARTS, 5), "backlog": 2}
# Test instrumentation only (the report itself has no script): after layout, record on each
# figure its SVG's drawn size and how many mark items have a non-empty box.
MEASURE = """<script>
for (const figure of document.querySelectorAll('figure.chart')) {
  const svg = figure.querySelector('svg');
  if (!svg) { figure.setAttribute('data-drawn', 'none'); continue; }
  const box = svg.getBoundingClientRect();
  const marks = [...svg.querySelectorAll('g.role-mark > *')].filter((mark) => {
    const b = mark.getBBox(); return b.width > 0 || b.height > 0; }).length;
  figure.setAttribute('data-drawn', `${Math.round(box.width)}x${Math.round(box.height)}:${marks}`);
}
</script></body>"""
DRAWN = re.compile(r'data-chart="(\w+)" data-drawn="(\d+)x(\d+):(\d+)"')


def artifacts() -> Path:
    path = Path(os.environ.get("OPENCX_TEST_ARTIFACTS") or ROOT / "reports" / "test-artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def chromium() -> Path:
    if CHROMIUM.exists():
        return CHROMIUM
    reason = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    if ci_requested():
        pytest.fail(f"CI must run the browser tests: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo command's database: simulator data with 60 days of activity, views created."""
    root = tmp_path_factory.mktemp("report_demo")
    db = root / "demo.duckdb"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--demo", "--demo-insights", "600", "--duckdb-path",
         str(db), "--quiet"],
        env=cli_env(root), cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return db


def run_report(db: Path, output: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPORT_SCRIPT), "--duckdb-path", str(db), "--output", str(output)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def write(db: Path, output: Path) -> str:
    done = run_report(db, output)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"report of {db} written to {output.resolve()}"
    return output.read_text(encoding="utf-8")


def dump_dom(page: Path, profile: Path) -> str:
    """The DOM after Chromium loaded the page (scripts run, layout done), offline."""
    done = subprocess.run(
        chromium_command(page, profile, "--virtual-time-budget=10000", "--dump-dom"),
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def assert_self_contained(page: str) -> None:
    """Nothing to fetch: no script at all, no external source, link, import or font."""
    assert "<script" not in page.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page, re.IGNORECASE)
    assert not re.search(r"@import|url\(\s*['\"]?(https?:)?//", page, re.IGNORECASE)


def test_the_report_draws_every_chart_offline_in_chromium(
    chromium: Path, demo_db: Path, tmp_path: Path
) -> None:
    page = write(demo_db, tmp_path / "report.html")
    assert_self_contained(page)
    assert re.findall(r'data-chart="(\w+)"', page) == list(CHARTS)
    measured = tmp_path / "measured.html"
    measured.write_text(page.replace("</body>", MEASURE), encoding="utf-8")
    drawn = {name: (int(w), int(h), int(marks)) for name, w, h, marks in
             DRAWN.findall(dump_dom(measured, tmp_path / "profile"))}  # fmt: skip
    assert set(drawn) == set(CHARTS), drawn
    for name, (width, height, marks) in drawn.items():
        assert width > 200, (name, width)
        assert height > 100, (name, height)
        assert marks >= MIN_MARKS[name], (name, marks)
    png = screenshot(tmp_path / "report.html", artifacts() / "report.png")
    assert png.read_bytes().startswith(b"\x89PNG")
    assert png.stat().st_size > 20_000  # a blank page compresses to a few KB


def test_the_headline_numbers_are_the_views_figures(demo_db: Path) -> None:
    board = read_dashboard(demo_db)
    import duckdb  # noqa: PLC0415

    with duckdb.connect(str(demo_db), read_only=True) as con:
        (open_now,) = con.execute(
            "SELECT open_insights FROM opencx.daily_open_backlog ORDER BY day DESC LIMIT 1"
        ).fetchone() or (None,)
        (sessions_7d,) = con.execute(
            "SELECT SUM(sessions) FROM opencx.top_insights_7d"
        ).fetchone() or (None,)
    numbers = {label: value for label, value, _ in board.headline}
    assert numbers["Open insights"] == f"{open_now:,}"
    assert numbers["Sessions, last 7 days"] == f"{sessions_7d:,}"
    assert [row["rank"] for row in board.top_insights] == sorted(
        row["rank"] for row in board.top_insights
    )
    assert len(board.top_insights) >= TOP_N


def test_a_fresh_tenant_gets_the_no_data_page(
    chromium: Path, ws: Workspace, make_sim: SimFactory, tmp_path: Path
) -> None:
    ws.load(make_sim(n_insights=0))
    page = write(ws.db, tmp_path / "empty.html")
    assert_self_contained(page)
    assert 'id="no-data"' in page
    assert "<figure" not in page
    dom = dump_dom(tmp_path / "empty.html", tmp_path / "profile")
    assert "No data yet" in dom
    screenshot(tmp_path / "empty.html", artifacts() / "report_empty.png", height=600)


def test_a_missing_database_is_one_line_naming_it_with_a_hint_and_no_page(tmp_path: Path) -> None:
    db, output = tmp_path / "nothing.duckdb", tmp_path / "out" / "report.html"
    done = run_report(db, output)
    assert done.returncode == NOTHING_TO_READ_EXIT
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"error: there is no DuckDB file at {db}; ")
    assert "make demo" in line
    assert "--duckdb-path" in line
    assert done.stdout == ""
    assert not output.exists()
    assert not db.exists()


def test_a_database_without_the_dataset_is_one_line_and_keeps_the_last_report(
    tmp_path: Path,
) -> None:
    """The empty file a killed first run leaves holds no tables: nothing to report."""
    import duckdb  # noqa: PLC0415

    db, output = tmp_path / "empty.duckdb", tmp_path / "report.html"
    duckdb.connect(str(db)).close()
    output.write_text("the report of an earlier load", encoding="utf-8")
    done = run_report(db, output)
    assert done.returncode == NOTHING_TO_READ_EXIT
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"error: {db} holds no tables of the dataset 'opencx': nothing was ")
    assert "python pipelines/insights.py" in line
    assert output.read_text(encoding="utf-8") == "the report of an earlier load"
