"""The standalone command line: `python -m sources.opencx_simulator`."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from .conftest import ROOT

PREFIX = "OPENCX_SIMULATOR_URL="


@contextmanager
def _serve(*args: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    command = [sys.executable, "-m", "sources.opencx_simulator", "--insights", "60", *args]
    process = subprocess.Popen(
        command, cwd=Path(ROOT), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline().rstrip("\n")
        assert first.startswith(PREFIX), (first, process.stderr.read() if process.stderr else "")
        yield process, first.removeprefix(PREFIX)
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint"])
def test_cli_prints_url_first_serves_and_exits_cleanly(sig: signal.Signals) -> None:
    with _serve("--seed", "3", "--page-size", "25") as (process, url):
        assert url.startswith("http://127.0.0.1:")
        assert process.stdout is not None
        assert "60 insights" in process.stdout.readline()
        headers = {"Authorization": "Bearer ocx_demo_key"}
        payload = httpx.post(f"{url}/insights", json={}, headers=headers).json()
        assert (payload["total"], payload["totalPages"], len(payload["data"])) == (60, 3, 25)
        process.send_signal(sig)
        assert process.wait(timeout=10) == 0


def test_cli_knobs_reach_the_config() -> None:
    args = ["--api-key", "k1", "--api-key", "k2", "--rate-limit", "1", "--retry-after", "2",
            "--extra-fields", "--status-all-excludes-archived"]  # fmt: skip
    with _serve(*args) as (process, url):
        with httpx.Client(base_url=url) as client:
            ok = client.post("/insights", json={}, headers={"Authorization": "Bearer k2"})
            limited = client.get("/insights/categories", headers={"Authorization": "Bearer k1"})
        assert "tags" in ok.json()["data"][0]
        assert (limited.status_code, limited.headers["retry-after"]) == (429, "2")
        process.terminate()
        assert process.wait(timeout=10) == 0


def test_cli_help_works() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sources.opencx_simulator", "--help"],
        cwd=ROOT, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode == 0
    assert "--window-scoped-counts" in result.stdout
    assert "--allow-non-loopback" in result.stdout


def test_cli_refuses_non_loopback_host() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sources.opencx_simulator", "--host", "192.0.2.10"],
        cwd=ROOT, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "--allow-non-loopback" in result.stderr
    assert result.stdout == ""
