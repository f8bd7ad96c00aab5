"""The benchmark cases of issues #4 and #10; each runs its variants in alternation, `repeats` times.

The cases added for issue #10 live in `bench.scale` (the 1M-insight load, dlt state size) and
`bench.pg_cases` (PostgreSQL beside DuckDB); `registry` lists them all in run order.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import duckdb

from bench import loader_formats, pg_cases, phases, scale
from bench.casekit import (
    LOOKBACK_HOURS,
    PAGE_SIZE,
    SEED,
    Config,
    add_record,
    check_rows,
    expected_pages,
    full_case_name,
    pages,
    rotated,
    short_case_repeats,
    usable,
    worst_request_excess,
)
from bench.harness import (
    CONNECTOR,
    DIAGNOSTIC,
    FLOOR,
    FLOOR4,
    FLOOR4_RETRY,
    FLOOR_RETRY,
    REST_API,
    STARTUP,
    THEORY,
    Bench,
    CaseResult,
    RunRecord,
    Target,
    count_target,
    duckdb_ids,
    faster_target,
    ratio_target,
)
from bench.simproc import PROJECT_ROOT, SimProcess

# ---------------------------------------------------------------------------- full loads


def full_load(bench: Bench, cfg: Config, result: CaseResult, n: int) -> None:
    """Full load of `n` insights, no latency: connector vs floor vs rest_api."""
    result.params.update(insights=n, pages=pages(n), page_size=PAGE_SIZE)
    variants = [CONNECTOR, FLOOR, REST_API]
    with SimProcess(n, seed=SEED, page_size=PAGE_SIZE, log_path=bench.work_dir / "sim.log") as sim:
        for repeat in range(cfg.repeats):
            for variant in rotated(variants, repeat):
                if variant == REST_API and n > cfg.rest_api_max_insights and repeat > 0:
                    continue
                state = bench.fresh_dir(f"{variant}-{n}")
                if variant == CONNECTOR:
                    argv, env = bench.connector_argv(sim, state), bench.connector_env(state)
                    db, table = state / "connector.duckdb", "opencx.insights"
                elif variant == FLOOR:
                    argv, env = bench.floor_argv(sim, state), bench.env(state)
                    db, table = state / "floor.duckdb", "insights"
                else:
                    argv, env = bench.rest_api_argv(sim, state), bench.env(state)
                    db, table = state / "rest_api.duckdb", "opencx.insights"
                record, _ = bench.run(sim, variant, repeat, argv, env, state, timeout_s=900)
                check_rows(result, add_record(result, record), db, table, n)
                if variant == CONNECTOR:
                    scale.record_state(record, state)
    if n > cfg.rest_api_max_insights and cfg.repeats > 1:
        result.notes.append(f"dlt rest_api ran once at {n} (minutes and GBs per run)")


def judged_full_sizes(sizes: list[int]) -> list[int]:
    """The full-load sizes with wall and RSS targets: 30k and up (the largest if none is)."""
    return [n for n in sorted(sizes) if n >= 30_000] or sorted(sizes)[-1:]


def full_load_targets(result: CaseResult) -> list[Target]:
    """Wall <= 2x and peak RSS <= 1.25x the floor's (at the sizes `judged_full_sizes` names)."""
    conn, floor = usable(result, CONNECTOR), usable(result, FLOOR)
    if conn is None or floor is None:
        return []
    return [
        ratio_target(result.name, "wall vs floor", conn.wall_median, floor.wall_median, 2.0, " s"),
        ratio_target(
            result.name, "peak RSS vs floor", conn.rss_median, floor.rss_median, 1.25, " MB"
        ),
    ]


MEMORY_FLAT_PREFIX = "memory_flat_"


def memory_flat_case(results: dict[int, CaseResult]) -> CaseResult | None:
    """The derived case comparing the connector's peak RSS at the largest size with 10k's."""
    sizes = sorted(results)
    if len(sizes) < 2:
        return None
    big = sizes[-1]
    ref = 10_000 if 10_000 in sizes and big != 10_000 else sizes[0]
    return CaseResult(
        f"{MEMORY_FLAT_PREFIX}{ref // 1000}k_{big // 1000}k",
        f"Memory flat in N: connector peak RSS at {big} vs {ref}",
        f"connector at {ref}",
        {"from": [results[ref].name, results[big].name]},
    )


def memory_flat_targets(case: CaseResult, cases: Mapping[str, CaseResult]) -> list[Target]:
    """RSS(largest) <= 1.2x RSS(reference): the full cases named in `from`, by their runs."""
    ref_name, big_name = case.params["from"]
    ref_case, big_case = cases.get(ref_name), cases.get(big_name)
    if ref_case is None or big_case is None:
        return []
    ref_s, big_s = usable(ref_case, CONNECTOR), usable(big_case, CONNECTOR)
    if ref_s is None or big_s is None:
        return []
    big, ref = int(big_case.params["insights"]), int(ref_case.params["insights"])
    label = f"RSS({big // 1000}k) vs RSS({ref // 1000}k)"
    return [ratio_target(case.name, label, big_s.rss_median, ref_s.rss_median, 1.2, " MB")]


# ---------------------------------------------------------------------------- latency


def latency(bench: Bench, cfg: Config, result: CaseResult) -> None:
    """Full load with 50 ms per response: connector vs floor with 4 connections."""
    n = cfg.latency_insights
    result.params.update(insights=n, pages=pages(n), latency_ms=cfg.latency_ms)
    variants = [CONNECTOR, FLOOR4, FLOOR, REST_API]
    with SimProcess(
        n,
        seed=SEED,
        page_size=PAGE_SIZE,
        latency_ms=cfg.latency_ms,
        log_path=bench.work_dir / "sim.log",
    ) as sim:
        for repeat in range(cfg.repeats):
            for variant in rotated(variants, repeat):
                state = bench.fresh_dir(variant)
                if variant == CONNECTOR:
                    argv, env = bench.connector_argv(sim, state), bench.connector_env(state)
                elif variant == REST_API:
                    argv, env = bench.rest_api_argv(sim, state), bench.env(state)
                else:
                    connections = 4 if variant == FLOOR4 else 1
                    argv, env = bench.floor_argv(sim, state, connections), bench.env(state)
                add_record(result, bench.run(sim, variant, repeat, argv, env, state)[0])


def latency_targets(result: CaseResult) -> list[Target]:
    """Wall <= 1.25x the floor with 4 connections."""
    conn, floor4 = usable(result, CONNECTOR), usable(result, FLOOR4)
    if conn is None or floor4 is None:
        return []
    label = "wall vs floor with 4 connections"
    return [ratio_target(result.name, label, conn.wall_median, floor4.wall_median, 1.25, " s")]


# ---------------------------------------------------------------------------- scheduled runs


def _setup_scheduled(bench: Bench, sim: SimProcess, result: CaseResult) -> tuple[Path, Path]:
    """First (full) loads of the connector and of rest_api, so the next runs are incremental."""
    conn_state, rest_state = bench.fresh_dir("connector-state"), bench.fresh_dir("rest-state")
    for variant, argv, env, state in (
        (
            CONNECTOR,
            bench.connector_argv(sim, conn_state),
            bench.connector_env(conn_state),
            conn_state,
        ),
        (REST_API, bench.rest_api_argv(sim, rest_state), bench.env(rest_state), rest_state),
    ):
        record, _ = bench.run(sim, f"{variant} (first load, setup)", -1, argv, env, state)
        result.notes.append(
            f"setup: {variant} first load {record.wall_s:.2f} s, {record.requests} requests"
        )
        if not record.ok:
            raise RuntimeError(f"setup load of {variant} failed: {record.error}")
    return conn_state, rest_state


def nothing_new(bench: Bench, cfg: Config, result: CaseResult) -> None:
    """A scheduled run when nothing changed since the last load."""
    n = cfg.scheduled_insights
    result.params.update(insights=n, lookback_hours=LOOKBACK_HOURS)
    with SimProcess(n, seed=SEED, page_size=PAGE_SIZE, log_path=bench.work_dir / "sim.log") as sim:
        conn_state, rest_state = _setup_scheduled(bench, sim, result)
        snap = sim.command("snapshot")
        above, expected = expected_pages(sim, str(snap["max_last_seen"]), n)
        result.params.update(
            cursor=snap["max_last_seen"], lookback_rows=above, minimum_requests=expected
        )
        variants = [CONNECTOR, STARTUP, REST_API]
        for repeat in range(short_case_repeats(cfg)):
            for variant in rotated(variants, repeat):
                if variant == CONNECTOR:
                    argv = bench.connector_argv(sim, conn_state)
                    env, state = bench.connector_env(conn_state), conn_state
                elif variant == REST_API:
                    argv, env, state = (
                        bench.rest_api_argv(sim, rest_state),
                        bench.env(rest_state),
                        rest_state,
                    )
                else:
                    state = bench.fresh_dir("startup")
                    argv, env = bench.startup_argv(sim), bench.env(state)
                add_record(result, bench.run(sim, variant, repeat, argv, env, state)[0])


def nothing_new_targets(result: CaseResult) -> list[Target]:
    """Requests == 1 + lookback pages (worst run); wall <= 1.2x import dlt + 1 request and
    below dlt rest_api's."""
    conn, startup = usable(result, CONNECTOR), usable(result, STARTUP)
    targets = []
    if conn and startup:
        expected = int(result.params["minimum_requests"])
        label = "requests (1 + lookback pages)"
        targets += [
            count_target(result.name, label, max(conn.requests), expected),
            ratio_target(
                result.name,
                "wall vs import dlt + 1 request",
                conn.wall_median,
                startup.wall_median,
                1.2,
                " s",
            ),
        ]
    rest = usable(result, REST_API)
    if conn and rest:
        label = "wall vs dlt rest_api"
        targets.append(faster_target(result.name, label, conn.wall_median, rest.wall_median, " s"))
    return targets


def _bumped_loaded(db: Path, ids: list[str], after: str) -> int:
    """How many of `ids` are in the destination with last_seen_at after `after`."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        con.execute("CREATE TEMP TABLE want(id VARCHAR)")
        con.executemany("INSERT INTO want VALUES (?)", [[i] for i in ids])
        row = con.execute(
            "SELECT count(DISTINCT i.id) FROM opencx.insights i JOIN want USING (id) "
            "WHERE i.last_seen_at::TIMESTAMPTZ > ?::TIMESTAMPTZ",
            [after],
        ).fetchone()
    finally:
        con.close()
    return int(row[0]) if row else 0


BUMP_SEED = 1000  # which K insights get new sessions: the same ones before every repeat


def k_new(bench: Bench, cfg: Config, result: CaseResult) -> None:
    """A scheduled run after K insights got new occurrences."""
    n, k = cfg.scheduled_insights, cfg.k_new
    # the same K insights every repeat: each bump then leaves the lookback window as it found
    # it, where K fresh ones per repeat grew it by K a repeat and made later repeats harder
    result.params.update(insights=n, k=k, lookback_hours=LOOKBACK_HOURS, same_k_each_repeat=True)
    with SimProcess(n, seed=SEED, page_size=PAGE_SIZE, log_path=bench.work_dir / "sim.log") as sim:
        conn_state, rest_state = _setup_scheduled(bench, sim, result)
        variants = [CONNECTOR, REST_API]
        for repeat in range(short_case_repeats(cfg)):
            cursor = str(sim.command("snapshot")["max_last_seen"])
            bumped = list(sim.command("bump", k=k, seed=BUMP_SEED)["ids"])
            above, expected = expected_pages(sim, cursor, n)
            lookback_rows = above - len(bumped)
            formula = pages(len(bumped) + 1) + pages(lookback_rows)
            result.notes.append(
                f"repeat {repeat}: K={len(bumped)} bumped, {lookback_rows} other rows within "
                f"{LOOKBACK_HOURS:g} h of the cursor {cursor}: minimum {expected} requests "
                f"(ceil((K+1)/{PAGE_SIZE}) + ceil(lookback/{PAGE_SIZE}) = {formula})"
            )
            for variant in rotated(variants, repeat):
                if variant == CONNECTOR:
                    argv = bench.connector_argv(sim, conn_state)
                    env, state = bench.connector_env(conn_state), conn_state
                    db = conn_state / "connector.duckdb"
                else:
                    argv, env, state = (
                        bench.rest_api_argv(sim, rest_state),
                        bench.env(rest_state),
                        rest_state,
                    )
                    db = rest_state / "rest_api.duckdb"
                record = add_record(result, bench.run(sim, variant, repeat, argv, env, state)[0])
                record.extra.update(minimum=expected, formula=formula, lookback_rows=lookback_rows)
                if record.ok:
                    loaded = _bumped_loaded(db, bumped, cursor)
                    record.extra["bumped_loaded"] = loaded
                    if loaded != len(bumped):
                        result.notes.append(
                            f"{variant} repeat {repeat}: only {loaded} of {len(bumped)} "
                            "updated insights carry their new last_seen_at"
                        )


def k_new_targets(result: CaseResult) -> list[Target]:
    """Requests == the minimum in the worst repeat; wall below dlt rest_api's."""
    conn, rest = usable(result, CONNECTOR), usable(result, REST_API)
    worst = worst_request_excess(result)
    targets = []
    if conn is not None and worst is not None:
        label = "requests vs minimum (worst repeat)"
        targets.append(count_target(result.name, label, *worst))
    if conn is not None and rest is not None:
        label = "wall vs dlt rest_api"
        targets.append(faster_target(result.name, label, conn.wall_median, rest.wall_median, " s"))
    return targets


# ---------------------------------------------------------------------------- rate limit


# The server's window: a client may start at most `limit` requests in any 60 s.
LIMIT_WINDOW_S = 60.0
# A paced backfill may take this much longer than the limit's minimum (start-up, the last
# pages, normalize and load): well under the next window, which a needless wait would add.
RATE_WALL_SLACK = 1.1


def limit_minimum_s(pages_: int, limit: int) -> float:
    """The least time from first to last of `pages_` requests that never exceeds `limit` in any
    60 s: the first `limit` at once, the next `limit` a window later, and so on."""
    return LIMIT_WINDOW_S * ((pages_ - 1) // limit) if pages_ > 0 and limit > 0 else 0.0


def rate_limited(bench: Bench, cfg: Config, result: CaseResult) -> None:
    """A full backfill of more pages than the limit allows in a minute, the connector pacing
    below it: the pacing must hold the rest for the next window (no 429), and no longer."""
    n = cfg.rate_insights
    r_pages = pages(n)
    minimum = limit_minimum_s(r_pages, cfg.rate_limit)
    result.params.update(
        insights=n,
        pages=r_pages,
        rate_limit_per_min=cfg.rate_limit,
        client_pace_per_min=cfg.pace,
        minimum_s=minimum,
    )
    for repeat in range(cfg.repeats):
        # A fresh simulator per run: the limiter's 60 s window must not carry the previous run.
        with SimProcess(
            n,
            seed=SEED,
            page_size=PAGE_SIZE,
            rate_limit=cfg.rate_limit,
            retry_after=cfg.retry_after,
            log_path=bench.work_dir / "sim.log",
        ) as sim:
            state = bench.fresh_dir("connector-paced")
            argv, env = bench.connector_argv(sim, state), bench.connector_env(state, cfg.pace)
            record = add_record(result, bench.run(sim, CONNECTOR, repeat, argv, env, state)[0])
            check_rows(result, record, state / "connector.duckdb", "opencx.insights", n)
    result.records.append(RunRecord(THEORY, 0, minimum, 0.0, r_pages, {}, True))


def rate_limit_targets(result: CaseResult) -> list[Target]:
    """No 429 in any run, and a median wall time the limit governs: at least the limit's minimum
    (else the case never made the pacing wait) and at most RATE_WALL_SLACK times it."""
    every = result.summary(CONNECTOR)
    if every is None:
        return []
    r_pages, limit = int(result.params["pages"]), int(result.params["rate_limit_per_min"])
    minimum = limit_minimum_s(r_pages, limit)
    targets = [count_target(result.name, "429 responses", every.count_429, 0)]
    label = (
        f"wall vs the limit's minimum 60 s x floor(({r_pages} - 1) / {limit}), "
        f"up to {RATE_WALL_SLACK:g}x"
    )
    conn = usable(result, CONNECTOR)
    if conn is None:
        targets.append(Target(result.name, label, "-", "-", False, "missed: no run completed"))
        return targets
    targets.append(
        within_target(result.name, label, conn.wall_median, minimum, RATE_WALL_SLACK * minimum)
    )
    targets.append(
        Target(
            result.name,
            "(informational) first to last request",
            f"{conn.span_median:.2f} s",
            f">= {minimum:.2f} s",
            None,
            "informational",
        )
    )
    return targets


def within_target(case: str, label: str, wall: float, low: float, high: float) -> Target:
    """`low <= wall <= high` seconds; a zero `low` means the case never binds: not a pass."""
    limit = f"{low:.2f}-{high:.2f} s"
    if low <= 0:
        verdict = (
            "missed: does not bind (every page fits in one minute's limit, so pacing never waits)"
        )
        return Target(case, label, f"{wall:.2f} s", limit, False, verdict)
    if wall < low:
        verdict = "missed: faster than the limit allows (the pacing did not bind)"
        return Target(case, label, f"{wall:.2f} s", limit, False, verdict)
    met = wall <= high
    verdict = "met" if met else f"missed by {100 * (wall / high - 1):.1f}%"
    return Target(case, label, f"{wall:.2f} s", limit, met, verdict)


# ---------------------------------------------------------------------------- faults


def faults(bench: Bench, cfg: Config, result: CaseResult) -> None:
    """10% 5xx, 1% drops and 2% 429s: complete, nothing missing, <= 1.5x the floor's retries."""
    n = cfg.fault_insights
    result.params.update(
        insights=n,
        pages=pages(n),
        fault_rate=cfg.fault_rate,
        drop_rate=cfg.drop_rate,
        inject_429_rate=cfg.inject_429_rate,
        retry_after_s=cfg.retry_after,
    )
    log = bench.work_dir / "sim.log"
    with SimProcess(n, seed=SEED, page_size=PAGE_SIZE, log_path=log) as clean:
        ref_state = bench.fresh_dir("reference")
        argv, env = bench.connector_argv(clean, ref_state), bench.connector_env(ref_state)
        ref, _ = bench.run(clean, "reference (no faults)", -1, argv, env, ref_state)
        if not ref.ok:
            raise RuntimeError(f"clean reference load failed: {ref.error}")
        ref_rows, ref_ids = duckdb_ids(ref_state / "connector.duckdb", "opencx.insights")
        truth = set(clean.command("ids")["ids"])
    result.params.update(reference_rows=ref_rows, reference_matches_simulator=ref_ids == truth)
    variants = [CONNECTOR, FLOOR_RETRY, FLOOR4_RETRY]
    for repeat in range(cfg.repeats):
        for variant in rotated(variants, repeat):
            with SimProcess(
                n,
                seed=SEED,
                page_size=PAGE_SIZE,
                fault_rate=cfg.fault_rate,
                drop_rate=cfg.drop_rate,
                fault_seed=100 + repeat,
                retry_after=cfg.retry_after,
                inject_429_rate=cfg.inject_429_rate,
                inject_seed=200 + repeat,
                log_path=log,
            ) as sim:
                state = bench.fresh_dir(variant)
                if variant == CONNECTOR:
                    argv, env = bench.connector_argv(sim, state), bench.connector_env(state)
                    db, table = state / "connector.duckdb", "opencx.insights"
                else:
                    connections = 4 if variant == FLOOR4_RETRY else 1
                    argv = bench.floor_argv(sim, state, connections, retries=True)
                    env, db, table = bench.env(state), state / "floor.duckdb", "insights"
                record = add_record(result, bench.run(sim, variant, repeat, argv, env, state)[0])
            if not record.ok:
                continue
            rows, ids = duckdb_ids(db, table)
            missing, extra = len(ref_ids - ids), len(ids - ref_ids)
            record.extra.update(
                rows=rows, missing=missing, unexpected=extra, duplicates=rows - len(ids)
            )
            if variant == CONNECTOR and (missing or extra or rows != len(ids)):
                result.notes.append(
                    f"connector repeat {repeat}: {missing} missing, "
                    f"{extra} unexpected, {rows - len(ids)} duplicates"
                )
    conn, floor4 = usable(result, CONNECTOR), usable(result, FLOOR4_RETRY)
    if conn and floor4:
        result.notes.append(
            f"connector / floor with 4 connections and the same retries: "
            f"{conn.wall_median / floor4.wall_median:.2f}x (informational; the target compares "
            "with the sequential floor, as issue #4 words it)"
        )


def complete_load(record: RunRecord) -> bool:
    """A run that finished with every reference row once (`faults` compares ids after each)."""
    checked = ("missing", "unexpected", "duplicates")
    return (
        record.ok
        and all(key in record.extra for key in checked)
        and not any(record.extra[key] for key in checked)
    )


def faults_targets(result: CaseResult) -> list[Target]:
    """Every connector run complete (a failed run is an incomplete one); wall <= 1.5x the
    sequential floor with the same retries."""
    runs = [r for r in result.records if r.variant == CONNECTOR]
    if not runs:
        return []
    incomplete = sum(1 for r in runs if not complete_load(r))
    label = "runs incomplete or with rows missing"
    targets = [count_target(result.name, label, incomplete, 0)]
    conn, floor = usable(result, CONNECTOR), usable(result, FLOOR_RETRY)
    if conn and floor:
        label = "wall vs floor with the same retries"
        targets.append(
            ratio_target(result.name, label, conn.wall_median, floor.wall_median, 1.5, " s")
        )
    return targets


# ---------------------------------------------------------------------------- diagnostics


def phases_diagnostic(bench: Bench, cfg: Config, result: CaseResult) -> None:
    """The connector's phases (imports, extract, normalize, load), to explain the wall times."""
    result.params.update(sizes=list(cfg.phases_sizes))
    runs: dict[int, list[list[dict[str, object]]]] = {n: [] for n in cfg.phases_sizes}
    for _ in range(cfg.repeats):
        for n in cfg.phases_sizes:
            runs[n].append(phases.measure_size(n, bench.fresh_dir(f"phases-{n}")))
    result.data["phases"] = [{"insights": n, "runs": marks} for n, marks in runs.items()]


def loader_formats_diagnostic(bench: Bench, cfg: Config, result: CaseResult) -> None:
    """How the rows reach dlt, compared: the evidence for the connector's Arrow batches."""
    from sources.opencx.settings import BATCH_ROWS  # noqa: PLC0415

    del bench  # each case is its own process with its own temporary directory
    n = cfg.loader_formats_insights
    result.params.update(insights=n, batch_rows=BATCH_ROWS)
    runs: dict[str, list[dict[str, float]]] = {label: [] for label in loader_formats.CASES}
    for repeat in range(cfg.repeats):
        for label in rotated(list(loader_formats.CASES), repeat):
            shape, file_format = loader_formats.CASES[label]
            runs[label].append(loader_formats.measure(shape, file_format, n))
    result.data["loader_formats"] = [
        {
            "label": label,
            "shape": loader_formats.CASES[label][0],
            "format": loader_formats.CASES[label][1],
            "runs": r,
        }
        for label, r in runs.items()
    ]


# ---------------------------------------------------------------------------- registry

CaseFn = Callable[[Bench, Config, CaseResult], None]
# The large load has no baseline of its own: it is compared with the connector at 100k.
LARGE_BASELINE = "connector at the reference size"


def registry(cfg: Config) -> dict[str, tuple[str, str, CaseFn]]:
    """Case name -> (title, baseline, function), in run order."""
    cases: dict[str, tuple[str, str, CaseFn]] = {}
    for n in cfg.full_sizes:

        def run_full(bench: Bench, c: Config, result: CaseResult, n: int = n) -> None:
            full_load(bench, c, result, n)

        cases[f"full_{n // 1000}k"] = (f"Full load, {n} insights, no latency", FLOOR, run_full)
    if cfg.large_insights > 0:
        cases[full_case_name(cfg.large_insights)] = (
            f"Full load of a large tenant, {cfg.large_insights} insights, one run",
            LARGE_BASELINE,
            scale.large_load,
        )
    cases["latency"] = (
        f"Full load, {cfg.latency_insights} insights, {cfg.latency_ms:g} ms per page",
        FLOOR4,
        latency,
    )
    cases["nothing_new"] = (
        f"Scheduled run, nothing new ({cfg.scheduled_insights} insights loaded)",
        STARTUP,
        nothing_new,
    )
    cases["k_new"] = (
        f"Scheduled run after K={cfg.k_new} insights got new occurrences",
        "minimum requests",
        k_new,
    )
    cases["rate_limit"] = (
        f"Backfill of {pages(cfg.rate_insights)} pages under {cfg.rate_limit}/min",
        THEORY,
        rate_limited,
    )
    cases["faults"] = (
        f"Full load, {cfg.fault_insights} insights, {cfg.fault_rate:.0%} 5xx, "
        f"{cfg.drop_rate:.0%} drops, {cfg.inject_429_rate:.0%} 429s",
        FLOOR_RETRY,
        faults,
    )
    cases.update(pg_cases.registry_entries(cfg))
    if cfg.state_sizes:
        cases["state_size"] = (
            "dlt state size per load at "
            + ", ".join(str(n) for n in cfg.state_sizes)
            + f" insights (first load, then K={cfg.k_new} new)",
            DIAGNOSTIC,
            scale.state_case,
        )
    cases["phases"] = (
        "Diagnostic: the connector's phases at "
        + ", ".join(str(n) for n in cfg.phases_sizes)
        + " insights",
        DIAGNOSTIC,
        phases_diagnostic,
    )
    cases["loader_formats"] = (
        f"Diagnostic: dlt loader file formats, {cfg.loader_formats_insights} insights",
        DIAGNOSTIC,
        loader_formats_diagnostic,
    )
    return cases


def code_fingerprint() -> str:
    """Hash of the connector's code (sources/, pipelines/): others may edit it during a run."""
    digest = hashlib.sha256()
    for folder in ("sources", "pipelines"):
        for path in sorted((PROJECT_ROOT / folder).rglob("*.py")):
            digest.update(str(path.relative_to(PROJECT_ROOT)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def run_case(
    bench: Bench, cfg: Config, name: str, title: str, baseline: str, fn: CaseFn
) -> CaseResult:
    """Run one case; a failure is recorded, never propagated (the other cases still run)."""
    result = CaseResult(name, title, baseline, {})
    started = time.monotonic()
    result.load_avg.append(round(os.getloadavg()[0], 2))
    code = code_fingerprint()
    try:
        fn(bench, cfg, result)
    except Exception as error:
        result.error = f"{type(error).__name__}: {error}"
    result.params["code"] = code
    if code_fingerprint() != code:
        result.notes.append("the connector's code changed while this case ran: rerun it")
    result.load_avg.append(round(os.getloadavg()[0], 2))
    result.seconds = time.monotonic() - started
    return result
