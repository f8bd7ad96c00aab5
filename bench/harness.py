"""Shared pieces of the benchmark: the programs under test, one measured run, results, targets."""

from __future__ import annotations

import compileall
import os
import re
import shutil
import statistics
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from bench.measure import Measurement, run_measured
from bench.simproc import API_KEY, PROJECT_ROOT, SimProcess

PY = sys.executable
# The project's own packages, whose bytecode a user's first run leaves in __pycache__.
PROJECT_PACKAGES = ("pipelines", "sources", "bench")
CONNECTOR = "connector"
FLOOR = "floor"
FLOOR4 = "floor (4 connections)"
FLOOR_RETRY = "floor (same retries)"
FLOOR4_RETRY = "floor (4 connections, same retries)"
REST_API = "dlt rest_api"
STARTUP = "import dlt + 1 request"
THEORY = "60 s x floor((R - 1) / limit)"  # the least time R requests take under the limit
DIAGNOSTIC = "none (diagnostic)"
# CPU use by other processes above which timings are noticeably skewed (`--wait-idle`).
IDLE_CPU_PERCENT = 25.0

# Inherited settings that would change what the measured programs do.
_SCRUB = ("SOURCES__", "DESTINATION__", "DLT_", "RUNTIME__", "NORMALIZE__", "LOAD__", "EXTRACT__")


@dataclass
class RunRecord:
    """One measured run of one variant."""

    variant: str
    repeat: int
    wall_s: float
    peak_rss_mb: float
    requests: int
    statuses: dict[str, int]
    ok: bool
    error: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Summary:
    """Median and range of a variant's runs."""

    variant: str
    runs: int
    failed: int
    wall_median: float
    wall_min: float
    wall_max: float
    rss_median: float
    rss_min: float
    rss_max: float
    requests: list[int]
    count_429: int
    span_median: float = 0.0  # first to last request at the simulator


@dataclass
class Target:
    """One target of issue #4, with the measured figure and whether it is met."""

    case: str
    label: str
    measured: str
    limit: str
    met: bool | None
    verdict: str


@dataclass
class CaseResult:
    """Everything one case produced."""

    name: str
    title: str
    baseline: str
    params: dict[str, Any]
    records: list[RunRecord] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    load_avg: list[float] = field(default_factory=list)
    seconds: float = 0.0
    error: str = ""
    # Diagnostic tables (phases, loader formats) that are not runs of a variant.
    data: dict[str, Any] = field(default_factory=dict)

    def variants(self) -> list[str]:
        """Variants in first-run order."""
        return list(dict.fromkeys(r.variant for r in self.records))

    def summary(self, variant: str) -> Summary | None:
        """Medians over the successful runs of `variant` (None if it never ran)."""
        runs = [r for r in self.records if r.variant == variant]
        if not runs:
            return None
        good = [r for r in runs if r.ok] or runs
        walls = [r.wall_s for r in good]
        rss = [r.peak_rss_mb for r in good]
        return Summary(
            variant=variant,
            runs=len(runs),
            failed=sum(1 for r in runs if not r.ok),
            wall_median=statistics.median(walls),
            wall_min=min(walls),
            wall_max=max(walls),
            rss_median=statistics.median(rss),
            rss_min=min(rss),
            rss_max=max(rss),
            requests=[r.requests for r in runs],
            count_429=sum(r.statuses.get("429", 0) for r in runs),
            span_median=statistics.median(float(r.extra.get("request_span_s", 0.0)) for r in good),
        )

    def to_json(self) -> dict[str, Any]:
        """Plain data for latest.json."""
        summaries = [self.summary(v) for v in self.variants()]
        return {
            "name": self.name,
            "title": self.title,
            "baseline": self.baseline,
            "params": self.params,
            "seconds": round(self.seconds, 1),
            "load_avg": self.load_avg,
            "error": self.error,
            "summaries": [asdict(s) for s in summaries if s is not None],
            "targets": [asdict(t) for t in self.targets],
            "notes": self.notes,
            "data": self.data,
            "runs": [asdict(r) for r in self.records],
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> CaseResult:
        """The inverse of `to_json`: documents are rendered from the runs, as stdout is."""
        return cls(
            name=str(raw["name"]),
            title=str(raw["title"]),
            baseline=str(raw["baseline"]),
            params=dict(raw["params"]),
            records=[RunRecord(**r) for r in raw["runs"]],
            targets=[Target(**t) for t in raw["targets"]],
            notes=[str(n) for n in raw["notes"]],
            load_avg=[float(x) for x in raw["load_avg"]],
            seconds=float(raw["seconds"]),
            error=str(raw["error"]),
            data=dict(raw.get("data", {})),
        )


def ratio_target(
    case: str, label: str, value: float, base: float, limit: float, unit: str = ""
) -> Target:
    """A `value / base <= limit` target."""
    ratio = value / base if base > 0 else float("inf")
    met = ratio <= limit
    verdict = "met" if met else f"missed by {100 * (ratio / limit - 1):.0f}%"
    return Target(
        case,
        label,
        f"{value:.2f}{unit} / {base:.2f}{unit} = {ratio:.2f}x",
        f"<= {limit:g}x",
        met,
        verdict,
    )


def faster_target(case: str, label: str, value: float, base: float, unit: str = "") -> Target:
    """A `value < base` target: the program under test is faster than its peer."""
    ratio = value / base if base > 0 else float("inf")
    met = ratio < 1
    verdict = "met" if met else f"missed by {100 * (ratio - 1):.0f}%"
    return Target(
        case, label, f"{value:.2f}{unit} / {base:.2f}{unit} = {ratio:.2f}x", "< 1x", met, verdict
    )


def bound_target(case: str, label: str, value: float, limit: float, unit: str) -> Target:
    """A `value <= limit` target."""
    met = value <= limit
    verdict = "met" if met else f"missed by {100 * (value / limit - 1):.1f}%"
    return Target(case, label, f"{value:.2f}{unit}", f"<= {limit:.2f}{unit}", met, verdict)


def count_target(case: str, label: str, value: int, wanted: int, exact: bool = True) -> Target:
    """A request-count target: exactly `wanted` (or at most, when not `exact`)."""
    met = value == wanted if exact else value <= wanted
    over = value - wanted
    if met:
        verdict = "met"
    elif over > 0:
        verdict = f"missed by {over} request{'s' if over != 1 else ''}"
    else:
        verdict = f"{-over} fewer than the minimum: check the counting"
    return Target(case, label, str(value), f"{'==' if exact else '<='} {wanted}", met, verdict)


def precompile_project() -> None:
    """Compile the project's modules to bytecode, as a user's first scheduled run leaves them.

    The measured runs write no bytecode (`PYTHONDONTWRITEBYTECODE`, so the checkout stays as it
    was); without this step every run of the connector would compile its ~40 modules from
    source (about 0.1 s), which only a user's very first run does, while the baselines import
    packages pip compiled at install. Every variant then starts from the same cached files.
    """
    for package in PROJECT_PACKAGES:
        compileall.compile_dir(PROJECT_ROOT / package, quiet=1)


class Bench:
    """Runs the programs under test against a simulator, one fresh process each."""

    def __init__(self, work_dir: Path, timeout_s: float) -> None:
        self.work_dir = work_dir
        self.timeout_s = timeout_s
        self._runs = 0

    def fresh_dir(self, label: str) -> Path:
        """A new empty directory for one program's state (DuckDB file, dlt data dir)."""
        self._runs += 1
        path = self.work_dir / f"{self._runs:04d}-{re.sub(r'[^a-z0-9]+', '-', label.lower())}"
        path.mkdir(parents=True)
        return path

    @staticmethod
    def env(state_dir: Path, **extra: str) -> dict[str, str]:
        """The inherited environment minus dlt/source settings, plus this run's."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUB)}
        env["DLT_DATA_DIR"] = str(state_dir / "dlt")
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env.update(extra)
        return env

    @staticmethod
    def connector_argv(sim: SimProcess, state_dir: Path) -> list[str]:
        """The connector's CLI, exactly as users schedule it."""
        db = str(state_dir / "connector.duckdb")
        return [PY, "pipelines/insights.py", "--base-url", sim.base_url, "--duckdb-path", db]

    @staticmethod
    def connector_env(state_dir: Path, requests_per_minute: float = 0) -> dict[str, str]:
        """Connector settings: the bench key, pacing (0 = off)."""
        return Bench.env(
            state_dir,
            SOURCES__OPENCX__API_KEY=API_KEY,
            SOURCES__OPENCX__REQUESTS_PER_MINUTE=f"{requests_per_minute:g}",
        )

    @staticmethod
    def floor_argv(
        sim: SimProcess, state_dir: Path, connections: int = 1, retries: bool = False
    ) -> list[str]:
        """The raw httpx + DuckDB floor."""
        argv = [
            PY,
            "-m",
            "bench.baseline_floor",
            "--base-url",
            sim.base_url,
            "--api-key",
            API_KEY,
            "--duckdb-path",
            str(state_dir / "floor.duckdb"),
            "--connections",
            str(connections),
        ]
        return [*argv, "--retries"] if retries else argv

    @staticmethod
    def rest_api_argv(sim: SimProcess, state_dir: Path) -> list[str]:
        """dlt's rest_api source configured as its docs suggest."""
        return [
            PY,
            "-m",
            "bench.baseline_rest_api",
            "--base-url",
            sim.base_url,
            "--api-key",
            API_KEY,
            "--duckdb-path",
            str(state_dir / "rest_api.duckdb"),
        ]

    @staticmethod
    def startup_argv(sim: SimProcess) -> list[str]:
        """`import dlt` plus one raw POST of the first recent-first page."""
        code = (
            "import dlt, httpx; httpx.post("
            f"{sim.base_url + '/insights'!r}, "
            "json={'sortBy': 'last_seen_at', 'sortOrder': 'desc', 'page': 1}, "
            f"headers={{'Authorization': 'Bearer {API_KEY}'}}).raise_for_status()"
        )
        return [PY, "-c", code]

    def run(
        self,
        sim: SimProcess,
        variant: str,
        repeat: int,
        argv: Sequence[str],
        env: dict[str, str],
        log_dir: Path,
        timeout_s: float | None = None,
    ) -> tuple[RunRecord, Measurement]:
        """One measured run; requests are counted by the simulator."""
        mark = int(sim.command("mark")["index"])
        measured = run_measured(
            argv,
            env=env,
            cwd=PROJECT_ROOT,
            timeout_s=timeout_s or self.timeout_s,
            log_dir=log_dir / f"log-{repeat}",
        )
        stats = sim.command("stats", since=mark)
        record = RunRecord(
            variant=variant,
            repeat=repeat,
            wall_s=round(measured.wall_s, 3),
            peak_rss_mb=round(measured.peak_rss_mb, 1),
            requests=int(stats["posts"]),
            statuses={str(k): int(v) for k, v in stats["by_status"].items()},
            ok=measured.ok,
            error=measured.failure(),
        )
        record.extra["request_span_s"] = float(stats.get("span_s", 0.0))
        summary = re.search(r"requests: (\d+) \(retries (\d+)\)", measured.stdout)
        if summary:
            record.extra["client_requests"] = int(summary.group(1))
            record.extra["client_retries"] = int(summary.group(2))
        return record, measured


def duckdb_ids(path: Path, table: str) -> tuple[int, set[str]]:
    """Row count and distinct ids of a loaded table (read-only)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        rows = con.execute(f"SELECT id FROM {table}").fetchall()
    finally:
        con.close()
    return len(rows), {str(r[0]) for r in rows}


@contextmanager
def work_dir(keep: bool) -> Iterator[Path]:
    """A temporary root for one case; removed afterwards unless `keep`."""
    path = Path(tempfile.mkdtemp(prefix="opencx-bench-"))
    try:
        yield path
    finally:
        if not keep:
            shutil.rmtree(path, ignore_errors=True)
