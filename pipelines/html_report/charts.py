"""The report's charts: Altair specs of the dashboard's figures, rendered to SVG by vl-convert.

Rendered here and inlined, so the page has no script and loads nothing: Altair's and marimo's
own HTML load Vega from a CDN and render blank offline.

Vega lays text out (label limits, legend widths, which tick labels overlap) with the widths
vl-convert measures, and the browser then draws the SVG's text in the font it names. Both
therefore name DejaVu Sans (Debian's default sans-serif, fonts-dejavu-core), one of the widest
common sans-serif fonts: measured in it, text is neither cut at the chart's edge nor drawn over
its neighbours where the browser has it, and has room to spare in the narrower fonts
(Liberation Sans, Arial, Helvetica) that stand in where it does not.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

from pipelines.html_report.dashboard import (
    TOP_N,
    Dashboard,
    Row,
    insight_label,
    week_of,
)

FONT: Final = "DejaVu Sans, Verdana, sans-serif"
SENTIMENT_COLOURS = {"angry": "#d62728", "happy": "#2ca02c", "neutral": "#9e9e9e"}
# Vega's tableau10 in its order, the grey last: the most sessions get the strongest colours,
# the "N other categories" (always last when there are more than ten) the grey
CATEGORY_COLOURS: Final = ("#4c78a8", "#f58518", "#e45756", "#72b7b2", "#54a24b", "#eeca3b",
                           "#b279a2", "#ff9da6", "#9d755d", "#bab0ac")  # fmt: skip
# the longest axis label and legend entry drawn, in pixels; longer text ends in an ellipsis
LABEL_LIMIT: Final = 360
LEGEND_LABEL_LIMIT: Final = 200


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
    running = _running_week(board)
    specs: list[tuple[str, str, str, list[Row], Callable[[Any, list[Row]], Any], str]] = [
        ("sessions_by_category", "Sessions per day by category",
         f"Sessions in each complete UTC day, stacked by the insight's category"
         f"{_categories_note(board.sessions_by_category)}.",
         board.sessions_by_category, sessions_chart, no_activity),
        ("top_insights", f"Top {TOP_N} insights, last 7 complete days",
         "Sessions per insight; the label is the insight number and its text.",
         board.top_insights, top_chart, no_activity),
        ("sentiment_by_week", "Sentiment mix per week",
         "Share of each complete week's sessions (Monday to Sunday, UTC) by the insight's "
         f"sentiment. Weeks only partly loaded are left out: {running}.",
         board.sentiment_by_week, sentiment_chart, no_activity),
        ("weekly_flow", "Weekly flow",
         "Insights created, resolved, archived and deleted per complete week (Monday to "
         f"Sunday, UTC). {running[0].upper()}{running[1:]} is left out; the cards above "
         "count the last 7 complete days.",
         board.weekly_flow, flow_chart, "no insights yet"),
        ("backlog", "Open backlog",
         "Insights open at the end of each UTC day; the last day's, as of the latest load.",
         board.backlog, backlog_chart, "no insights yet"),
        ("resolution_times", "Time to resolve by category",
         "Median days from creation to resolution (bar) and the 90th percentile (tick).",
         board.resolution_by_category, resolution_chart, "nothing resolved yet"),
    ]  # fmt: skip
    return [
        Chart(key, title, caption, _svg(build(alt, data)) if data else None, reason)
        for key, title, caption, data, build, reason in specs
    ]


def _running_week(board: Dashboard) -> str:
    """`the running week (from Mon 1 Mar 2027, 2 of its 7 days complete)`."""
    if board.as_of is None:
        return "the running week"
    monday = week_of(board.as_of)
    done = (board.as_of - monday).days
    return f"the running week (from {monday:%a %-d %b %Y}, {done} of its 7 days complete)"


def _categories_note(rows: Sequence[Row]) -> str:
    """`` (the 9 with most sessions; the others together, grey)`` when categories were folded."""
    ranks = {row["rank"] for row in rows}
    if len(ranks) < len(CATEGORY_COLOURS) or not rows:
        return ""
    return f"; the {len(ranks) - 1} with most sessions each in its colour, the others together"


def _svg(chart: Any) -> str:
    import vl_convert  # noqa: PLC0415

    return vl_convert.vegalite_to_svg(chart.to_dict(), config={"font": FONT})


def _values(rows: Sequence[Row]) -> list[Row]:
    """Rows as JSON-ready values: dates as ISO strings (Vega-Lite parses them as UTC)."""
    return [
        {k: v.isoformat() if isinstance(v, date | datetime) else v for k, v in row.items()}
        for row in rows
    ]


def sessions_chart(alt: Any, rows: list[Row]) -> Any:
    """Stacked per day; each category its own colour, in the order of its sessions."""
    order = sorted({(row["rank"], row["category"]) for row in rows})
    scale = alt.Scale(
        domain=[category for _, category in order],
        range=list(CATEGORY_COLOURS[: len(order)]),
    )
    legend = alt.Legend(labelLimit=LEGEND_LABEL_LIMIT)
    return (
        alt.Chart(alt.Data(values=_values(rows)), width=720, height=260)
        .mark_bar()
        .encode(
            x=alt.X("utcyearmonthdate(day):T", title=None),
            y=alt.Y("sum(sessions):Q", title="sessions"),
            color=alt.Color("category:N", title="category", scale=scale, legend=legend),
            order=alt.Order("rank:Q", sort="ascending"),
        )
    )


def top_chart(alt: Any, rows: list[Row]) -> Any:
    labelled = [{**row, "label": insight_label(row)} for row in rows]
    return (
        alt.Chart(alt.Data(values=_values(labelled)), width=420, height=24 * len(rows))
        .mark_bar()
        .encode(
            y=alt.Y("label:N", sort=None, title=None, axis=alt.Axis(labelLimit=LABEL_LIMIT)),
            x=alt.X("sessions:Q", title="sessions"),
            color=_sentiment_colour(alt),
        )
    )


def _sentiment_colour(alt: Any) -> Any:
    """The same colour for a sentiment in every chart: angry red, happy green, neutral grey."""
    scale = alt.Scale(domain=list(SENTIMENT_COLOURS), range=list(SENTIMENT_COLOURS.values()))
    return alt.Color("sentiment:N", title="sentiment", scale=scale)


def sentiment_chart(alt: Any, rows: list[Row]) -> Any:
    return (
        alt.Chart(alt.Data(values=_values(rows)), width=720, height=220)
        .mark_bar()
        .encode(
            x=alt.X("utcyearmonthdate(week):O", title="week starting",
                    axis=alt.Axis(format="%-d %b", labelAngle=0)),
            y=alt.Y("sum(sessions):Q", stack="normalize", title="share of sessions"),
            color=_sentiment_colour(alt),
        )
    )  # fmt: skip


def flow_chart(alt: Any, rows: list[Row]) -> Any:
    return (
        alt.Chart(alt.Data(values=_values(rows)), width=720, height=240)
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
        alt.Chart(alt.Data(values=_values(rows)), width=720, height=220)
        .mark_area(line=True, opacity=0.3)
        .encode(
            x=alt.X("utcyearmonthdate(day):T", title=None),
            y=alt.Y("open_insights:Q", title="open insights"),
        )
    )


def resolution_chart(alt: Any, rows: list[Row]) -> Any:
    """Median bar and p90 tick per category, in days (the cards' and the tables' unit)."""
    base = alt.Chart(alt.Data(values=_values(rows)), width=460, height=22 * len(rows))
    y = alt.Y("name:N", sort=None, title=None, axis=alt.Axis(labelLimit=LABEL_LIMIT))
    bars = base.mark_bar().encode(y=y, x=alt.X("median_days:Q", title="days"))
    ticks = base.mark_tick(color="black", thickness=2).encode(y=y, x="p90_days:Q")
    return bars + ticks
