"""What every case module shares: the run's configuration and the helpers that record runs.

Split out of ``bench.cases`` so the cases added for issue #10 (``bench.scale``,
``bench.postgres``) can use them without importing the registry that lists them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import duckdb

from bench.harness import CONNECTOR, CaseResult, RunRecord, Summary, duckdb_ids
from bench.simproc import SimProcess

SEED = 42
PAGE_SIZE = 50
LOOKBACK_HOURS = 24.0
# Where a case that could not run says why (PostgreSQL not installed): it ran, with no runs.
SKIPPED = "skipped"


@dataclass(frozen=True)
class Config:
    """Sizes and repeats of one benchmark run (`--quick` shrinks them).

    The fields after `keep` belong to cases added later (issue #10). Their defaults switch those
    cases off, so a results file recorded before they existed still reads as a complete run of
    its own configuration (``record.required_cases`` asks only for the cases it configures).
    """

    repeats: int
    full_sizes: tuple[int, ...]
    latency_insights: int
    latency_ms: float
    scheduled_insights: int
    k_new: int
    rate_insights: int
    rate_limit: int
    pace: float
    fault_insights: int
    fault_rate: float
    drop_rate: float
    inject_429_rate: float
    retry_after: float
    rest_api_max_insights: int  # above this size rest_api runs once (it needs minutes and GBs)
    phases_sizes: tuple[int, ...]
    loader_formats_insights: int
    keep: bool = False
    large_insights: int = 0  # one connector load of a large tenant (full_1m); 0 = off
    large_reference: int = 0  # the full_* size whose per-insight time the large load must keep
    state_sizes: tuple[int, ...] = ()  # state size per load at these sizes; () = off
    postgres_insights: int = 0  # full load into PostgreSQL; 0 = no PostgreSQL cases

    @classmethod
    def full(cls, repeats: int = 3) -> Config:
        """The default run: about 23 minutes on 2 cores (`rate_limit` waits a minute a repeat)."""
        return cls(
            repeats=repeats,
            full_sizes=(3_000, 10_000, 30_000, 100_000),
            latency_insights=5_000,
            latency_ms=50.0,
            scheduled_insights=10_000,
            k_new=120,
            rate_insights=7_500,
            rate_limit=100,
            pace=90.0,
            fault_insights=10_000,
            fault_rate=0.10,
            drop_rate=0.01,
            inject_429_rate=0.02,
            retry_after=1.0,
            rest_api_max_insights=30_000,
            phases_sizes=(10_000, 100_000),
            loader_formats_insights=30_000,
            large_insights=1_000_000,
            large_reference=100_000,
            state_sizes=(10_000, 100_000),
            postgres_insights=30_000,
        )

    @classmethod
    def quick(cls) -> Config:
        """One repeat, small sizes: a smoke run of every case in a few minutes."""
        base = cls.full(repeats=1)
        return Config(
            **{
                **base.__dict__,
                "full_sizes": (3_000, 10_000),
                "latency_insights": 2_000,
                "scheduled_insights": 3_000,
                "fault_insights": 3_000,
                "phases_sizes": (3_000, 10_000),
                "loader_formats_insights": 3_000,
                "large_insights": 20_000,
                "large_reference": 10_000,
                "state_sizes": (3_000, 10_000),
                "postgres_insights": 3_000,
            }
        )


def size_label(n: int) -> str:
    """`30k`, `1m`: the size part of a case name."""
    return f"{n // 1_000_000}m" if n >= 1_000_000 and n % 1_000_000 == 0 else f"{n // 1000}k"


def full_case_name(n: int) -> str:
    """The name of the full-load case of `n` insights (`full_100k`, `full_1m`)."""
    return f"full_{size_label(n)}"


# Scheduled-run cases last about a second, and on a shared machine their runs vary as much as
# the gap they measure (one 5-run record: nothing_new's baseline 0.98-1.45 s, the connector
# 1.24-1.74 s; two 9-run medians of the same commit an hour apart: 0.90x and 1.19x). They run
# this many times the repeats asked for; it costs a few minutes.
SHORT_CASE_REPEAT_FACTOR = 5


def short_case_repeats(cfg: Config) -> int:
    """How many times a scheduled-run case (nothing_new, k_new and their PostgreSQL twins) runs."""
    return cfg.repeats * SHORT_CASE_REPEAT_FACTOR


def rotated(variants: list[str], repeat: int) -> list[str]:
    """Alternate the order between repeats so no variant always runs first."""
    shift = repeat % len(variants)
    return variants[shift:] + variants[:shift]


def pages(n: int) -> int:
    """Pages of PAGE_SIZE needed for `n` rows."""
    return math.ceil(n / PAGE_SIZE)


def usable(result: CaseResult, variant: str) -> Summary | None:
    """A variant's summary if at least one of its runs succeeded: targets never judge failures."""
    summary = result.summary(variant)
    return summary if summary is not None and summary.failed < summary.runs else None


def add_record(result: CaseResult, record: RunRecord) -> RunRecord:
    """Keep a run, and say in the notes when it failed."""
    result.records.append(record)
    if not record.ok:
        result.notes.append(f"{record.variant} run {record.repeat} failed: {record.error}")
    return record


def check_counts(result: CaseResult, record: RunRecord, found: tuple[int, int], want: int) -> None:
    """Loaded rows and distinct ids equal the simulator's insights (none lost or duplicated)."""
    rows, distinct = found
    record.extra["rows"] = rows
    record.extra["distinct_ids"] = distinct
    if rows != want or distinct != want:
        result.notes.append(
            f"{record.variant} run {record.repeat}: {rows} rows / {distinct} ids, expected {want}"
        )


def check_rows(result: CaseResult, record: RunRecord, db: Path, table: str, want: int) -> None:
    """Loaded rows equal the simulator's insights (a full load must not lose or duplicate)."""
    if not record.ok:
        return
    try:
        rows, ids = duckdb_ids(db, table)
    except duckdb.Error as error:
        record.extra["rows_error"] = str(error)
        result.notes.append(f"{record.variant} run {record.repeat}: cannot read {table}: {error}")
        return
    check_counts(result, record, (rows, len(ids)), want)


def expected_pages(sim: SimProcess, cursor: str, total: int) -> tuple[int, int]:
    """Rows at or above cursor - lookback, and the fewest pages a desc scan needs to see them.

    The scan must read every such row plus one row below the bound (to know it may stop), unless
    the data ends first.
    """
    above = int(sim.command("count_since", since=cursor, hours=LOOKBACK_HOURS)["count"])
    return above, min(pages(above + 1), pages(total))


def worst_request_excess(result: CaseResult, variant: str = CONNECTOR) -> tuple[int, int] | None:
    """(requests, minimum) of the `variant` run furthest above its recorded minimum."""
    runs = [
        (r.requests - int(r.extra["minimum"]), r.requests, int(r.extra["minimum"]))
        for r in result.records
        if r.variant == variant and "minimum" in r.extra
    ]
    if not runs:
        return None
    _, requests, minimum = max(runs)
    return requests, minimum


def wrong_loads(result: CaseResult) -> list[str]:
    """The runs of `result` whose destination was checked and found wrong, one phrase each.

    Read from what the checks recorded in each run (rows and distinct ids against the case's
    insights, ids against the reference load, updated insights against K), not from the notes:
    a load that lost or duplicated rows makes every figure of its case meaningless.
    """
    found = []
    for r in result.records:
        problem = _wrong_load(result.params, r.extra)
        if problem:
            found.append(f"{r.variant} run {r.repeat} {problem}")
    return found


def _wrong_load(params: dict[str, object], extra: dict[str, object]) -> str:
    if "rows_error" in extra:
        return f"left a table that cannot be read: {extra['rows_error']}"
    if "distinct_ids" in extra:
        want = params.get("insights")
        if not extra["rows"] == extra["distinct_ids"] == want:
            return f"loaded {extra['rows']} rows / {extra['distinct_ids']} ids, expected {want}"
    lost = {key: extra.get(key) for key in ("missing", "unexpected", "duplicates")}
    if any(lost.values()):
        return "loaded " + ", ".join(f"{v} {k}" for k, v in lost.items() if v)
    if "bumped_loaded" in extra and extra["bumped_loaded"] != params.get("k"):
        return f"carried {extra['bumped_loaded']} of {params.get('k')} updated insights"
    return ""
