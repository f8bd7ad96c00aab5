"""Render results: one table for stdout, latest.json and latest.md."""

from __future__ import annotations

import platform
import subprocess
from collections.abc import Sequence
from importlib import metadata
from typing import Any

from bench.harness import CaseResult, Summary
from bench.simproc import PROJECT_ROOT


def _cmd(argv: Sequence[str]) -> str:
    try:
        out = subprocess.run(list(argv), capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.stdout.strip()


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    versions = {}
    for dist in ("dlt", "duckdb", "httpx", "pyarrow"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = "?"
    lscpu = _cmd(["lscpu"]).splitlines()[:10]
    return {
        "nproc": _cmd(["nproc"]),
        "lscpu": lscpu,
        "free_g": _cmd(["free", "-g"]).splitlines(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
        "commit": _cmd(["git", "-C", str(PROJECT_ROOT), "rev-parse", "--short", "HEAD"]),
        "dirty": bool(
            _cmd(["git", "-C", str(PROJECT_ROOT), "status", "--porcelain", "sources", "pipelines"])
        ),
    }


def _range(median: float, low: float, high: float, fmt: str) -> str:
    return f"{median:{fmt}} ({low:{fmt}}-{high:{fmt}})"


def rows(results: Sequence[CaseResult]) -> list[list[str]]:
    """One row per case and variant."""
    out: list[list[str]] = []
    for result in results:
        base = result.summary(result.baseline)
        if result.error:
            out.append([result.name, "ERROR", result.error[:80], "", "", "", "", ""])
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
    parts = [text_table(HEADER, rows(results)), "", "Targets (issue #4):"]
    parts.append(text_table(TARGET_HEADER, target_rows(results)))
    notes = [f"- {r.name}: {n}" for r in results for n in r.notes]
    if notes:
        parts += ["", "Notes:", *notes]
    return "\n".join(parts)


def markdown(results: Sequence[CaseResult], info: dict[str, Any], mode: str) -> str:
    """latest.md: the tables, the machine, the notes."""
    dirty = " (sources or pipelines modified)" if info.get("dirty") else ""
    lines = [
        f"# Benchmark results ({mode})",
        "",
        f"Commit {info.get('commit')}{dirty}, connector code {', '.join(info.get('code', []))}"
        f", Python {info.get('python')}, "
        + ", ".join(f"{k} {v}" for k, v in info.get("versions", {}).items()),
        "",
        md_table(HEADER, rows(results)),
        "",
        "## Targets",
        "",
        md_table(TARGET_HEADER, target_rows(results)),
        "",
        "## Cases",
        "",
    ]
    for r in results:
        params = ", ".join(f"{k}={v}" for k, v in r.params.items())
        lines.append(
            f"- **{r.name}**: {r.title}; baseline: {r.baseline}; {params}; "
            f"{r.seconds:.0f} s, load average {r.load_avg}"
        )
        lines += [f"  - {n}" for n in r.notes]
        if r.error:
            lines.append(f"  - ERROR: {r.error}")
    lines += ["", "## Machine", "", "```", f"nproc: {info.get('nproc')}"]
    lines += list(info.get("lscpu", [])) + list(info.get("free_g", [])) + ["```", ""]
    return "\n".join(lines)
