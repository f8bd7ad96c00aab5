"""What a scheduled run writes: cron mails every byte, so only what someone must read.

Retries that succeed are routine (shown with -v or in the log file), --quiet prints nothing on
success, and every failure a user can cause is exactly one line, whatever retried before it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sources.opencx_simulator import Simulator
from tests.cron_support import TIMESTAMP, cli_env, only_line, run_cli
from tests.helpers import SCOPELESS_KEY, TEST_KEY

RETRIED = ("503", "429", "502")  # three failed attempts at the first page, then success


def patient_env(tmp_path: Path) -> dict[str, str]:
    """Enough attempts to get through `RETRIED`."""
    return cli_env(tmp_path, SOURCES__OPENCX__MAX_ATTEMPTS="6")


def test_retries_that_succeed_print_nothing_on_stderr_without_verbose(
    tmp_path: Path, sim: Simulator
) -> None:
    sim.faults.enqueue(*RETRIED)
    result = run_cli(patient_env(tmp_path), "--base-url", sim.base_url)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "(retries 3, 429s 1)" in result.stdout


def test_verbose_prints_each_retry_with_a_timestamp(tmp_path: Path, sim: Simulator) -> None:
    sim.faults.enqueue(*RETRIED)
    result = run_cli(patient_env(tmp_path), "--base-url", sim.base_url, "--verbose")
    assert result.returncode == 0, result.stderr
    retries = [line for line in result.stderr.splitlines() if "retrying after" in line]
    assert len(retries) == len(RETRIED), result.stderr
    assert all(re.match(TIMESTAMP + "INFO sources.opencx: ", line) for line in retries)
    assert "HTTP 429" in result.stderr
    assert TEST_KEY not in result.stderr


def test_quiet_success_prints_nothing_at_all(tmp_path: Path, sim: Simulator) -> None:
    sim.faults.enqueue(*RETRIED)
    result = run_cli(patient_env(tmp_path), "--base-url", sim.base_url, "--quiet")
    assert result.returncode == 0, result.stderr
    assert (result.stdout, result.stderr) == ("", "")


def test_quiet_demo_prints_nothing_either(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    del env["SOURCES__OPENCX__API_KEY"]
    demo_db = tmp_path / "demo.duckdb"
    result = run_cli(env, "--demo", "--demo-insights", "40", "--duckdb-path", str(demo_db), "-q")
    assert result.returncode == 0, result.stderr
    assert (result.stdout, result.stderr) == ("", "")


def test_the_log_file_keeps_retries_and_the_summary_of_a_quiet_run(
    tmp_path: Path, sim: Simulator
) -> None:
    log = tmp_path / "logs" / "opencx.log"
    log.parent.mkdir()
    sim.faults.enqueue(*RETRIED)
    env = patient_env(tmp_path)
    first = run_cli(env, "--base-url", sim.base_url, "--quiet", "--log-file", str(log))
    second = run_cli(env, "--base-url", sim.base_url, "--quiet", "--log-file", str(log))
    assert (first.returncode, second.returncode) == (0, 0), first.stderr + second.stderr
    assert first.stdout + first.stderr + second.stdout + second.stderr == ""
    lines = log.read_text(encoding="utf-8").splitlines()
    assert all(re.match(TIMESTAMP, line) for line in lines)
    assert sum("retrying after" in line for line in lines) == len(RETRIED)
    assert sum("pipelines.summary: loaded into duckdb" in line for line in lines) == 2  # appended
    assert TEST_KEY not in "\n".join(lines)


def test_dlt_log_level_still_reaches_stderr(tmp_path: Path, sim: Simulator) -> None:
    env = cli_env(tmp_path, RUNTIME__LOG_LEVEL="INFO")
    result = run_cli(env, "--base-url", sim.base_url)
    assert result.returncode == 0, result.stderr
    assert "|dlt|" in result.stderr  # dlt's own format, from dlt's own logger


@pytest.mark.parametrize("loudness", [(), ("--quiet",)], ids=["default", "quiet"])
@pytest.mark.parametrize(
    ("case", "code", "needle"),
    [
        pytest.param("bad-filter", 2, "sources.opencx.sentiment", id="bad-filter"),
        pytest.param("bad-option", 2, "--lookback-hours", id="bad-option"),
        pytest.param("403", 3, "insights:read", id="forbidden"),
        pytest.param("retried-then-unreachable", 4, "sources.opencx.base_url", id="unreachable"),
        pytest.param("retried-then-5xx", 5, "kept failing", id="kept-failing"),
        pytest.param("bad-log-file", 2, "--log-file", id="bad-log-file"),
    ],
)
def test_every_user_caused_failure_is_exactly_one_line(
    tmp_path: Path,
    sim: Simulator,
    loudness: tuple[str, ...],
    case: str,
    code: int,
    needle: str,
) -> None:
    env = cli_env(tmp_path)
    args = ["--base-url", sim.base_url, *loudness]
    if case == "bad-filter":
        args += ["--sentiment", "furious"]
    elif case == "bad-option":
        args += ["--lookback-hours", "a day"]
    elif case == "403":
        env["SOURCES__OPENCX__API_KEY"] = SCOPELESS_KEY
    elif case == "retried-then-unreachable":
        args = ["--base-url", "http://127.0.0.1:9", *loudness]
    elif case == "retried-then-5xx":
        sim.faults.enqueue("503", "503", "503")
    else:
        args += ["--log-file", str(tmp_path / "missing-dir" / "x.log")]
    result = run_cli(env, *args)
    assert result.returncode == code, result.stderr
    line = only_line(result.stderr)
    assert line.startswith("error: ")
    assert needle in line
    assert result.stdout == ""
