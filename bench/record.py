"""The committed results file, ``bench/results.json``: the one source of every published figure.

``python -m bench`` always writes its scratch copy to the git-ignored ``bench/results/latest.json``;
``python -m bench --record`` also writes ``bench/results.json``, which is committed, and
``python -m bench.publish`` renders ``bench/RESULTS.md`` and the benchmark sections of
``docs/performance.md`` from it. The file carries what a reader needs to trust a figure: the
commit it was measured on (and whether that tree had uncommitted changes), when, on what
machine, with which versions, which cases ran and how many times.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime, timezone
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import psutil

from bench import verdicts
from bench.casekit import LOOKBACK_HOURS, PAGE_SIZE, SEED, SKIPPED, Config, wrong_loads
from bench.cases import registry
from bench.harness import CaseResult
from bench.measure import POLL_S
from bench.simproc import PROJECT_ROOT

SCHEMA = 1
RESULTS_FILE = PROJECT_ROOT / "bench" / "results.json"
VERSIONED = ("dlt", "duckdb", "httpx", "pyarrow")
META_KEYS = (
    "schema",
    "commit",
    "commit_short",
    "commit_date",
    "dirty",
    "dirty_paths",
    "started_at",
    "total_seconds",
    "command",
    "mode",
    "repeats",
    "cases_run",
    "cases_not_run",
    "machine",
    "python",
    "versions",
    "method",
)


def _cmd(argv: Sequence[str]) -> str:
    try:
        out = subprocess.run(list(argv), capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.stdout.rstrip()  # leading blanks are columns (free's header)


def _git(*args: str) -> str:
    return _cmd(["git", "-C", str(PROJECT_ROOT), *args])


def machine() -> dict[str, Any]:
    """What the figures were measured on: cores and memory first, raw lscpu/free for detail."""
    lscpu = _cmd(["lscpu"]).splitlines()
    fields = {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in lscpu)}
    return {
        "cores": os.cpu_count() or 0,
        "cpu_model": fields.get("Model name", platform.processor() or "?"),
        "hypervisor": fields.get("Hypervisor vendor", ""),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "platform": platform.platform(),
        "lscpu": lscpu[:12],
        "free_g": _cmd(["free", "-g"]).splitlines(),
    }


def versions() -> dict[str, str]:
    """Versions of the libraries whose speed the figures depend on."""
    found = {}
    for dist in VERSIONED:
        try:
            found[dist] = importlib_metadata.version(dist)
        except importlib_metadata.PackageNotFoundError:
            found[dist] = "?"
    return found


def git_state() -> dict[str, Any]:
    """The commit being measured and every uncommitted change to tracked files at start."""
    dirty = [line for line in _git("diff", "--name-only", "HEAD").splitlines() if line]
    return {
        "commit": _git("rev-parse", "HEAD"),
        "commit_short": _git("rev-parse", "--short", "HEAD"),
        "commit_date": _git("show", "-s", "--format=%cI", "HEAD"),
        "dirty": bool(dirty),
        "dirty_paths": dirty,
    }


def metadata(
    cfg: Config, mode: str, selected: list[str], command: list[str], started: datetime
) -> dict[str, Any]:
    """Everything about a run except its cases; taken at start, so it names the measured tree."""
    available = list(registry(cfg))
    return {
        "schema": SCHEMA,
        **git_state(),
        "started_at": started.astimezone(timezone.utc).isoformat(timespec="seconds"),
        "total_seconds": 0.0,
        "command": " ".join(["python", "-m", "bench", *command]),
        "mode": mode,
        "repeats": cfg.repeats,
        "cases_run": selected,
        "cases_not_run": [c for c in available if c not in selected],
        "machine": machine(),
        "python": platform.python_version(),
        "versions": versions(),
        "method": {
            "seed": SEED,
            "page_size": PAGE_SIZE,
            "lookback_hours": LOOKBACK_HOURS,
            "rss_poll_s": POLL_S,
            "project_bytecode_precompiled": True,
        },
    }


def payload(meta: dict[str, Any], cfg: Config, results: list[CaseResult]) -> dict[str, Any]:
    """The whole results file: metadata, the run's configuration, and every case's runs."""
    config = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(cfg).items()}
    return {"meta": meta, "config": config, "cases": [r.to_json() for r in results]}


def now() -> datetime:
    """The start time recorded in the file (UTC, to the second)."""
    return datetime.now(timezone.utc).replace(microsecond=0)


def dump(data: dict[str, Any], path: Path) -> None:
    """Write stably (sorted nothing, indented) so a re-record diffs readably."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")


def load(path: Path = RESULTS_FILE) -> dict[str, Any]:
    """Read a results file, refusing one whose shape the documents cannot be rendered from."""
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    found = problems(data)
    if found:
        raise ValueError(f"{path}: " + "; ".join(found))
    return data


def config_of(data: dict[str, Any]) -> Config:
    """The recorded configuration as a Config (lists back to tuples)."""
    raw: dict[str, Any] = {
        k: tuple(v) if isinstance(v, list) else v for k, v in data["config"].items()
    }
    return Config(**raw)


def cases_of(data: dict[str, Any]) -> dict[str, CaseResult]:
    """The recorded cases by name, rebuilt so the tables come from the same code as stdout, and
    judged again from their runs: the targets stored beside them are never what is published."""
    cases = {c["name"]: CaseResult.from_json(c) for c in data["cases"]}
    verdicts.judge(cases, config_of(data))
    return cases


def required_cases(data: dict[str, Any]) -> list[str]:
    """Cases the report needs: every case of the recorded mode, plus the derived memory case."""
    cfg = config_of(data)
    needed = list(registry(cfg))
    sizes = sorted(cfg.full_sizes)
    if len(sizes) >= 2:
        big = sizes[-1]
        ref = 10_000 if 10_000 in sizes and big != 10_000 else sizes[0]
        needed.append(f"memory_flat_{ref // 1000}k_{big // 1000}k")
    return needed


def problems(data: dict[str, Any]) -> list[str]:
    """What keeps `data` from being a complete, publishable results file (empty when none)."""
    if not isinstance(data, dict) or {"meta", "config", "cases"} - set(data):
        return ["not a results file: needs meta, config and cases"]
    meta = data["meta"]
    found = [f"meta.{key} missing" for key in META_KEYS if key not in meta]
    if found:
        return found
    if meta["schema"] != SCHEMA:
        found.append(f"schema {meta['schema']}, expected {SCHEMA}")
    if len(str(meta["commit"])) != 40:
        found.append("meta.commit is not a full commit hash")
    try:
        cases = cases_of(data)
        needed = required_cases(data)
    except (KeyError, TypeError, ValueError) as error:
        return [*found, f"malformed case or config: {error!r}"]
    found += [f"case {name} missing" for name in needed if name not in cases]
    found += [
        f"case {name} has no runs" for name in meta["cases_run"] if not _has_data(cases.get(name))
    ]
    found += [f"case {c.name} failed: {c.error}" for c in cases.values() if c.error]
    found += [
        f"case {c.name}: {s.failed} of {s.runs} runs of {s.variant} failed"
        for c in cases.values()
        for s in (c.summary(v) for v in c.variants())
        if s is not None and s.failed
    ]
    found += [f"case {c.name}: {wrong}" for c in cases.values() for wrong in wrong_loads(c)]
    return found


def _has_data(case: CaseResult | None) -> bool:
    """Runs or diagnostic data, or the reason it could not run (PostgreSQL not installed)."""
    return case is not None and bool(case.records or case.data or SKIPPED in case.params)
