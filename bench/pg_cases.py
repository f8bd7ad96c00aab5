"""The PostgreSQL cases of issue #10: a full load, nothing new and K new, beside DuckDB.

Each case starts a throw-away PostgreSQL cluster (``tests/postgres_server.py``: Debian's
``initdb``/``pg_ctl``, fsync off; or the server ``OPENCX_TEST_POSTGRES_DSN`` names) and gives
every connector state directory a database of its own. The connector loading into PostgreSQL
(variant ``connector``) alternates with the same connector loading into DuckDB and with the case's
DuckDB baseline, so the ratios compare runs of the same minutes. The server's own processes are
not the measured program's children: wall time includes their work, peak RSS does not.

Only the request counts are targets here (they do not depend on the destination); the time
ratios are informational, shown against DuckDB's limits. Without PostgreSQL the cases say so and
record no runs (``casekit.SKIPPED``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.casekit import (
    LOOKBACK_HOURS,
    PAGE_SIZE,
    SEED,
    SKIPPED,
    Config,
    add_record,
    check_counts,
    check_rows,
    expected_pages,
    pages,
    rotated,
    short_case_repeats,
    usable,
    worst_request_excess,
)
from bench.destinations import (
    Destination,
    DuckDBDestination,
    PostgresDestination,
    bumped_loaded,
    loaded_ids,
    postgres_server,
    state_size,
)
from bench.harness import (
    CONNECTOR,
    FLOOR,
    STARTUP,
    Bench,
    CaseResult,
    RunRecord,
    Target,
    count_target,
    ratio_target,
)
from bench.simproc import SimProcess

CONNECTOR_DUCKDB = "connector into DuckDB"
PgCaseFn = Callable[[Bench, Config, CaseResult, PostgresDestination], None]


def informational(target: Target) -> Target:
    """A ratio shown against DuckDB's limit without judging PostgreSQL by it."""
    verdict = "within" if target.met else "above"
    return Target(
        target.case,
        f"(informational) {target.label}",
        target.measured,
        f"{target.limit} (DuckDB's)",
        None,
        f"{verdict} DuckDB's limit",
    )


def with_postgres(body: PgCaseFn) -> Callable[[Bench, Config, CaseResult], None]:
    """A case function that runs `body` with a PostgreSQL server, or says why there is none."""

    def run(bench: Bench, cfg: Config, result: CaseResult) -> None:
        try:
            from tests.postgres_server import PostgresUnavailableError  # noqa: PLC0415
        except ImportError as error:  # psycopg2 missing: no PostgreSQL client either
            _skip(result, f"cannot use PostgreSQL here: {error}")
            return
        try:
            with postgres_server() as pg:
                body(bench, cfg, result, pg)
        except PostgresUnavailableError as error:
            if result.records:
                raise  # the server broke during the case: an error, not a skip
            _skip(result, str(error))

    run.__doc__ = body.__doc__
    return run


def _skip(result: CaseResult, why: str) -> None:
    result.params[SKIPPED] = why
    result.notes.append(f"skipped, no PostgreSQL: {why}")


def _connector_run(
    bench: Bench,
    sim: SimProcess,
    result: CaseResult,
    variant: str,
    repeat: int,
    dest: Destination,
    state: Path,
) -> RunRecord:
    """One connector run into `dest`, with dlt's state size there afterwards."""
    argv, env = dest.argv(sim, state), dest.env(state)
    record = add_record(result, bench.run(sim, variant, repeat, argv, env, state)[0])
    if record.ok:
        record.extra.update(state_size(dest, state).as_extra())
    return record


# ---------------------------------------------------------------------------- full load


def pg_full(bench: Bench, cfg: Config, result: CaseResult, pg: PostgresDestination) -> None:
    """Full load into PostgreSQL vs into DuckDB vs the floor (raw httpx + DuckDB)."""
    n = cfg.postgres_insights
    result.params.update(insights=n, pages=pages(n), page_size=PAGE_SIZE, destination="postgres")
    dests: dict[str, Destination] = {CONNECTOR: pg, CONNECTOR_DUCKDB: DuckDBDestination()}
    with SimProcess(n, seed=SEED, page_size=PAGE_SIZE, log_path=bench.work_dir / "sim.log") as sim:
        for repeat in range(cfg.repeats):
            for variant in rotated([CONNECTOR, CONNECTOR_DUCKDB, FLOOR], repeat):
                state = bench.fresh_dir(f"{variant}-{n}")
                if variant == FLOOR:
                    argv, env = bench.floor_argv(sim, state), bench.env(state)
                    record = add_record(result, bench.run(sim, FLOOR, repeat, argv, env, state)[0])
                    check_rows(result, record, state / "floor.duckdb", "insights", n)
                    continue
                dest = dests[variant]
                record = _connector_run(bench, sim, result, variant, repeat, dest, state)
                if record.ok:
                    rows, ids = loaded_ids(dest, state)
                    check_counts(result, record, (rows, len(ids)), n)


def pg_full_targets(result: CaseResult) -> list[Target]:
    """Informational only: wall and peak RSS vs the floor (DuckDB's limits), and vs DuckDB."""
    targets = _vs_baseline(result, FLOOR, 2.0, "floor") + _vs_duckdb(result)
    conn, floor = usable(result, CONNECTOR), usable(result, FLOOR)
    if conn and floor:
        rss = ratio_target(
            result.name, "peak RSS vs floor", conn.rss_median, floor.rss_median, 1.25, " MB"
        )
        targets.append(informational(rss))
    return targets


def _vs_baseline(result: CaseResult, baseline: str, limit: float, name: str) -> list[Target]:
    """Informational: PostgreSQL's wall time vs the case's baseline, against DuckDB's limit."""
    conn, base = usable(result, CONNECTOR), usable(result, baseline)
    if not (conn and base):
        return []
    wall = ratio_target(
        result.name, f"wall vs {name}", conn.wall_median, base.wall_median, limit, " s"
    )
    return [informational(wall)]


def _vs_duckdb(result: CaseResult) -> list[Target]:
    """Informational: the connector's wall time into PostgreSQL vs into DuckDB, same minutes."""
    conn, duck = usable(result, CONNECTOR), usable(result, CONNECTOR_DUCKDB)
    if not (conn and duck):
        return []
    measured = (
        f"{conn.wall_median:.2f} s / {duck.wall_median:.2f} s = "
        f"{conn.wall_median / duck.wall_median:.2f}x"
    )
    label = "(informational) wall into PostgreSQL vs into DuckDB"
    return [Target(result.name, label, measured, "-", None, "informational")]


# ---------------------------------------------------------------------------- scheduled runs


def _setup(
    bench: Bench, sim: SimProcess, result: CaseResult, dests: dict[str, Destination]
) -> dict[str, Path]:
    """First (full) loads into each destination, so the measured runs are incremental."""
    states = {}
    for variant, dest in dests.items():
        state = bench.fresh_dir(f"{dest.name}-state")
        argv, env = dest.argv(sim, state), dest.env(state)
        record, _ = bench.run(sim, f"{variant} (first load, setup)", -1, argv, env, state)
        result.notes.append(
            f"setup: {variant} first load {record.wall_s:.2f} s, {record.requests} requests"
        )
        if not record.ok:
            raise RuntimeError(f"setup load of {variant} failed: {record.error}")
        states[variant] = state
    return states


def pg_nothing_new(bench: Bench, cfg: Config, result: CaseResult, pg: PostgresDestination) -> None:
    """A scheduled run into PostgreSQL when nothing changed since the last load."""
    n = cfg.scheduled_insights
    result.params.update(insights=n, lookback_hours=LOOKBACK_HOURS, destination="postgres")
    dests: dict[str, Destination] = {CONNECTOR: pg, CONNECTOR_DUCKDB: DuckDBDestination()}
    with SimProcess(n, seed=SEED, page_size=PAGE_SIZE, log_path=bench.work_dir / "sim.log") as sim:
        states = _setup(bench, sim, result, dests)
        cursor = str(sim.command("snapshot")["max_last_seen"])
        above, expected = expected_pages(sim, cursor, n)
        result.params.update(cursor=cursor, lookback_rows=above, minimum_requests=expected)
        for repeat in range(short_case_repeats(cfg)):
            for variant in rotated([CONNECTOR, CONNECTOR_DUCKDB, STARTUP], repeat):
                if variant == STARTUP:
                    state = bench.fresh_dir("startup")
                    argv, env = bench.startup_argv(sim), bench.env(state)
                    add_record(result, bench.run(sim, variant, repeat, argv, env, state)[0])
                    continue
                dest = dests[variant]
                _connector_run(bench, sim, result, variant, repeat, dest, states[variant])


def pg_nothing_new_targets(result: CaseResult) -> list[Target]:
    """Requests == 1 + lookback pages (worst run); the time ratios are informational."""
    targets = []
    conn = usable(result, CONNECTOR)
    if conn:
        label = "requests (1 + lookback pages)"
        expected = int(result.params["minimum_requests"])
        targets.append(count_target(result.name, label, max(conn.requests), expected))
    targets += _vs_baseline(result, STARTUP, 1.2, "import dlt + 1 request")
    return targets + _vs_duckdb(result)


PG_BUMP_SEED = 2000  # the same K insights before every repeat, as in k_new


def _k_new_repeat(
    bench: Bench,
    sim: SimProcess,
    cfg: Config,
    result: CaseResult,
    run: tuple[int, dict[str, Destination], dict[str, Path]],
) -> None:
    """Bump K insights, run both destinations, each run recording the minimum it had."""
    repeat, dests, states = run
    n = cfg.scheduled_insights
    cursor = str(sim.command("snapshot")["max_last_seen"])
    bumped = list(sim.command("bump", k=cfg.k_new, seed=PG_BUMP_SEED)["ids"])
    _, expected = expected_pages(sim, cursor, n)
    for variant in rotated(list(dests), repeat):
        dest, state = dests[variant], states[variant]
        record = _connector_run(bench, sim, result, variant, repeat, dest, state)
        record.extra["minimum"] = expected
        if not record.ok:
            continue
        loaded = bumped_loaded(dest, state, bumped, cursor)
        record.extra["bumped_loaded"] = loaded
        if loaded != len(bumped):
            result.notes.append(
                f"{variant} repeat {repeat}: only {loaded} of {len(bumped)} updated insights "
                "carry their new last_seen_at"
            )


def pg_k_new(bench: Bench, cfg: Config, result: CaseResult, pg: PostgresDestination) -> None:
    """A scheduled run into PostgreSQL after K insights got new occurrences."""
    n = cfg.scheduled_insights
    result.params.update(
        insights=n,
        k=cfg.k_new,
        lookback_hours=LOOKBACK_HOURS,
        destination="postgres",
        same_k_each_repeat=True,
    )
    dests: dict[str, Destination] = {CONNECTOR: pg, CONNECTOR_DUCKDB: DuckDBDestination()}
    with SimProcess(n, seed=SEED, page_size=PAGE_SIZE, log_path=bench.work_dir / "sim.log") as sim:
        states = _setup(bench, sim, result, dests)
        for repeat in range(short_case_repeats(cfg)):
            _k_new_repeat(bench, sim, cfg, result, (repeat, dests, states))


def pg_k_new_targets(result: CaseResult) -> list[Target]:
    """Requests == the minimum in the worst repeat; the time ratio is informational."""
    worst = worst_request_excess(result)
    targets = []
    if usable(result, CONNECTOR) is not None and worst is not None:
        label = "requests vs minimum (worst repeat)"
        targets.append(count_target(result.name, label, *worst))
    return targets + _vs_duckdb(result)


def judges(cfg: Config) -> dict[str, Callable[[CaseResult], list[Target]]]:
    """Each PostgreSQL case's targets, judged from its runs (name -> function)."""
    if cfg.postgres_insights <= 0:
        return {}
    return {
        f"pg_full_{cfg.postgres_insights // 1000}k": pg_full_targets,
        "pg_nothing_new": pg_nothing_new_targets,
        "pg_k_new": pg_k_new_targets,
    }


def registry_entries(cfg: Config) -> dict[str, tuple[str, str, Any]]:
    """The PostgreSQL cases, when the configuration has them (name -> title, baseline, fn)."""
    if cfg.postgres_insights <= 0:
        return {}
    n, m = cfg.postgres_insights, cfg.scheduled_insights
    return {
        f"pg_full_{n // 1000}k": (
            f"PostgreSQL: full load, {n} insights, no latency",
            FLOOR,
            with_postgres(pg_full),
        ),
        "pg_nothing_new": (
            f"PostgreSQL: scheduled run, nothing new ({m} insights loaded)",
            STARTUP,
            with_postgres(pg_nothing_new),
        ),
        "pg_k_new": (
            f"PostgreSQL: scheduled run after K={cfg.k_new} insights got new occurrences",
            "minimum requests",
            with_postgres(pg_k_new),
        ),
    }
