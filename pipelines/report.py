"""One self-contained HTML report of the dashboard views, for a user with no notebook or BI tool.

``python pipelines/report.py [--duckdb-path PATH] [--output PATH]`` reads the DuckDB file
read-only and writes one HTML file with the headline numbers and charts. The charts are Altair
specs rendered to SVG here, by vl-convert, and inlined: the page has no script and loads
nothing, so it opens in a browser without network access (Altair's and marimo's own HTML load
Vega from a CDN and render blank offline). A tenant without insights yet gets a "no data yet"
page; a file that is missing or holds no table of the dataset (nothing was ever loaded into
it) is an error: one line naming the file, with a hint, and no page.

Needs the `report` extra (altair, vl-convert-python); the connector itself does not.
"""

from __future__ import annotations

import argparse
import html
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

DEFAULT_DUCKDB = PROJECT_ROOT / "data" / "opencx_insights.duckdb"
DEFAULT_OUTPUT = PROJECT_ROOT / "reports" / "opencx_insights.html"
DEMO_DUCKDB = PROJECT_ROOT / "data" / "opencx_demo.duckdb"
DEMO_OUTPUT = PROJECT_ROOT / "reports" / "opencx_demo.html"
DATASET = "opencx"
NOTHING_TO_READ_EXIT = 2
LOAD_FIRST = "load insights first (make demo, or python pipelines/insights.py with your key)"
TOP_N = 10  # also in the SQL reading top_insights_7d
UNCATEGORISED = "(uncategorised)"
Row = dict[str, Any]
SENTIMENT_COLOURS = {"angry": "#d62728", "happy": "#2ca02c", "neutral": "#9e9e9e"}
CHROMIUM = Path("/usr/bin/chromium")
# a browser that reaches nothing: no profile, no background traffic, every host unresolvable
# and every connection sent to a closed port, so a page that needed the network would show it
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
    "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
)  # fmt: skip


@dataclass
class Dashboard:
    """What the report shows, read from the views; `missing` says why a part is empty."""

    as_of: date | None = None
    headline: list[tuple[str, str, str]] = field(default_factory=list)  # label, value, detail
    sessions_by_category: list[Row] = field(default_factory=list)
    top_insights: list[Row] = field(default_factory=list)
    sentiment_by_week: list[Row] = field(default_factory=list)
    weekly_flow: list[Row] = field(default_factory=list)
    backlog: list[Row] = field(default_factory=list)
    resolution_by_category: list[Row] = field(default_factory=list)
    resolution_by_team: list[Row] = field(default_factory=list)
    missing: str | None = None

    @property
    def has_data(self) -> bool:
        """Insights exist: every chart but the activity ones has something to draw."""
        return bool(self.backlog)


# ------------------------------------------------------------------------------ reading


def nothing_to_read(db: Path, dataset: str = DATASET) -> str | None:
    """Why `db` has nothing to show, naming the file; None when it holds the dataset.

    A file that is missing, or that holds no table of `dataset` (the empty file of a run that
    was killed before its first load), has no dashboard to draw: the report and the notebook
    say so instead of showing an empty page. A tenant without insights yet still has the
    dataset (dlt's tables and the views) and gets the "no data yet" page.
    """
    if not db.is_file():
        return f"there is no DuckDB file at {db}"
    import duckdb  # noqa: PLC0415 - only when there is a file to read

    with duckdb.connect(str(db), read_only=True) as con:
        found = con.execute(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = ?", [dataset]
        ).fetchone()
    if not found or not found[0]:
        return f"{db} holds no tables of the dataset {dataset!r}: nothing was loaded into it"
    return None


def demo_hint(db: Path, how: str) -> str:
    """`; the demo's insights are in <file> (how)` unless `db` is that file or it has none."""
    import duckdb  # noqa: PLC0415

    try:
        demo_has_none = db == DEMO_DUCKDB or nothing_to_read(DEMO_DUCKDB) is not None
    except duckdb.Error:  # a demo load holds the file: no hint rather than a second error
        demo_has_none = True
    return "" if demo_has_none else f"; the demo's insights are in {DEMO_DUCKDB} ({how})"


def read_dashboard(db: Path, dataset: str = DATASET) -> Dashboard:
    """The views' figures, or an empty dashboard saying what is missing."""
    if not db.exists():
        return Dashboard(missing=f"there is no database at {db} yet")
    import duckdb  # noqa: PLC0415 - only when there is a file to read

    with duckdb.connect(str(db), read_only=True) as con:
        found = {
            row[0]
            for row in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = ?",
                [dataset],
            ).fetchall()
        }
        if "insights_enriched" not in found:
            return Dashboard(missing=f"the dataset {dataset!r} has no dashboard views yet")
        con.execute(f"SET search_path = '{dataset}'")

        def rows(sql: str) -> list[Row]:
            cursor = con.execute(sql)
            names = [d[0] for d in cursor.description or []]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

        return _dashboard(rows)


def _dashboard(rows: Callable[[str], list[Row]]) -> Dashboard:
    board = Dashboard(
        backlog=rows("SELECT day, open_insights FROM daily_open_backlog ORDER BY day"),
        sessions_by_category=rows(
            "SELECT day, COALESCE(category_name, '(uncategorised)') AS category, "
            "SUM(sessions) AS sessions FROM daily_insight_sessions GROUP BY ALL ORDER BY day"
        ),
        top_insights=rows("SELECT * FROM top_insights_7d WHERE rank <= 10 ORDER BY rank"),
        sentiment_by_week=rows(
            "SELECT CAST(date_trunc('week', day) AS DATE) AS week, sentiment, "
            "SUM(sessions) AS sessions FROM daily_insight_sessions GROUP BY ALL ORDER BY week"
        ),
        weekly_flow=rows("SELECT * FROM weekly_insight_flow ORDER BY week_start"),
        resolution_by_category=rows(
            "SELECT COALESCE(category_name, '(uncategorised)') AS name, resolved, "
            "median_hours, p90_hours FROM resolution_times WHERE grouped_by = 'category' "
            "ORDER BY median_hours"
        ),
        resolution_by_team=rows(
            "SELECT COALESCE(team_name, '(no team)') AS name, resolved, median_hours, "
            "p90_hours FROM resolution_times WHERE grouped_by = 'team' ORDER BY median_hours"
        ),
    )
    if not board.has_data:
        board.missing = "the dataset has no insights yet"
        return board
    board.as_of = board.backlog[-1]["day"]
    board.headline = _headline(board, rows)
    return board


def _headline(board: Dashboard, rows: Callable[[str], list[Row]]) -> list[tuple[str, str, str]]:
    """Open backlog, sessions last 7 complete days, this week's flow, time to resolve."""
    backlog = [row["open_insights"] for row in board.backlog]
    week_ago = backlog[-8] if len(backlog) > 7 else 0
    periods = rows(
        "SELECT SUM(CASE WHEN day > CAST(as_of AS DATE) - 8 THEN sessions END) AS last_7, "
        "SUM(CASE WHEN day <= CAST(as_of AS DATE) - 8 THEN sessions END) AS previous_7 "
        "FROM daily_insight_sessions, (SELECT MAX(day) AS as_of FROM daily_open_backlog) "
        "WHERE day BETWEEN as_of - 14 AND as_of - 1"
    )[0]
    last_7, previous_7 = int(periods["last_7"] or 0), int(periods["previous_7"] or 0)
    this_week = board.weekly_flow[-1] if board.weekly_flow else {}
    total = rows("SELECT * FROM resolution_times WHERE grouped_by = 'total'")
    return [
        ("Open insights", f"{backlog[-1]:,}", f"{_signed(backlog[-1] - week_ago)} in 7 days"),
        ("Sessions, last 7 days", f"{last_7:,}", _versus(last_7, previous_7)),
        ("Created this week", f"{this_week.get('created', 0):,}",
         f"resolved {this_week.get('resolved', 0):,}, archived {this_week.get('archived', 0):,}"),
        ("Median time to resolve", _hours(total[0]["median_hours"]) if total else "n/a",
         f"p90 {_hours(total[0]['p90_hours'])}" if total else "nothing resolved yet"),
    ]  # fmt: skip


def _signed(change: int) -> str:
    return f"{change:+,}"


def _versus(now: int, before: int) -> str:
    if before == 0:
        return "no sessions in the 7 days before"
    return f"{(now - before) / before:+.0%} against the 7 days before ({before:,})"


def _hours(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.1f} h" if value < 48 else f"{value / 24:.1f} days"


# ------------------------------------------------------------------------------ charts


@dataclass(frozen=True)
class Chart:
    """One figure of the report: a title, a sentence, and the chart (None: nothing to draw)."""

    key: str
    title: str
    caption: str
    svg: str | None
    empty_reason: str = ""


def build_charts(board: Dashboard) -> list[Chart]:
    """Every chart of the report, rendered to SVG."""
    import altair as alt  # noqa: PLC0415 - the report extra, only when rendering

    no_activity = "no window-scoped activity loaded (run with --activity)"
    specs: list[tuple[str, str, str, list[Row], Callable[[Any, list[Row]], Any], str]] = [
        ("sessions_by_category", "Sessions per day by category",
         "Sessions in each UTC day, stacked by the insight's category.",
         board.sessions_by_category, sessions_chart, no_activity),
        ("top_insights", f"Top {TOP_N} insights, last 7 complete days",
         "Sessions per insight; the label is the insight number and its text.",
         board.top_insights, top_chart, no_activity),
        ("sentiment_by_week", "Sentiment mix per week",
         "Share of each week's sessions by the insight's sentiment (weeks start Monday).",
         board.sentiment_by_week, sentiment_chart, no_activity),
        ("weekly_flow", "Weekly flow",
         "Insights created, resolved, archived and deleted per week.",
         board.weekly_flow, flow_chart, "no insights yet"),
        ("backlog", "Open backlog",
         "Insights open at the end of each UTC day.",
         board.backlog, backlog_chart, "no insights yet"),
        ("resolution_times", "Time to resolve by category",
         "Median hours from creation to resolution (bar) and the 90th percentile (tick).",
         board.resolution_by_category, resolution_chart, "nothing resolved yet"),
    ]  # fmt: skip
    return [
        Chart(key, title, caption, _svg(build(alt, data)) if data else None, reason)
        for key, title, caption, data, build, reason in specs
    ]


def _svg(chart: Any) -> str:
    import vl_convert  # noqa: PLC0415

    return vl_convert.vegalite_to_svg(chart.to_dict())


def _values(rows: Sequence[Row]) -> list[Row]:
    """Rows as JSON-ready values: dates as ISO strings (Vega-Lite parses them as UTC)."""
    return [
        {k: v.isoformat() if isinstance(v, date | datetime) else v for k, v in row.items()}
        for row in rows
    ]


def sessions_chart(alt: Any, rows: list[Row]) -> Any:
    return (
        alt.Chart(alt.Data(values=_values(rows)), width=760, height=260)
        .mark_bar()
        .encode(
            x=alt.X("utcyearmonthdate(day):T", title=None),
            y=alt.Y("sum(sessions):Q", title="sessions"),
            color=alt.Color("category:N", title="category"),
        )
    )


def top_chart(alt: Any, rows: list[Row]) -> Any:
    labelled = [{**row, "label": _label(row)} for row in rows]
    return (
        alt.Chart(alt.Data(values=_values(labelled)), width=520, height=24 * len(rows))
        .mark_bar()
        .encode(
            y=alt.Y("label:N", sort=None, title=None, axis=alt.Axis(labelLimit=360)),
            x=alt.X("sessions:Q", title="sessions"),
            color=_sentiment_colour(alt),
        )
    )


def _sentiment_colour(alt: Any) -> Any:
    """The same colour for a sentiment in every chart: angry red, happy green, neutral grey."""
    scale = alt.Scale(domain=list(SENTIMENT_COLOURS), range=list(SENTIMENT_COLOURS.values()))
    return alt.Color("sentiment:N", title="sentiment", scale=scale)


def _label(row: Row) -> str:
    text = " ".join(str(row.get("content") or "").split())
    return f"#{row['insight_number']} {text[:60]}{'...' if len(text) > 60 else ''}"


def sentiment_chart(alt: Any, rows: list[Row]) -> Any:
    return (
        alt.Chart(alt.Data(values=_values(rows)), width=760, height=220)
        .mark_bar()
        .encode(
            x=alt.X("utcyearmonthdate(week):O", title="week starting"),
            y=alt.Y("sum(sessions):Q", stack="normalize", title="share of sessions"),
            color=_sentiment_colour(alt),
        )
    )


def flow_chart(alt: Any, rows: list[Row]) -> Any:
    return (
        alt.Chart(alt.Data(values=_values(rows)), width=760, height=240)
        .transform_fold(["created", "resolved", "archived", "deleted"], as_=["event", "insights"])
        .mark_line(point=True)
        .encode(
            x=alt.X("utcyearmonthdate(week_start):T", title="week starting"),
            y=alt.Y("insights:Q", title="insights"),
            color=alt.Color("event:N", title=None),
        )
    )


def backlog_chart(alt: Any, rows: list[Row]) -> Any:
    return (
        alt.Chart(alt.Data(values=_values(rows)), width=760, height=220)
        .mark_area(line=True, opacity=0.3)
        .encode(
            x=alt.X("utcyearmonthdate(day):T", title=None),
            y=alt.Y("open_insights:Q", title="open insights"),
        )
    )


def resolution_chart(alt: Any, rows: list[Row]) -> Any:
    base = alt.Chart(alt.Data(values=_values(rows)), width=520, height=22 * len(rows))
    y = alt.Y("name:N", sort=None, title=None)
    bars = base.mark_bar().encode(y=y, x=alt.X("median_hours:Q", title="hours"))
    ticks = base.mark_tick(color="black", thickness=2).encode(y=y, x="p90_hours:Q")
    return bars + ticks


# ------------------------------------------------------------------------------ page

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; padding: 0 1.5rem;
       max-width: 62rem; color: #222; }
h1 { margin-bottom: 0.2rem; } .as-of { color: #666; margin-top: 0; }
.headline { display: grid; grid-template-columns: repeat(4, 1fr); gap: 1rem; margin: 1.5rem 0; }
.number { border: 1px solid #ddd; border-radius: 8px; padding: 0.8rem 1rem; }
.number .value { font-size: 1.8rem; font-weight: 600; } .number .label, .number .detail
{ color: #555; font-size: 0.9rem; }
figure.chart { margin: 2rem 0; } figure.chart svg { max-width: 100%; height: auto; }
figcaption { color: #555; margin-bottom: 0.5rem; }
table { border-collapse: collapse; font-size: 0.9rem; } td, th { padding: 0.2rem 0.6rem;
border-bottom: 1px solid #eee; text-align: left; } td.n { text-align: right; }
.empty { border: 2px dashed #bbb; border-radius: 12px; padding: 2rem; text-align: center; }
"""


def render_html(board: Dashboard, charts: list[Chart] | None = None) -> str:
    """The whole page; without insights, the "no data yet" page."""
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    if not board.has_data:
        body = (
            '<div class="empty" id="no-data"><h2>No data yet</h2>'
            f"<p>Nothing to show: {html.escape(board.missing or 'no insights')}.</p>"
            "<p>Load insights (<code>python pipelines/insights.py --activity</code>), then "
            "write this report again.</p></div>"
        )
        return _page(body, f"written {stamp}")
    charts = charts if charts is not None else build_charts(board)
    parts = [_headline_html(board), *(_chart_html(c) for c in charts[:2])]
    parts += [_top_table(board.top_insights), *(_chart_html(c) for c in charts[2:])]
    parts.append(_resolution_table(board.resolution_by_team))
    return _page("\n".join(parts), f"data as of {board.as_of} (UTC); written {stamp}")


def _page(body: str, subtitle: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>OpenCX insights</title><style>{_STYLE}</style></head><body>"
        f'<h1>OpenCX insights</h1><p class="as-of">{html.escape(subtitle)}</p>\n'
        f"{body}\n</body></html>\n"
    )


def _headline_html(board: Dashboard) -> str:
    cells = "".join(
        f'<div class="number"><div class="label">{html.escape(label)}</div>'
        f'<div class="value">{html.escape(value)}</div>'
        f'<div class="detail">{html.escape(detail)}</div></div>'
        for label, value, detail in board.headline
    )
    return f'<section class="headline">{cells}</section>'


def _chart_html(chart: Chart) -> str:
    inner = chart.svg or f'<p class="empty">{html.escape(chart.empty_reason)}</p>'
    return (
        f'<figure class="chart" data-chart="{chart.key}"><h2>{html.escape(chart.title)}</h2>'
        f"<figcaption>{html.escape(chart.caption)}</figcaption>{inner}</figure>"
    )


def _top_table(rows: list[Row]) -> str:
    if not rows:
        return ""
    body = "".join(
        f"<tr><td class='n'>{row['rank']}</td><td>{html.escape(_label(row))}</td>"
        f"<td>{html.escape(row['category_name'] or UNCATEGORISED)}</td>"
        f"<td class='n'>{row['sessions']:,}</td><td class='n'>{row['share_of_sessions']:.1%}</td>"
        f"<td class='n'>{_signed(row['change'])}</td></tr>"
        for row in rows
    )
    return (
        "<table><tr><th>rank</th><th>insight</th><th>category</th><th>sessions</th>"
        f"<th>share</th><th>vs 7 days before</th></tr>{body}</table>"
    )


def _resolution_table(rows: list[Row]) -> str:
    if not rows:
        return ""
    body = "".join(
        f"<tr><td>{html.escape(row['name'])}</td><td class='n'>{row['resolved']:,}</td>"
        f"<td class='n'>{_hours(row['median_hours'])}</td>"
        f"<td class='n'>{_hours(row['p90_hours'])}</td></tr>"
        for row in rows
    )
    return (
        "<h2>Time to resolve by team</h2><table><tr><th>team</th><th>resolved</th>"
        f"<th>median</th><th>p90</th></tr>{body}</table>"
    )


# ------------------------------------------------------------------------------ browser


def chromium_command(page: Path, profile: Path, *flags: str) -> list[str]:
    """Headless Chromium on a local page, offline, with an empty profile of its own."""
    return [str(CHROMIUM), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *flags, page.as_uri()]


def screenshot(page: Path, png: Path, width: int = 1100, height: int = 3800) -> Path:
    """A PNG of the page as Chromium draws it offline (for the README and test artifacts)."""
    import subprocess  # noqa: PLC0415
    import tempfile  # noqa: PLC0415

    png.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="opencx-chromium-") as profile:
        command = chromium_command(
            page, Path(profile), f"--window-size={width},{height}",
            f"--screenshot={png.resolve()}", "--virtual-time-budget=5000",
        )  # fmt: skip
        subprocess.run(command, capture_output=True, timeout=120, check=True)
    return png


# ------------------------------------------------------------------------------ command line


def build_parser() -> argparse.ArgumentParser:
    """Options: where to read, where to write."""
    parser = argparse.ArgumentParser(
        prog="python pipelines/report.py",
        description="Write a self-contained HTML report (no network needed to view it) of the "
        "dashboard views in a DuckDB file.",
    )
    parser.add_argument("--duckdb-path", type=Path, help=f"default {DEFAULT_DUCKDB}")
    parser.add_argument(
        "--output", type=Path, help=f"HTML file to write (default {DEFAULT_OUTPUT})"
    )
    parser.add_argument("--dataset", default=DATASET, help=f"dataset (default {DATASET})")
    parser.add_argument(
        "--demo", action="store_true", help=f"read {DEMO_DUCKDB.name}, write {DEMO_OUTPUT.name}"
    )
    parser.add_argument(
        "--screenshot", type=Path, metavar="PNG", help=f"also save a PNG of it ({CHROMIUM})"
    )
    return parser


def write_report(db: Path, output: Path, dataset: str = DATASET) -> Path:
    """Read, render, write; returns the absolute path written."""
    page = render_html(read_dashboard(db, dataset))
    output = output.expanduser().resolve()
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(page, encoding="utf-8")
    return output


def main(argv: list[str] | None = None) -> int:
    """Write the report and print which file it read and where it wrote.

    Nothing to read (no file, no insights tables) ends in one line on stderr with a hint and
    a non-zero exit, and writes no page: a report of an earlier load is not overwritten.
    """
    args = build_parser().parse_args(argv)
    db = _project_path(args.duckdb_path or (DEMO_DUCKDB if args.demo else DEFAULT_DUCKDB))
    output = args.output or (DEMO_OUTPUT if args.demo else DEFAULT_OUTPUT)
    reason = nothing_to_read(db, args.dataset)
    if reason is not None:
        print(
            f"error: {reason}; {LOAD_FIRST} or pass --duckdb-path FILE"
            f"{demo_hint(db, 'python pipelines/report.py --demo')}",
            file=sys.stderr,
        )
        return NOTHING_TO_READ_EXIT
    written = write_report(db, _project_path(output), args.dataset)
    print(f"report of {db} written to {written}")
    if args.screenshot:
        print(f"screenshot saved to {screenshot(written, _project_path(args.screenshot))}")
    return 0


def _project_path(path: Path) -> Path:
    """Relative paths are taken from the project, like the loader's `--duckdb-path`."""
    path = path.expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path


if __name__ == "__main__":
    sys.exit(main())
