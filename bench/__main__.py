"""``python -m bench``: every benchmark case of issue #4, side by side with its baselines.

Each case starts its own simulator process (fixed seed) on 127.0.0.1 and runs each program under
test in a fresh process, in alternation with its baselines, ``--repeats`` times; it reports the
median and min-max of wall time and peak RSS, the requests the simulator received, and the ratio
to the case's baseline. Writes ``bench/results/latest.json`` and ``latest.md`` (git-ignored);
with ``--record`` also the committed ``bench/results.json``, and regenerates ``bench/RESULTS.md``
and the benchmark sections of docs/performance.md from it (``python -m bench.publish``).

    python -m bench                     # all cases, 3 repeats (~23 min on 2 cores)
    python -m bench --record            # the same, and publish its figures
    python -m bench --quick             # 1 repeat, smaller sizes (~5 min)
    python -m bench --cases full_100k,full_1m   # the large tenant with its reference
    python -m bench --cases full_30k,latency --repeats 5
    python -m bench --list
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import psutil

from bench import publish, record, render, report, verdicts
from bench.casekit import SKIPPED, Config
from bench.cases import memory_flat_case, registry, run_case
from bench.harness import IDLE_CPU_PERCENT, Bench, CaseResult, precompile_project, work_dir
from bench.simproc import PROJECT_ROOT

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def other_cpu_percent(wait_s: float) -> float:
    """System CPU use over 1 s between cases (no bench process runs then).

    Waits up to `wait_s` for it to drop below IDLE_CPU_PERCENT: other jobs skew timings.
    """
    busy = float(psutil.cpu_percent(interval=1.0))
    deadline = time.monotonic() + wait_s
    while busy >= IDLE_CPU_PERCENT and time.monotonic() < deadline:
        time.sleep(4.0)
        busy = float(psutil.cpu_percent(interval=1.0))
    return busy


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 repeat, smaller sizes")
    parser.add_argument("--repeats", type=int, help="runs per variant (default 3, quick 1)")
    parser.add_argument("--cases", help="comma-separated case names (see --list)")
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    parser.add_argument("--timeout", type=float, default=600.0, help="per-run timeout, seconds")
    parser.add_argument("--keep", action="store_true", help="keep temp dirs (DuckDB files, logs)")
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        metavar="S",
        help=f"before each case wait up to S seconds for CPU use < {IDLE_CPU_PERCENT:g}%%",
    )
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="results directory")
    parser.add_argument(
        "--record",
        action="store_true",
        help=f"also write {record.RESULTS_FILE.relative_to(PROJECT_ROOT)} "
        "(committed) and regenerate the documents from it",
    )
    args = parser.parse_args(argv)
    if args.repeats is not None and not 1 <= args.repeats <= 20:
        parser.error("--repeats must be between 1 and 20")
    return args


def _exit_on_signal(signum: int, _frame: object) -> None:
    # Unwind through the context managers: measured runs and simulators get stopped.
    raise SystemExit(128 + signum)


def select(args: argparse.Namespace, cases: dict[str, Any]) -> list[str] | None:
    """The cases to run, in registry order as given; None (after a message) if one is unknown."""
    if not args.cases:
        return list(cases)
    selected = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in selected if c not in cases]
    if unknown:
        print(f"unknown case(s): {', '.join(unknown)}; see --list", file=sys.stderr)
        return None
    return selected


def run_all(args: argparse.Namespace, cfg: Config, selected: list[str]) -> list[CaseResult]:
    """Every selected case, the memory case derived from the full loads, then every verdict."""
    cases = registry(cfg)
    results: list[CaseResult] = []
    for name in selected:
        title, baseline, fn = cases[name]
        print(f"- {name}: {title} ...", end=" ", flush=True)
        busy = other_cpu_percent(args.wait_idle)
        with work_dir(args.keep) as tmp:
            bench = Bench(tmp, args.timeout)
            result = run_case(bench, cfg, name, title, baseline, fn)
            result.params["cpu_busy_before_pct"] = busy
            if args.keep:
                result.notes.append(f"files kept in {tmp}")
        results.append(result)
        print(f"{status_word(result)} ({result.seconds:.0f} s)", flush=True)
    sizes = {f"full_{n // 1000}k": n for n in cfg.full_sizes}
    full = {sizes[r.name]: r for r in results if r.name in sizes}
    memory = memory_flat_case(full)
    if memory is not None:
        results.append(memory)
    verdicts.judge({r.name: r for r in results}, cfg)
    return results


def status_word(result: CaseResult) -> str:
    """How a case ended, for the progress line: done, skipped (and why) or the error."""
    if result.error:
        return f"ERROR {result.error}"
    if SKIPPED in result.params:
        return f"SKIPPED: {result.params[SKIPPED]}"
    return "done"


def write(args: argparse.Namespace, data: dict[str, Any]) -> int:
    """The scratch copy always; the committed file and the documents only with --record (the
    exit status of publishing them: it refuses a file with failed runs or wrong loads)."""
    record.dump(data, args.out / "latest.json")
    (args.out / "latest.md").write_text(render.results_md(data), encoding="utf-8")
    print(f"wrote {args.out / 'latest.json'} and {args.out / 'latest.md'}")
    if args.record:
        record.dump(data, record.RESULTS_FILE)
        print(f"wrote {record.RESULTS_FILE}")
        return publish.main([])
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    signal.signal(signal.SIGTERM, _exit_on_signal)
    signal.signal(signal.SIGHUP, _exit_on_signal)
    cfg = Config.quick() if args.quick else Config.full()
    if args.repeats:
        cfg = replace(cfg, repeats=args.repeats)
    cases = registry(cfg)
    if args.list:
        for name, (title, baseline, _) in cases.items():
            print(f"{name:14} {title} (baseline: {baseline})")
        return 0
    selected = select(args, cases)
    if selected is None:
        return 2
    mode = "quick" if args.quick else "full"
    command = sys.argv[1:] if argv is None else argv
    meta = record.metadata(cfg, mode, selected, command, record.now())
    dirty = f", uncommitted changes: {', '.join(meta['dirty_paths'])}" if meta["dirty"] else ""
    print(f"bench ({mode}, {cfg.repeats} repeat(s)) of {meta['commit_short']}{dirty}", flush=True)
    print(f"cases: {', '.join(selected)}", flush=True)
    started = time.monotonic()
    precompile_project()
    results = run_all(args, cfg, selected)
    meta["total_seconds"] = round(time.monotonic() - started, 1)
    print()
    print(report.text(results))
    print(f"\ntotal {meta['total_seconds']:.0f} s")
    published = write(args, record.payload(meta, cfg, results))
    return 1 if any(r.error for r in results) or published else 0


if __name__ == "__main__":
    sys.exit(main())
