"""The figures of the HTML report, read from the dashboard views of a DuckDB file (read-only).

A file that is missing, or that holds no table of the dataset, has nothing to read
(`nothing_to_read`); a dataset without insights yet reads as an empty dashboard that says why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Final

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DUCKDB = PROJECT_ROOT / "data" / "opencx_insights.duckdb"
DEMO_DUCKDB = PROJECT_ROOT / "data" / "opencx_demo.duckdb"
DATASET: Final = "opencx"
LOAD_FIRST: Final = "load insights first (make demo, or python pipelines/insights.py with your key)"
TOP_N: Final = 10
UNCATEGORISED: Final = "(uncategorised)"
NO_TEAM: Final = "(no team)"
# categories drawn with a colour each: the most sessions, the rest as one "N other categories"
CATEGORIES_SHOWN: Final = 10
Row = dict[str, Any]


@dataclass
class Dashboard:
    """What the report shows, read from the views; `missing` says why a part is empty."""

    as_of: date | None = None
    # label, value, detail; each over the last 7 complete days against the 7 before
    headline: list[tuple[str, str, str]] = field(default_factory=list)
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

        def rows(sql: str, **parameters: object) -> list[Row]:
            cursor = con.execute(sql, parameters)
            names = [d[0] for d in cursor.description or []]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

        return _dashboard(rows)


def _dashboard(rows: Callable[..., list[Row]]) -> Dashboard:
    board = Dashboard(
        backlog=rows("SELECT day, open_insights FROM daily_open_backlog ORDER BY day")
    )
    if not board.has_data:
        board.missing = "the dataset has no insights yet"
        return board
    board.as_of = as_of = board.backlog[-1]["day"]
    running_week = week_of(as_of)
    board.sessions_by_category = fold_categories(
        rows(
            "SELECT day, COALESCE(category_name, $none) AS category, SUM(sessions) AS sessions "
            "FROM daily_insight_sessions GROUP BY ALL ORDER BY day",
            none=UNCATEGORISED,
        )
    )
    board.top_insights = rows(
        "SELECT * FROM top_insights_7d WHERE rank <= $top ORDER BY rank", top=TOP_N
    )
    # complete weeks only: from the first loaded day of activity to the week before the running
    board.sentiment_by_week = rows(
        "SELECT CAST(date_trunc('week', day) AS DATE) AS week, sentiment, "
        "SUM(sessions) AS sessions FROM daily_insight_sessions GROUP BY ALL "
        "HAVING week >= (SELECT MIN(day) FROM daily_insight_sessions) AND week < $running "
        "ORDER BY week",
        running=running_week,
    )
    board.weekly_flow = rows(
        "SELECT * FROM weekly_insight_flow WHERE week_start < $running ORDER BY week_start",
        running=running_week,
    )
    board.resolution_by_category = rows(
        _RESOLUTION_SQL.format(name="category_name"), none=UNCATEGORISED, by="category"
    )
    board.resolution_by_team = rows(
        _RESOLUTION_SQL.format(name="team_name"), none=NO_TEAM, by="team"
    )
    board.headline = _headline(board, rows)
    return board


def week_of(day: date) -> date:
    """The Monday starting `day`'s week (weeks start Monday, as in the views)."""
    return day - timedelta(days=day.weekday())


def last_complete_days(as_of: date, days: int = 7) -> tuple[date, date]:
    """The first and last of the `days` complete days before the as-of day."""
    return as_of - timedelta(days=days), as_of - timedelta(days=1)


def fold_categories(rows: list[Row], shown: int = CATEGORIES_SHOWN) -> list[Row]:
    """Rows of (day, category, sessions) with at most `shown` categories, ranked.

    With more, the `shown - 1` with most sessions keep their names and the rest sum to one
    "N other categories", so each category drawn gets a colour of its own (sixteen categories
    in a palette of ten drew two to a colour). Each row gets its category's `rank` by sessions,
    the others last: the legend's and the stack's order.
    """
    totals: dict[str, int] = {}
    for row in rows:
        totals[row["category"]] = totals.get(row["category"], 0) + row["sessions"]
    ranked = sorted(totals, key=lambda category: (-totals[category], category))
    kept = ranked if len(ranked) <= shown else ranked[: shown - 1]
    others = f"{len(ranked) - len(kept)} other categories"
    rank = {category: n for n, category in enumerate(kept, start=1)}
    folded: dict[tuple[date, str], Row] = {}
    for row in rows:
        category = row["category"] if row["category"] in rank else others
        key = (row["day"], category)
        if key not in folded:
            folded[key] = {"day": row["day"], "category": category, "sessions": 0,
                           "rank": rank.get(category, len(kept) + 1)}  # fmt: skip
        folded[key]["sessions"] += row["sessions"]
    return list(folded.values())


def _headline(board: Dashboard, rows: Callable[..., list[Row]]) -> list[tuple[str, str, str]]:
    """Four cards, each over the last 7 complete days against the 7 days before.

    Like with like: the as-of day is never complete (a load reads activity up to the end of
    the day before, and insights up to the load), so it is in no card; on a Monday a "this
    week" card would count a few hours against whole weeks.
    """
    assert board.as_of is not None
    first, last = last_complete_days(board.as_of)
    before_first, before_last = last_complete_days(first)
    open_at = {row["day"]: row["open_insights"] for row in board.backlog}
    open_end = open_at.get(last, 0)
    periods = {"first": first, "last": last, "before_first": before_first}
    sessions = rows(
        "SELECT SUM(CASE WHEN day >= $first THEN sessions END) AS last_7, "
        "SUM(CASE WHEN day < $first THEN sessions END) AS previous_7 "
        "FROM daily_insight_sessions WHERE day BETWEEN $before_first AND $last",
        **periods,
    )[0]
    flow = rows(_FLOW_SQL, **periods)[0]
    total = rows("SELECT * FROM resolution_times WHERE grouped_by = 'total'")
    last_7, previous_7 = int(sessions["last_7"] or 0), int(sessions["previous_7"] or 0)
    return [
        (f"Open insights, end of {last:%-d %b}", f"{open_end:,}",
         f"{signed(open_end - open_at.get(before_last, 0))} over the 7 days"),
        ("Sessions, last 7 complete days", f"{last_7:,}", _versus(last_7, previous_7)),
        ("Created, last 7 complete days", f"{flow['created']:,}",
         f"{_versus(flow['created'], flow['created_before'])}; resolved {flow['resolved']:,}, "
         f"archived {flow['archived']:,}"),
        ("Median time to resolve", days_text(total[0]["median_hours"]) if total else "n/a",
         f"p90 {days_text(total[0]['p90_hours'])}" if total else "nothing resolved yet"),
    ]  # fmt: skip


# durations in days, the report's one unit (the view gives hours); {name}: the group's name
_RESOLUTION_SQL = (
    "SELECT COALESCE({name}, $none) AS name, resolved, median_hours / 24 AS median_days, "
    "p90_hours / 24 AS p90_days FROM resolution_times WHERE grouped_by = $by "
    "ORDER BY median_hours"
)
# Insights created in the last 7 complete days and the 7 before, resolved and archived in the
# last 7, by UTC day. Read from the loaded table (deleted insights count, as in the view
# weekly_insight_flow): no view counts them per day.
_FLOW_SQL = """
SELECT COUNT(*) FILTER (WHERE created_day BETWEEN $first AND $last) AS created,
       COUNT(*) FILTER (WHERE created_day BETWEEN $before_first AND $first - 1)
           AS created_before,
       COUNT(*) FILTER (WHERE resolved_day BETWEEN $first AND $last) AS resolved,
       COUNT(*) FILTER (WHERE archived_day BETWEEN $first AND $last) AS archived
FROM (SELECT CAST(created_at AT TIME ZONE 'UTC' AS DATE) AS created_day,
             CAST(resolved_at AT TIME ZONE 'UTC' AS DATE) AS resolved_day,
             CAST(archived_at AT TIME ZONE 'UTC' AS DATE) AS archived_day
      FROM insights) days
"""


def signed(change: int) -> str:
    """A change with its sign and thousands separators: `+1,204`, `-3`."""
    return f"{change:+,}"


def _versus(now: int, before: int) -> str:
    if before == 0:
        return "none in the 7 days before"
    return f"{(now - before) / before:+.0%} against the 7 days before ({before:,})"


def days_text(hours: float | None) -> str:
    """A duration given in hours, in days, the report's one unit for durations: `2.4 days`."""
    return "n/a" if hours is None else f"{hours / 24:.1f} days"


def period_text(first: date, last: date) -> str:
    """`Mon 22 Feb to Sun 28 Feb 2027`."""
    return f"{first:%a %-d %b} to {last:%a %-d %b %Y}"


def insight_label(row: Row) -> str:
    """`#<number> <text>`, the text cut at 60 characters: an insight in a chart or a table."""
    text = " ".join(str(row.get("content") or "").split())
    return f"#{row['insight_number']} {text[:60]}{'…' if len(text) > 60 else ''}"
