"""The report's charts: Altair specs of the dashboard's figures, rendered to SVG by vl-convert.

Rendered here and inlined, so the page has no script and loads nothing: Altair's and marimo's
own HTML load Vega from a CDN and render blank offline.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pipelines.html_report.dashboard import TOP_N, Dashboard, Row, insight_label

SENTIMENT_COLOURS = {"angry": "#d62728", "happy": "#2ca02c", "neutral": "#9e9e9e"}


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
    labelled = [{**row, "label": insight_label(row)} for row in rows]
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
