# ruff: noqa: ANN001, ANN202, N803, PLC0415, PLR1711
# (marimo cells are plain functions: marimo wires their parameters and returns, imports live
# in cells, and a bare expression at the end of a cell is its output)
"""The dashboards after a load, as a marimo notebook.

    pip install ".[notebook]"
    marimo edit notebooks/insights.py                # or: marimo run notebooks/insights.py
    python notebooks/insights.py                     # runs every cell as a script

Reads the DuckDB file read-only (a running load is never blocked for longer than the notebook
queries): `OPENCX_DUCKDB` or `--duckdb-path` (after `--` with `marimo run/edit`), default
`data/opencx_insights.duckdb`, then `data/opencx_demo.duckdb` if only the demo was loaded.
The first cell shows which file it reads; a file that is missing or holds no insights tables
gets one line with a hint, and no charts.
The figures are the dashboard views' (see docs/data-dictionary.md, Dashboard views); the
charts are the report's (`pipelines/report.py`, `pipelines/html_report/`).
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="OpenCX insights")


@app.cell
def _():
    import os
    import sys
    from pathlib import Path

    import altair as alt
    import marimo as mo

    root = Path(__file__).resolve().parent.parent
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    from pipelines.html_report import charts, dashboard

    return Path, alt, charts, dashboard, mo, os, root


@app.cell
def _(Path, dashboard, mo, os, root):
    def database_path() -> Path:
        """--duckdb-path, then OPENCX_DUCKDB, then the scheduled file, else the demo's."""
        given = mo.cli_args().get("duckdb-path") or os.environ.get("OPENCX_DUCKDB")
        if given:
            path = Path(str(given)).expanduser()
            return path if path.is_absolute() else root / path
        # the scheduled file unless only the demo's holds insights (a failed first run's
        # empty file must not hide the demo)
        if (
            dashboard.nothing_to_read(dashboard.DEFAULT_DUCKDB) is None
            or dashboard.nothing_to_read(dashboard.DEMO_DUCKDB) is not None
        ):
            return dashboard.DEFAULT_DUCKDB
        return dashboard.DEMO_DUCKDB

    db = database_path()
    nothing = dashboard.nothing_to_read(db)
    return db, nothing


@app.cell
def _(dashboard, db, mo, nothing):
    _title = f"# OpenCX insights\n\n`{db}`"
    if nothing is not None:
        _hint = dashboard.demo_hint(db, "OPENCX_DUCKDB or --duckdb-path")
        _title += (
            f"\n\n**Nothing to show**: {nothing}; {dashboard.LOAD_FIRST}, or name another "
            f"file with OPENCX_DUCKDB or --duckdb-path{_hint}."
        )
    mo.md(_title)
    return


@app.cell
def _(dashboard, db, mo, nothing):
    mo.stop(nothing is not None)  # the cells below have nothing to draw
    board = dashboard.read_dashboard(db)
    return (board,)


@app.cell
def _(board, mo):
    if board.has_data:
        _line = f"Data as of **{board.as_of}** (UTC; complete days end the day before)."
    else:
        _line = f"**No data yet**: {board.missing}. Load insights, then re-run."
    mo.md(_line)
    return


@app.cell
def _(board, mo):
    mo.hstack(
        [
            mo.stat(value=value, label=label, caption=detail)
            for label, value, detail in board.headline
        ],
        widths="equal",
    ) if board.headline else mo.md("")
    return


@app.cell
def _(alt, board, charts, mo):
    def show(rows, build, title, empty):
        """A chart of the report's, or why there is none."""
        if not rows:
            return mo.md(f"### {title}\n\n_{empty}_")
        return mo.vstack([mo.md(f"### {title}"), build(alt, rows)])

    no_activity = "no window-scoped activity loaded (run the loader with --activity)"
    mo.vstack(
        [
            show(board.sessions_by_category, charts.sessions_chart,
                 "Sessions per day by category", no_activity),
            show(board.top_insights, charts.top_chart,
                 "Top insights, last 7 complete days", no_activity),
        ]
    )  # fmt: skip
    return no_activity, show


@app.cell
def _(board, mo):
    mo.ui.table(
        [
            {
                k: row[k]
                for k in (
                    "rank",
                    "insight_number",
                    "content",
                    "category_name",
                    "sessions",
                    "share_of_sessions",
                    "previous_sessions",
                    "change",
                )
            }
            for row in board.top_insights
        ],
        selection=None,
        label="Top insights, last 7 complete days",
    ) if board.top_insights else mo.md("")
    return


@app.cell
def _(board, charts, mo, no_activity, show):
    mo.vstack(
        [
            show(board.sentiment_by_week, charts.sentiment_chart,
                 "Sentiment mix per week", no_activity),
            show(board.weekly_flow, charts.flow_chart, "Weekly flow", "no insights yet"),
            show(board.backlog, charts.backlog_chart, "Open backlog", "no insights yet"),
            show(board.resolution_by_category, charts.resolution_chart,
                 "Time to resolve by category (median bar, p90 tick)", "nothing resolved yet"),
        ]
    )  # fmt: skip
    return


@app.cell
def _(board, mo):
    mo.ui.table(
        board.resolution_by_team, selection=None, label="Time to resolve by team (days)"
    ) if board.resolution_by_team else mo.md("")
    return


if __name__ == "__main__":
    app.run()
