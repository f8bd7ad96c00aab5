"""Where the connector's time and memory go: one run split into dlt's phases.

``python -m bench.phases [N ...]`` (default 30000): for each N, a fresh simulator process and a
fresh measured process that imports, builds the source, then runs ``extract``, ``normalize`` and
``load`` one after the other, printing wall time, peak RSS so far and current RSS after each.
A second, incremental run (nothing new) follows in the same process. Diagnostic only: the figures
in the benchmark table come from ``python -m bench``, which also records these phases (the
``phases`` diagnostic) in its results file.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from bench.simproc import API_KEY, PROJECT_ROOT, SimProcess


def _mark(label: str, started: float, out: list[dict[str, Any]]) -> None:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    now = psutil.Process().memory_info().rss / (1024 * 1024)
    out.append(
        {
            "phase": label,
            "t": round(time.perf_counter() - started, 3),
            "peak_mb": round(peak),
            "rss_mb": round(now),
        }
    )


def measure(base_url: str, tmp: str) -> list[dict[str, Any]]:
    """Body of the measured process."""
    marks: list[dict[str, Any]] = []
    started = time.perf_counter()
    _mark("start", started, marks)
    import dlt  # noqa: PLC0415

    _mark("import dlt", started, marks)
    from pipelines.load import first_load  # noqa: PLC0415
    from sources.opencx import opencx  # noqa: PLC0415

    _mark("import sources.opencx", started, marks)
    for run in ("first", "nothing new"):
        pipeline = dlt.pipeline(
            "opencx_insights",
            pipelines_dir=str(Path(tmp) / "dlt"),
            destination=dlt.destinations.duckdb(str(Path(tmp) / "phases.duckdb")),
            dataset_name="opencx",
        )
        source = opencx(api_key=API_KEY, base_url=base_url, requests_per_minute=0)
        if run == "first" and first_load.destination_is_empty(pipeline):  # as the command does
            first_load.append_into_empty_tables(source)
        _mark(f"{run}: pipeline + source", started, marks)
        pipeline.extract(source)
        _mark(f"{run}: extract", started, marks)
        pipeline.normalize()
        _mark(f"{run}: normalize", started, marks)
        pipeline.load()
        _mark(f"{run}: load", started, marks)
    return marks


class PhasesError(RuntimeError):
    """The measured process failed; the message carries the end of its stderr."""


def measure_size(n: int, work_dir: Path, timeout_s: float = 900.0) -> list[dict[str, Any]]:
    """One measured process against a fresh simulator of `n` insights: its phase marks.

    ``python -m bench`` records these as the ``phases`` diagnostic, so the documents' figures on
    where the time goes come from the same results file as everything else.
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    with SimProcess(n, log_path=work_dir / "sim.log") as sim:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DLT_"))}
        out = subprocess.run(
            [sys.executable, "-m", "bench.phases", "--child", sim.base_url, str(work_dir)],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    if out.returncode != 0:
        raise PhasesError(f"bench.phases at {n} exited {out.returncode}: {out.stderr[-2000:]}")
    marks: list[dict[str, Any]] = json.loads(out.stdout.strip().splitlines()[-1])
    return marks


def main(argv: list[str]) -> int:
    if argv[:1] == ["--child"]:
        print(json.dumps(measure(argv[1], argv[2])))
        return 0
    sizes = [int(a) for a in argv] or [30_000]
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            try:
                marks = measure_size(n, Path(tmp))
            except PhasesError as error:
                print(error, file=sys.stderr)
                return 1
        print(f"N={n}")
        print(f"  {'phase':28} {'t s':>7} {'+s':>6} {'peak MB':>8} {'RSS MB':>7}")
        previous = 0.0
        for m in marks:
            print(
                f"  {m['phase']:28} {m['t']:7.2f} {m['t'] - previous:6.2f} "
                f"{m['peak_mb']:8} {m['rss_mb']:7}"
            )
            previous = m["t"]
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
