"""Harness side of ``bench.sim_server``: start it, talk to it, always stop it."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import psutil

PROJECT_ROOT = Path(__file__).resolve().parent.parent
API_KEY = "ocx_bench_key"
START_TIMEOUT_S = 120.0
# Generating and serialising insights takes about 70 s per million on an idle 2-core machine
# (sources.opencx_simulator: ~35 s drawing the data, ~30 s pre-serialising every insight's JSON),
# and twice that while other work shares the cores.
START_S_PER_MILLION = 300.0
COMMAND_TIMEOUT_S = 120.0


class SimulatorError(RuntimeError):
    """The simulator process did not start or did not answer."""


class SimProcess:
    """One simulator process on 127.0.0.1 (fresh data from a fixed seed)."""

    def __init__(
        self,
        n_insights: int,
        *,
        seed: int = 42,
        page_size: int = 50,
        latency_ms: float = 0.0,
        rate_limit: int | None = None,
        retry_after: float | None = None,
        fault_rate: float = 0.0,
        drop_rate: float = 0.0,
        fault_seed: int = 0,
        inject_429_rate: float = 0.0,
        inject_seed: int = 0,
        log_path: Path | None = None,
    ) -> None:
        self.n_insights = n_insights
        self.start_timeout_s = START_TIMEOUT_S + START_S_PER_MILLION * n_insights / 1_000_000
        self.start_s = 0.0  # how long the simulator took to generate its data and listen
        self.page_size = page_size
        argv = [
            sys.executable,
            "-m",
            "bench.sim_server",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--insights",
            str(n_insights),
            "--seed",
            str(seed),
            "--page-size",
            str(page_size),
            "--api-key",
            API_KEY,
            "--latency-ms",
            str(latency_ms),
            "--fault-rate",
            str(fault_rate),
            "--drop-rate",
            str(drop_rate),
            "--fault-seed",
            str(fault_seed),
            "--inject-429-rate",
            str(inject_429_rate),
            "--inject-seed",
            str(inject_seed),
        ]
        if rate_limit is not None:
            argv += ["--rate-limit", str(rate_limit)]
        if retry_after is not None:
            argv += ["--retry-after", str(retry_after)]
        self._argv = argv
        self._log_path = log_path
        self._log: IO[bytes] | None = None
        self._proc: subprocess.Popen[str] | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self.base_url = ""

    def start(self) -> SimProcess:
        """Start the process and wait for its URL line (`start_s` says how long that took)."""
        started = time.monotonic()
        stderr: Any = subprocess.DEVNULL
        if self._log_path is not None:
            self._log = self._log_path.open("ab")
            stderr = self._log
        self._proc = subprocess.Popen(
            self._argv,
            cwd=PROJECT_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            start_new_session=True,
        )
        threading.Thread(target=self._pump, daemon=True, name="bench-sim-stdout").start()
        line = self._next_line(self.start_timeout_s)
        self.start_s = time.monotonic() - started
        if not line.startswith("OPENCX_SIMULATOR_URL="):
            self.stop()
            raise SimulatorError(f"unexpected first line from the simulator: {line!r}")
        self.base_url = line.split("=", 1)[1].strip()
        if not self.base_url.startswith("http://127.0.0.1:"):
            self.stop()
            raise SimulatorError(f"simulator is not on 127.0.0.1: {self.base_url}")
        return self

    def _pump(self) -> None:
        proc = self._proc
        assert proc is not None
        assert proc.stdout is not None
        for line in proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _next_line(self, timeout_s: float) -> str:
        try:
            line = self._lines.get(timeout=timeout_s)
        except queue.Empty:
            raise SimulatorError(f"simulator silent for {timeout_s:.0f} s") from None
        if line is None:
            raise SimulatorError("simulator exited")
        return line

    def command(self, cmd: str, **args: Any) -> dict[str, Any]:
        """Send one admin command and return its answer."""
        proc = self._proc
        if proc is None or proc.stdin is None:
            raise SimulatorError("simulator not started")
        proc.stdin.write(json.dumps({"cmd": cmd, **args}) + "\n")
        proc.stdin.flush()
        reply: dict[str, Any] = json.loads(self._next_line(COMMAND_TIMEOUT_S))
        if not reply.get("ok"):
            raise SimulatorError(f"simulator command {cmd} failed: {reply.get('error')}")
        return reply

    def rss_mb(self) -> float:
        """The simulator process's resident memory now (0 when it is not running)."""
        proc = self._proc
        if proc is None:
            return 0.0
        try:
            return float(psutil.Process(proc.pid).memory_info().rss) / 2**20
        except psutil.Error:
            return 0.0

    def stop(self) -> None:
        """Ask it to stop; kill its process group if it does not within 5 s. Safe to repeat."""
        proc, self._proc = self._proc, None
        if proc is not None:
            with contextlib.suppress(OSError, ValueError):
                assert proc.stdin is not None
                proc.stdin.write('{"cmd": "stop"}\n')
                proc.stdin.flush()
                proc.stdin.close()
            deadline = time.monotonic() + 5
            while proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> SimProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
