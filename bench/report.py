"""Tables of results, shared by stdout and the documents (``bench.render``)."""

from __future__ import annotations

from collections.abc import Sequence

from bench.casekit import SKIPPED
from bench.harness import CaseResult, Summary


def _range(median: float, low: float, high: float, fmt: str) -> str:
    if f"{low:{fmt}}" == f"{high:{fmt}}":
        return f"{median:{fmt}}"  # one run, or runs equal at this precision: no range to show
    return f"{median:{fmt}} ({low:{fmt}}-{high:{fmt}})"


def rows(results: Sequence[CaseResult]) -> list[list[str]]:
    """One row per case and variant."""
    out: list[list[str]] = []
    for result in results:
        base = result.summary(result.baseline)
        if result.error:
            out.append([result.name, "ERROR", result.error[:80], "", "", "", "", ""])
        if SKIPPED in result.params:
            out.append([result.name, "SKIPPED", str(result.params[SKIPPED])[:80], *[""] * 5])
        for variant in result.variants():
            s = result.summary(variant)
            if s is None or variant.endswith("(setup)") or variant.startswith("reference"):
                continue
            out.append(_row(result.name, s, base))
    return out


def _row(case: str, s: Summary, base: Summary | None) -> list[str]:
    wall_ratio = rss_ratio = ""
    if base is not None and base.wall_median > 0:
        wall_ratio = f"{s.wall_median / base.wall_median:.2f}x"
    if base is not None and base.rss_median > 0 and s.rss_median > 0:
        rss_ratio = f"{s.rss_median / base.rss_median:.2f}x"
    requests = sorted(set(s.requests))
    req = (
        "/".join(str(r) for r in requests)
        if len(requests) <= 3
        else (f"{requests[0]}-{requests[-1]}")
    )
    runs = f"{s.runs}" + (f" ({s.failed} failed)" if s.failed else "")
    rss = _range(s.rss_median, s.rss_min, s.rss_max, ".0f") if s.rss_median > 0 else "-"
    return [
        case,
        s.variant,
        runs,
        _range(s.wall_median, s.wall_min, s.wall_max, ".2f"),
        wall_ratio,
        rss,
        rss_ratio,
        f"{req}" + (f" ({s.count_429}x429)" if s.count_429 else ""),
    ]


HEADER = [
    "case",
    "variant",
    "runs",
    "wall s median (min-max)",
    "vs base",
    "peak RSS MB median (min-max)",
    "vs base",
    "requests",
]
TARGET_HEADER = ["case", "target", "measured", "limit", "verdict"]


def target_rows(results: Sequence[CaseResult]) -> list[list[str]]:
    """One row per target."""
    return [
        [t.case, t.label, t.measured, t.limit, t.verdict]
        for result in results
        for t in result.targets
    ]


def text_table(header: list[str], body: list[list[str]]) -> str:
    """Fixed-width columns for the terminal."""
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in body]
    return "\n".join(lines)


def md_table(header: list[str], body: list[list[str]]) -> str:
    """A GitHub markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(c.replace("|", "/") for c in r) + " |" for r in body]
    return "\n".join(lines)


def text(results: Sequence[CaseResult]) -> str:
    """What `python -m bench` prints at the end."""
    parts = [text_table(HEADER, rows(results)), "", "Targets (issues #4 and #10):"]
    parts.append(text_table(TARGET_HEADER, target_rows(results)))
    notes = [f"- {r.name}: {n}" for r in results for n in r.notes]
    if notes:
        parts += ["", "Notes:", *notes]
    return "\n".join(parts)
