"""`python pipelines/report.py` writes one HTML file that draws offline in a real browser.

The demo command loads the simulator's data (the same path `make demo` takes, smaller) on an
injected day, a Monday morning and a Wednesday afternoon; the report of it is opened in headless
Chromium with the network cut off and Debian's own fonts. Every chart must have drawn marks, no
text may be cut by its chart's edges or overlap other text, and no two entries of a legend may
share a colour. A screenshot is kept as a test artifact (`$OPENCX_TEST_ARTIFACTS`, default
`reports/test-artifacts/`). Chromium is Debian's `chromium`: CI installs it and fails without
it; elsewhere the browser tests are skipped with the reason.
"""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pipelines.html_report.browser import CHROMIUM, dom_after_script, screenshot
from pipelines.html_report.command import NOTHING_TO_READ_EXIT
from pipelines.html_report.dashboard import TOP_N, read_dashboard
from sources.opencx.clock import NOW_VARIABLE
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
DAY = timedelta(days=1)
# the report's "today" is the day of the latest load: a Monday morning, when the running week
# is one partial day, and a Wednesday afternoon
DAYS = [
    pytest.param(datetime(2027, 3, 1, 9, 15, tzinfo=UTC), id="on-a-monday"),
    pytest.param(datetime(2027, 3, 10, 14, 30, tzinfo=UTC), id="mid-week"),
]
# Test instrumentation only (the report itself has no script): after layout, write into the
# page, as JSON, what each chart drew and every text, legend and card that does not fit.
LAYOUT_CHECK = """<script>
const found = {drawn: {}, cut: [], overlapping: [], legends: [], markFills: {}, cards: []};
const shown = (t) => t.textContent.trim() && t.getAttribute('opacity') !== '0';
const overlap = (a, b) => Math.min(a.right, b.right) - Math.max(a.left, b.left) > 1
  && Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 1;
for (const figure of document.querySelectorAll('figure.chart')) {
  const chart = figure.dataset.chart, svg = figure.querySelector('svg');
  if (!svg) { found.drawn[chart] = null; continue; }
  const frame = svg.getBoundingClientRect();
  const marks = [...svg.querySelectorAll('g.role-mark > *')];
  found.drawn[chart] = [frame.width, frame.height, marks.filter((mark) => {
    const b = mark.getBBox(); return b.width > 0 || b.height > 0; }).length];
  found.markFills[chart] = [...new Set(marks.map((m) => m.getAttribute('fill')).filter(Boolean))];
  const texts = [...svg.querySelectorAll('text')].filter(shown)
    .map((t) => [t.textContent, t.getBoundingClientRect()]);
  for (const [text, b] of texts) {
    const out = Math.max(frame.left - b.left, b.right - frame.right,
                         frame.top - b.top, b.bottom - frame.bottom);
    if (out > 0.5) found.cut.push(`${chart}: "${text}" is cut by ${out.toFixed(1)}px`);
  }
  texts.forEach(([text, b], i) => texts.slice(i + 1).forEach(([other, c]) => {
    if (overlap(b, c)) found.overlapping.push(`${chart}: "${text}" overlaps "${other}"`);
  }));
  for (const legend of svg.querySelectorAll('g.role-legend')) {
    const title = legend.querySelector('g.role-legend-title text');
    found.legends.push({chart, title: title ? title.textContent : '',
      entries: [...legend.querySelectorAll('g.role-legend-symbol')].map((symbol) => [
        symbol.parentElement.querySelector('g.role-legend-label text').textContent,
        symbol.querySelector('path').getAttribute('fill')])});
  }
}
for (const part of document.querySelectorAll('.number > div')) {
  if (part.scrollWidth > part.clientWidth) found.cards.push(part.textContent);
}
const out = document.createElement('pre');
out.id = 'layout-check'; out.textContent = JSON.stringify(found);
document.body.append(out);
</script></body>"""
LAYOUT_FOUND = re.compile(r'<pre id="layout-check">(.*?)</pre>', re.DOTALL)


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


@pytest.fixture(scope="module", params=DAYS)
def demo_db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo command's database loaded at the injected instant: simulator data with 60 days
    of activity up to that day, views created.

    The views take "today" from the latest load's `_dlt_loads.inserted_at`, which dlt stamps
    with the real clock; the demo's one load is stamped with the injected instant instead, as a
    load run at that instant writes it.
    """
    import duckdb  # noqa: PLC0415

    now: datetime = request.param
    root = tmp_path_factory.mktemp("report_demo")
    db = root / "demo.duckdb"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--demo", "--demo-insights", "600", "--duckdb-path",
         str(db), "--quiet"],
        env=cli_env(root, **{NOW_VARIABLE: now.isoformat()}), cwd=ROOT, capture_output=True,
        text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    with duckdb.connect(str(db)) as con:
        con.execute("UPDATE opencx._dlt_loads SET inserted_at = ?", [now])
    return db


@dataclass(frozen=True)
class Report:
    """The report of a demo database, written once per injected day."""

    db: Path
    path: Path
    page: str


@pytest.fixture(scope="module")
def report(demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Report:
    path = tmp_path_factory.mktemp("report") / "report.html"
    return Report(demo_db, path, write(demo_db, path))


@pytest.fixture(scope="module")
def layout(chromium: Path, report: Report) -> dict[str, Any]:
    """What LAYOUT_CHECK found in the report as Chromium laid it out."""
    match = LAYOUT_FOUND.search(dom_after_script(report.path, LAYOUT_CHECK))
    assert match, "the layout check did not run"
    found: dict[str, Any] = json.loads(html.unescape(match.group(1)))
    return found


def as_of(db: Path) -> date:
    """The day of the load the fixture stamped (the views' "today")."""
    import duckdb  # noqa: PLC0415

    with duckdb.connect(str(db), read_only=True) as con:
        (loaded,) = con.execute("SELECT MAX(inserted_at) FROM opencx._dlt_loads").fetchone() or (
            None,
        )
    assert isinstance(loaded, datetime)
    return loaded.astimezone(UTC).date()


def monday(day: date) -> date:
    return day - day.weekday() * DAY


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


def assert_self_contained(page: str) -> None:
    """Nothing to fetch: no script at all, no external source, link, import or font."""
    assert "<script" not in page.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page, re.IGNORECASE)
    assert not re.search(r"@import|url\(\s*['\"]?(https?:)?//", page, re.IGNORECASE)


def test_the_report_draws_every_chart_offline_in_chromium(
    report: Report, layout: dict[str, Any]
) -> None:
    assert_self_contained(report.page)
    assert re.findall(r'data-chart="(\w+)"', report.page) == list(CHARTS)
    drawn = layout["drawn"]
    assert set(drawn) == set(CHARTS), drawn
    for name, (width, height, marks) in drawn.items():
        assert width > 200, (name, width)
        assert height > 100, (name, height)
        assert marks >= MIN_MARKS[name], (name, marks)
    png = screenshot(report.path, artifacts() / f"report-{as_of(report.db)}.png")
    assert png.read_bytes().startswith(b"\x89PNG")
    assert png.stat().st_size > 20_000  # a blank page compresses to a few KB


def test_no_text_of_the_report_is_cut_or_drawn_over_other_text_in_chromium(
    layout: dict[str, Any],
) -> None:
    cards = [f'card: "{text}" is wider than its card' for text in layout["cards"]]
    problems = layout["cut"] + layout["overlapping"] + cards
    assert not problems, "\n".join(problems)


def test_every_legend_gives_each_entry_its_own_colour_and_the_marks_use_them(
    layout: dict[str, Any],
) -> None:
    legends = {legend["chart"]: legend for legend in layout["legends"]}
    assert {"sessions_by_category", "top_insights", "sentiment_by_week"} <= set(legends)
    for legend in layout["legends"]:
        fills = [fill for _, fill in legend["entries"]]
        shared = {fill: [label for label, f in legend["entries"] if f == fill]
                  for fill in fills if fills.count(fill) > 1}  # fmt: skip
        assert shared == {}, f"{legend['chart']}: entries that share a colour: {shared}"
    categories = legends["sessions_by_category"]["entries"]
    assert set(layout["markFills"]["sessions_by_category"]) <= {fill for _, fill in categories}


def test_the_weekly_charts_leave_out_the_running_week_and_say_so(report: Report) -> None:
    running = monday(as_of(report.db))
    board = read_dashboard(report.db)
    assert board.weekly_flow[-1]["week_start"] == running - 7 * DAY
    assert board.sentiment_by_week[-1]["week"] == running - 7 * DAY
    for chart in ("weekly_flow", "sentiment_by_week"):
        caption = re.search(rf'data-chart="{chart}">.*?<figcaption>(.*?)</figcaption>', report.page)
        assert caption, chart
        assert f"{running:%a %-d %b %Y}" in caption.group(1), caption.group(1)
        assert "left out" in caption.group(1), caption.group(1)


def complete_days_counts(db: Path, column: str) -> tuple[int, int]:
    """Insights with `column` in the last 7 complete days before the as-of day, and the 7
    before (deleted insights count too, as in weekly_insight_flow)."""
    import duckdb  # noqa: PLC0415

    today = datetime.combine(as_of(db), datetime.min.time(), UTC)
    with duckdb.connect(str(db), read_only=True) as con:
        counts = [
            con.execute(
                f"SELECT COUNT(*) FROM opencx.insights WHERE {column} >= ? AND {column} < ?",
                [today - start * DAY, today - end * DAY],
            ).fetchone()
            for start, end in ((7, 0), (14, 7))
        ]
    last, before = (int(row[0]) if row else 0 for row in counts)
    return last, before


def test_the_headline_compares_the_last_7_complete_days_with_the_7_before(
    report: Report,
) -> None:
    import duckdb  # noqa: PLC0415

    day = as_of(report.db)
    with duckdb.connect(str(report.db), read_only=True) as con:
        backlog = dict(con.execute("SELECT day, open_insights FROM opencx.daily_open_backlog")
                       .fetchall())  # fmt: skip
        (sessions_7d,) = con.execute(
            "SELECT SUM(sessions) FROM opencx.top_insights_7d"
        ).fetchone() or (None,)
        (median_hours,) = con.execute(
            "SELECT median_hours FROM opencx.resolution_times WHERE grouped_by = 'total'"
        ).fetchone() or (None,)
    open_then, open_week_before = backlog[day - DAY], backlog[day - 8 * DAY]
    created, created_before = complete_days_counts(report.db, "created_at")
    resolved, _ = complete_days_counts(report.db, "resolved_at")
    assert created > 0
    board = read_dashboard(report.db)
    assert {label: value for label, value, _ in board.headline} == {
        f"Open insights, end of {day - DAY:%-d %b}": f"{open_then:,}",
        "Sessions, last 7 complete days": f"{sessions_7d:,}",
        "Created, last 7 complete days": f"{created:,}",
        "Median time to resolve": f"{median_hours / 24:.1f} days",
    }
    details = [detail for _, _, detail in board.headline]
    assert details[0] == f"{open_then - open_week_before:+,} over the 7 days"
    assert f"({created_before:,})" in details[2]
    assert f"resolved {resolved:,}" in details[2]
    period = f"{day - 7 * DAY:%a %-d %b} to {day - DAY:%a %-d %b %Y}"
    assert f"the last 7 complete days, {period}, against the 7 days before" in report.page


def test_the_top_insights_are_the_views_ranking(demo_db: Path) -> None:
    board = read_dashboard(demo_db)
    assert [row["rank"] for row in board.top_insights] == sorted(
        row["rank"] for row in board.top_insights
    )
    assert len(board.top_insights) >= TOP_N


def test_durations_are_in_days_everywhere(report: Report) -> None:
    page = report.page
    board = read_dashboard(report.db)
    assert next(value for label, value, _ in board.headline if "resolve" in label).endswith(" days")
    assert not re.search(r"\d h\b|hours", page), "a duration in hours"
    resolution = re.search(r'data-chart="resolution_times">.*?</figure>', page, re.DOTALL)
    assert resolution
    assert ">days</text>" in resolution.group(0)


def test_a_fresh_tenant_gets_the_no_data_page(
    chromium: Path, ws: Workspace, make_sim: SimFactory, tmp_path: Path
) -> None:
    ws.load(make_sim(n_insights=0))
    page = write(ws.db, tmp_path / "empty.html")
    assert_self_contained(page)
    assert 'id="no-data"' in page
    assert "<figure" not in page
    dom = dom_after_script(tmp_path / "empty.html", "")
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
