"""The figures of the HTML report, read from the dashboard views of a DuckDB file (read-only).

A file that is missing, or that holds no table of the dataset, has nothing to read
(`nothing_to_read`); a dataset without insights yet reads as an empty dashboard that says why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Final

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DUCKDB = PROJECT_ROOT / "data" / "opencx_insights.duckdb"
DEMO_DUCKDB = PROJECT_ROOT / "data" / "opencx_demo.duckdb"
DATASET: Final = "opencx"
LOAD_FIRST: Final = "load insights first (make demo, or python pipelines/insights.py with your key)"
TOP_N: Final = 10  # also in the SQL reading top_insights_7d
UNCATEGORISED: Final = "(uncategorised)"
Row = dict[str, Any]


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
        ("Open insights", f"{backlog[-1]:,}", f"{signed(backlog[-1] - week_ago)} in 7 days"),
        ("Sessions, last 7 days", f"{last_7:,}", _versus(last_7, previous_7)),
        ("Created this week", f"{this_week.get('created', 0):,}",
         f"resolved {this_week.get('resolved', 0):,}, archived {this_week.get('archived', 0):,}"),
        ("Median time to resolve", hours_text(total[0]["median_hours"]) if total else "n/a",
         f"p90 {hours_text(total[0]['p90_hours'])}" if total else "nothing resolved yet"),
    ]  # fmt: skip


def signed(change: int) -> str:
    """A change with its sign and thousands separators: `+1,204`, `-3`."""
    return f"{change:+,}"


def _versus(now: int, before: int) -> str:
    if before == 0:
        return "no sessions in the 7 days before"
    return f"{(now - before) / before:+.0%} against the 7 days before ({before:,})"


def hours_text(value: float | None) -> str:
    """A duration in hours as read at a glance: hours up to two days, then days."""
    if value is None:
        return "n/a"
    return f"{value:.1f} h" if value < 48 else f"{value / 24:.1f} days"


def insight_label(row: Row) -> str:
    """`#<number> <text>`, the text cut at 60 characters: an insight in a chart or a table."""
    text = " ".join(str(row.get("content") or "").split())
    return f"#{row['insight_number']} {text[:60]}{'...' if len(text) > 60 else ''}"
