"""Cases of issue #10 about scale: a large tenant's full load, and dlt state size per load.

``full_1m``: one full load of 1,000,000 insights by the connector, started as users start it. It
must complete with every row, stay under 1 GiB of peak RSS, and spend no more time per insight
than the connector did at 100k in the same run (``full_100k``). One run: it takes minutes, and
the simulator alone needs about 3 GB and a minute or two to generate the data.

``state_size``: the connector keeps a fingerprint per insight of the lookback window in dlt's
state, which dlt rewrites on every load that changes it (``state.json`` locally, a new row of
``_dlt_pipeline_state`` in the destination). Measured after a first full load and after each
scheduled run with K new occurrences, at two tenant sizes, against a bound proportional to the
insights within the lookback window.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.casekit import (
    LOOKBACK_HOURS,
    PAGE_SIZE,
    SEED,
    Config,
    add_record,
    check_rows,
    full_case_name,
    pages,
    size_label,
    usable,
)
from bench.destinations import DuckDBDestination, state_size
from bench.harness import (
    CONNECTOR,
    Bench,
    CaseResult,
    RunRecord,
    Target,
    bound_target,
    ratio_target,
)
from bench.simproc import SimProcess

LARGE_RSS_LIMIT_MB = 1024.0
# Per-insight wall time at 1M vs at 100k: equal, with 10 % for the noise of one run against a
# median of three on a shared machine.
PER_INSIGHT_SLACK = 1.1
LARGE_TIMEOUT_S = 3600.0
# A fingerprint entry is `"<36-char id>":"<24 hex digits>",` (67 bytes of JSON); 72 B per insight
# of the lookback window leaves room for nothing else that grows with the tenant. The constant
# part (cursor, views digest, dlt's own keys) is about 1.5 KB.
STATE_BYTES_PER_INSIGHT = 72
STATE_FIXED_BYTES = 4096
# Per insight of the lookback window, the state at the larger size may cost 1.2x the smaller's.
STATE_PER_INSIGHT_GROWTH = 1.2


def record_state(record: RunRecord, state_dir: Path) -> None:
    """Add dlt's state size after a successful DuckDB run to its record (nothing if it failed)."""
    if record.ok:
        record.extra.update(state_size(DuckDBDestination(), state_dir).as_extra())


# ---------------------------------------------------------------------------- full_1m


def large_load(bench: Bench, cfg: Config, result: CaseResult) -> None:
    """One full load of a large tenant: completes, rows checked, peak RSS under 1 GiB."""
    n = cfg.large_insights
    result.params.update(insights=n, pages=pages(n), page_size=PAGE_SIZE)
    result.params["reference"] = full_case_name(cfg.large_reference)
    with SimProcess(n, seed=SEED, page_size=PAGE_SIZE, log_path=bench.work_dir / "sim.log") as sim:
        result.params["simulator_start_s"] = round(sim.start_s, 1)
        result.params["simulator_rss_mb"] = round(sim.rss_mb())
        state = bench.fresh_dir(f"connector-{n}")
        argv, env = bench.connector_argv(sim, state), bench.connector_env(state)
        record, _ = bench.run(sim, CONNECTOR, 0, argv, env, state, timeout_s=LARGE_TIMEOUT_S)
        add_record(result, record)
        check_rows(result, record, state / "connector.duckdb", "opencx.insights", n)
        record_state(record, state)
    result.notes.append(
        f"the connector ran once at {n} (minutes per run); the simulator took "
        f"{sim.start_s:.0f} s and {result.params['simulator_rss_mb']} MB to generate the data"
    )


def large_load_targets(result: CaseResult, reference: CaseResult | None) -> list[Target]:
    """Every row once, peak RSS under 1 GiB, and wall per insight against the reference case."""
    run = next((r for r in result.records if r.variant == CONNECTOR and r.ok), None)
    if run is None:
        return []
    return [
        rows_target(result.name, run, int(result.params["insights"])),
        bound_target(
            result.name, "peak RSS under 1 GiB", run.peak_rss_mb, LARGE_RSS_LIMIT_MB, " MB"
        ),
        per_insight_target(result, reference),
    ]


def rows_target(case: str, record: RunRecord, want: int) -> Target:
    """Every insight loaded once: rows and distinct ids both equal to the simulator's count."""
    rows, distinct = int(record.extra.get("rows", -1)), int(record.extra.get("distinct_ids", -1))
    met = rows == want == distinct
    verdict = "met" if met else f"{rows} rows, {distinct} distinct ids"
    return Target(
        case, "rows loaded (distinct ids)", f"{rows} ({distinct})", f"== {want}", met, verdict
    )


def per_insight_target(large: CaseResult, reference: CaseResult | None) -> Target:
    """Wall time per insight at the large size vs the reference full load of the same run.

    A run without the reference (it is another case) says so instead of judging.
    """
    ref_name = str(large.params["reference"])
    label = f"wall per insight vs {ref_name}'s (<= {PER_INSIGHT_SLACK:g}x: noise of one run)"
    ref = usable(reference, CONNECTOR) if reference is not None else None
    big = usable(large, CONNECTOR)
    if reference is None or ref is None or big is None:
        verdict = f"not judged: {ref_name} did not run (--cases {ref_name},{large.name})"
        return Target(large.name, label, "-", f"<= {PER_INSIGHT_SLACK:g}x", None, verdict)
    return ratio_target(
        large.name,
        label,
        1e6 * big.wall_median / int(large.params["insights"]),
        1e6 * ref.wall_median / int(reference.params["insights"]),
        PER_INSIGHT_SLACK,
        " us",
    )


# ---------------------------------------------------------------------------- state_size


def _lookback(sim: SimProcess, cursor: str) -> int:
    """Insights last seen at or after `cursor` minus the lookback: what a run re-reads."""
    return int(sim.command("count_since", since=cursor, hours=LOOKBACK_HOURS)["count"])


def _state_load(
    bench: Bench, sim: SimProcess, result: CaseResult, variant: str, repeat: int, state: Path
) -> RunRecord:
    """One connector run into the DuckDB file of `state`, with dlt's state size after it."""
    argv, env = bench.connector_argv(sim, state), bench.connector_env(state)
    record = add_record(result, bench.run(sim, variant, repeat, argv, env, state)[0])
    record_state(record, state)
    return record


def _load_row(n: int, load: str, record: RunRecord, lookback: int) -> dict[str, Any]:
    """One row of the state table: the load, its lookback window and the state it left."""
    return {
        "insights": n,
        "load": load,
        "lookback_insights": lookback,
        "wall_s": record.wall_s,
        **{k.removeprefix("state_"): v for k, v in record.extra.items() if k.startswith("state_")},
    }


def _state_at(bench: Bench, cfg: Config, result: CaseResult, n: int) -> list[dict[str, Any]]:
    """A first full load of `n`, then `repeats` scheduled runs each after K new occurrences."""
    rows: list[dict[str, Any]] = []
    with SimProcess(n, seed=SEED, page_size=PAGE_SIZE, log_path=bench.work_dir / "sim.log") as sim:
        state = bench.fresh_dir(f"state-{n}")
        record = _state_load(bench, sim, result, f"connector {size_label(n)}, first load", 0, state)
        if not record.ok:
            return rows
        cursor = str(sim.command("snapshot")["max_last_seen"])
        rows.append(_load_row(n, "first load", record, _lookback(sim, cursor)))
        for repeat in range(cfg.repeats):
            sim.command("bump", k=cfg.k_new, seed=3000 + repeat)
            lookback = _lookback(sim, cursor)  # the run re-reads from the stored cursor
            variant = f"connector {size_label(n)}, after K new"
            record = _state_load(bench, sim, result, variant, repeat, state)
            if not record.ok:
                break
            rows.append(_load_row(n, f"after K={cfg.k_new} new ({repeat + 1})", record, lookback))
            cursor = str(sim.command("snapshot")["max_last_seen"])
    return rows


def state_case(bench: Bench, cfg: Config, result: CaseResult) -> None:
    """dlt's state after each load, at each size of `cfg.state_sizes`, against the lookback."""
    result.params.update(
        sizes=list(cfg.state_sizes),
        k=cfg.k_new,
        lookback_hours=LOOKBACK_HOURS,
        bytes_per_lookback_insight=STATE_BYTES_PER_INSIGHT,
        fixed_bytes=STATE_FIXED_BYTES,
    )
    loads = [row for n in cfg.state_sizes for row in _state_at(bench, cfg, result, n)]
    result.data["state"] = loads


def _bound(row: dict[str, Any]) -> float:
    return float(STATE_BYTES_PER_INSIGHT * row["lookback_insights"] + STATE_FIXED_BYTES)


def _per_insight(rows: list[dict[str, Any]]) -> float:
    """State bytes per insight of the lookback window, over a size's loads (the largest)."""
    return max(int(r["local_bytes"]) / max(int(r["lookback_insights"]), 1) for r in rows)


def state_targets(case: str, loads: list[dict[str, Any]]) -> list[Target]:
    """At the largest size: first load and worst scheduled run within the lookback bound; and
    bytes per lookback insight at the largest size vs the smallest (the tenant does not count).
    """
    sizes = sorted({int(r["insights"]) for r in loads})
    if not sizes:
        return []
    big = [r for r in loads if r["insights"] == sizes[-1]]
    targets = []
    for kind, rows in (
        ("first load", [r for r in big if r["load"] == "first load"]),
        ("K new (worst run)", [r for r in big if r["load"] != "first load"]),
    ):
        if not rows:
            continue
        worst = max(rows, key=lambda r: r["local_bytes"] - _bound(r))
        targets.append(
            bound_target(
                case,
                f"state.json after {kind} at {size_label(sizes[-1])} vs "
                f"{STATE_BYTES_PER_INSIGHT} B x {worst['lookback_insights']} insights in the "
                f"lookback + {STATE_FIXED_BYTES // 1024} KiB",
                worst["local_bytes"] / 1000,
                _bound(worst) / 1000,
                " kB",
            )
        )
    if len(sizes) >= 2:
        small = [r for r in loads if r["insights"] == sizes[0]]
        targets.append(
            ratio_target(
                case,
                f"state bytes per lookback insight, {size_label(sizes[-1])} vs "
                f"{size_label(sizes[0])}",
                _per_insight(big),
                _per_insight(small),
                STATE_PER_INSIGHT_GROWTH,
                " B",
            )
        )
    return targets
