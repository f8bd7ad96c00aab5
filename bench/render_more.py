"""RESULTS.md sections for the cases of issue #10, rendered from a results file and nothing else.

Each renderer returns an empty list when its case is not in the file, so a results file recorded
before these cases existed renders to the same document as before (``bench.render`` calls them).
"""

from __future__ import annotations

import statistics
from typing import Any

from bench import report
from bench.casekit import SKIPPED, Config, full_case_name, size_label
from bench.harness import CONNECTOR, CaseResult, RunRecord, Summary
from bench.pg_cases import CONNECTOR_DUCKDB
from bench.record import cases_of, config_of
from pipelines.destination.state_table import KEEP_STATES


def _kb(value: float) -> str:
    return f"{value / 1000:.1f}"


def _ws(s: Summary | None) -> str:
    return "" if s is None else f"{s.wall_median:.2f} s / {s.rss_median:.0f} MB"


# ---------------------------------------------------------------------------- PostgreSQL


def pg_cases(data: dict[str, Any]) -> list[CaseResult]:
    """The PostgreSQL cases in the file, in run order."""
    return [c for c in cases_of(data).values() if c.params.get("destination") == "postgres"]


def postgres_table(cases: list[CaseResult]) -> str:
    """Per PostgreSQL case: the connector into PostgreSQL and into DuckDB, same minutes."""
    body = []
    for case in cases:
        pg, duck = case.summary(CONNECTOR), case.summary(CONNECTOR_DUCKDB)
        base = case.summary(case.baseline)
        ratio = f"{pg.wall_median / duck.wall_median:.2f}x" if pg and duck else ""
        requests = "/".join(str(r) for r in sorted(set(pg.requests))) if pg else ""
        baseline = f"{case.baseline}: {_ws(base)}" if base else case.baseline
        body.append([case.name, _ws(pg), _ws(duck), ratio, requests, baseline])
    header = [
        "case",
        "into PostgreSQL",
        "into DuckDB",
        "PostgreSQL / DuckDB wall",
        "requests",
        "baseline",
    ]
    return report.md_table(header, body)


def postgres_section(data: dict[str, Any]) -> list[str]:
    """'PostgreSQL beside DuckDB': the table, or why the cases did not run."""
    cases = pg_cases(data)
    if not cases:
        return []
    skipped = [c for c in cases if SKIPPED in c.params]
    lines = ["## PostgreSQL beside DuckDB", ""]
    if skipped:
        why = str(skipped[0].params[SKIPPED])
        names = ", ".join(c.name for c in skipped)
        lines += [f"Not measured ({names}): {why}", ""]
    ran = [c for c in cases if SKIPPED not in c.params]
    if ran:
        lines += [
            "The connector loading into a throw-away PostgreSQL cluster on the same machine "
            "(`tests/postgres_server.py`, fsync off) alternated with the same connector loading "
            "into DuckDB and with the case's baseline. Wall time / peak RSS, medians; peak RSS "
            "is the connector's process tree, not the PostgreSQL server's. Only the request "
            "counts are targets; time ratios are informational (see Targets).",
            "",
            postgres_table(ran),
            "",
        ]
    return lines


# ---------------------------------------------------------------------------- state size


def _state_runs(case: CaseResult) -> list[RunRecord]:
    return [r for r in case.records if r.variant == CONNECTOR and "state_local_bytes" in r.extra]


def _median(runs: list[RunRecord], key: str) -> float:
    return float(statistics.median(float(r.extra[key]) for r in runs))


def first_load_state_rows(data: dict[str, Any]) -> list[list[str]]:
    """dlt's state after each full_* case's first load by the connector (medians), by size."""
    cfg: Config = config_of(data)
    sizes = sorted({*cfg.full_sizes, *([cfg.large_insights] if cfg.large_insights else [])})
    found = cases_of(data)
    body = []
    for n in sizes:
        case = found.get(full_case_name(n))
        runs = _state_runs(case) if case is not None else []
        if not runs:
            continue
        kept = _median(runs, "state_fingerprints")
        local = _median(runs, "state_local_bytes")
        body.append(
            [
                size_label(n),
                f"{kept:.0f}",
                _kb(local),
                _kb(_median(runs, "state_row_bytes")),
                f"{local / max(kept, 1):.1f}",
            ]
        )
    return body


def state_table(loads: list[dict[str, Any]]) -> str:
    """One row per load of the state_size case."""
    body = [
        [
            size_label(int(r["insights"])),
            str(r["load"]),
            str(r["lookback_insights"]),
            str(r["fingerprints"]),
            _kb(r["local_bytes"]),
            _kb(r["row_bytes"]),
            f"{r['local_bytes'] / max(int(r['lookback_insights']), 1):.1f}",
            f"{r['table_rows']} / {_kb(r['table_bytes'])}",
        ]
        for r in loads
    ]
    header = [
        "tenant",
        "load",
        "insights in the lookback",
        "fingerprints kept",
        "state.json kB",
        "state row kB (zlib + base64)",
        "state.json B per lookback insight",
        "_dlt_pipeline_state rows / kB in all",
    ]
    return report.md_table(header, body)


def state_section(data: dict[str, Any]) -> list[str]:
    """'dlt state per load': the state_size case's loads, and the state after each full load."""
    case = cases_of(data).get("state_size")
    loads = list(case.data.get("state", [])) if case is not None else []
    first = first_load_state_rows(data)
    if not loads and not first:
        return []
    lines = [
        "## dlt state per load",
        "",
        "The connector keeps a fingerprint per insight of the lookback window in dlt's state, "
        "so a scheduled run skips insights that did not change. dlt rewrites the state on every "
        "load that changes it: the pipeline's `state.json` under `DLT_DATA_DIR`, and a new row "
        "of `_dlt_pipeline_state` in the destination, of which the connector keeps the newest "
        f"{KEEP_STATES} (`pipelines/destination/state_table.py`).",
        "",
    ]
    if loads:
        lines += [
            f"`state_size` case: a first full load, then scheduled runs each after "
            f"K={case.params.get('k') if case else ''} insights got new occurrences (a "
            "scheduled run re-reads, and fingerprints, every insight last seen within the "
            "lookback below the stored cursor):",
            "",
            state_table(loads),
            "",
        ]
    if first:
        header = [
            "tenant",
            "fingerprints kept",
            "state.json kB",
            "state row kB",
            "state.json B per fingerprint",
        ]
        lines += [
            "After the first full load of each `full_*` case (connector, medians):",
            "",
            report.md_table(header, first),
            "",
        ]
    return lines


# ---------------------------------------------------------------------------- how it measures


def cases_rows(cfg: Config) -> list[list[str]]:
    """Rows of the 'what each case does' table for the cases the configuration has."""
    rows = []
    if cfg.large_insights:
        rows.append(
            [
                full_case_name(cfg.large_insights),
                f"full load of {cfg.large_insights} insights (a large tenant), the connector "
                f"once; wall time per insight compared with "
                f"{full_case_name(cfg.large_reference)}'s connector median of the same run",
            ]
        )
    if cfg.postgres_insights:
        rows.append(
            [
                f"pg_full_{cfg.postgres_insights // 1000}k, pg_nothing_new, pg_k_new",
                f"full_{cfg.postgres_insights // 1000}k, nothing_new and k_new with the "
                "connector loading into PostgreSQL (`--destination postgres`, a database per "
                "run on a throw-away cluster), alternating with the connector into DuckDB and "
                "the same baselines; skipped, saying why, without PostgreSQL",
            ]
        )
    if cfg.state_sizes:
        rows.append(
            [
                "state_size",
                "dlt's state (local `state.json`, the destination's `_dlt_pipeline_state`) after "
                "a first load and after each scheduled run with K new occurrences, at "
                + ", ".join(str(n) for n in cfg.state_sizes)
                + " insights",
            ]
        )
    return rows
