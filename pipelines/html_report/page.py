"""The report's one HTML page: the headline numbers, the charts and two tables, no script.

Without insights it is the "no data yet" page, which says what is missing.
"""

from __future__ import annotations

import html
from datetime import datetime, timezone
from pathlib import Path

from pipelines.html_report.charts import Chart, build_charts
from pipelines.html_report.dashboard import (
    DATASET,
    UNCATEGORISED,
    Dashboard,
    Row,
    insight_label,
    last_complete_days,
    period_text,
    read_dashboard,
    signed,
)

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; padding: 0 1.5rem;
       max-width: 62rem; color: #222; }
h1 { margin-bottom: 0.2rem; } .as-of { color: #666; margin-top: 0; }
.headline { display: grid; grid-template-columns: repeat(4, 1fr); gap: 1rem; margin: 1.5rem 0; }
.number { border: 1px solid #ddd; border-radius: 8px; padding: 0.8rem 1rem; }
.number .value { font-size: 1.8rem; font-weight: 600; } .number .label, .number .detail
{ color: #555; font-size: 0.9rem; } .number > div { overflow-wrap: anywhere; }
.basis { color: #555; margin-top: -0.8rem; }
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
    as_of = f"{board.as_of:%a %-d %b %Y}" if board.as_of else "n/a"
    return _page(
        "\n".join(parts), f"data as of {as_of} (UTC), the day of the latest load; written {stamp}"
    )


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
    assert board.as_of is not None
    basis = (
        f"Each card: the last 7 complete days, {period_text(*last_complete_days(board.as_of))}, "
        f"against the 7 days before. The as-of day is not complete: it is in no card."
    )
    return f'<section class="headline">{cells}</section><p class="basis">{html.escape(basis)}</p>'


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
        f"<tr><td class='n'>{row['rank']}</td><td>{html.escape(insight_label(row))}</td>"
        f"<td>{html.escape(row['category_name'] or UNCATEGORISED)}</td>"
        f"<td class='n'>{row['sessions']:,}</td><td class='n'>{row['share_of_sessions']:.1%}</td>"
        f"<td class='n'>{signed(row['change'])}</td></tr>"
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
        f"<td class='n'>{row['median_days']:.1f} days</td>"
        f"<td class='n'>{row['p90_days']:.1f} days</td></tr>"
        for row in rows
    )
    return (
        "<h2>Time to resolve by team</h2><table><tr><th>team</th><th>resolved</th>"
        f"<th>median</th><th>p90</th></tr>{body}</table>"
    )


def write_report(db: Path, output: Path, dataset: str = DATASET) -> Path:
    """Read, render, write; returns the absolute path written."""
    page = render_html(read_dashboard(db, dataset))
    output = output.expanduser().resolve()
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(page, encoding="utf-8")
    return output
