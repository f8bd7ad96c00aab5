"""Progress of long runs: pages read of the total the API announced, requests, rate and ETA.

A run is made slow deterministically by a simulator that answers each request after 0.2 s (the
35 pages take about 1.75 s over the connector's 4 connections), and the progress period is made
shorter still (0.25 s), so the periodic line must appear several times; the page counts
themselves are checked in-process after real loads.
"""

from __future__ import annotations

import fcntl
import os
import re
import struct
import subprocess
import termios
from pathlib import Path

import pytest

from pipelines.output.progress import RateMeter, Snapshot, describe, format_duration
from sources.opencx.client import RequestCounts
from sources.opencx_simulator import Simulator
from tests.conftest import SimFactory
from tests.cron_support import TIMESTAMP, cli_env, command, run_cli
from tests.helpers import Workspace

PAGES = 35  # 240 insights, 7 a page
SLOW_ANSWER_S = 0.2
PACED = ("--progress-every", "0.25")
# "<dlt step>: " is left out between dlt's steps
LINE = re.compile(TIMESTAMP + r"INFO pipelines\.progress: (?:\w+: )?pages (\d+)/(\d+|\?), ")


@pytest.fixture
def slow_sim(make_sim: SimFactory) -> Simulator:
    return make_sim(latency_s=SLOW_ANSWER_S)


def progress_lines(stderr: str) -> list[re.Match[str]]:
    lines = stderr.splitlines()
    matches = [LINE.match(line) for line in lines]
    assert all(matches), stderr  # nothing else on stderr
    return [m for m in matches if m is not None]


def test_a_slow_run_logs_pages_read_of_the_total_when_stderr_is_not_a_terminal(
    tmp_path: Path, slow_sim: Simulator
) -> None:
    result = run_cli(cli_env(tmp_path), "--base-url", slow_sim.base_url, *PACED)
    assert result.returncode == 0, result.stderr
    lines = progress_lines(result.stderr)
    known = [(int(m[1]), int(m[2])) for m in lines if m[2] != "?"]
    assert len(known) >= 3, result.stderr
    assert {total for _, total in known} == {PAGES}
    read = [pages for pages, _ in known]
    assert read == sorted(read)
    assert 0 < read[0] < PAGES
    assert "pages/min, ETA " in result.stderr
    assert "requests " in result.stderr
    assert "(retries 0, 429s 0)" in result.stderr


def test_a_quiet_slow_run_shows_no_progress(tmp_path: Path, slow_sim: Simulator) -> None:
    result = run_cli(cli_env(tmp_path), "--base-url", slow_sim.base_url, *PACED, "--quiet")
    assert result.returncode == 0, result.stderr
    assert (result.stdout, result.stderr) == ("", "")


def test_a_short_run_prints_no_progress_line(tmp_path: Path, sim: Simulator) -> None:
    result = run_cli(cli_env(tmp_path), "--base-url", sim.base_url)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_the_activity_scan_reports_windows_done_of_planned(
    tmp_path: Path, slow_sim: Simulator
) -> None:
    env = cli_env(tmp_path, SOURCES__OPENCX__ACTIVITY_INITIAL_DAYS="4")
    result = run_cli(env, "--base-url", slow_sim.base_url, "--activity", *PACED)
    assert result.returncode == 0, result.stderr
    windows = re.findall(r"activity windows (\d+)/(\d+)", result.stderr)
    assert windows, result.stderr
    assert {int(planned) for _, planned in windows} == {4}


def test_page_counts_add_up_to_what_was_read(ws: Workspace, make_sim: SimFactory) -> None:
    sim = make_sim(n_insights=240, page_size=7)
    first = ws.load_with_stats(sim, concurrency=3).requests.snapshot()
    assert (first.pages, first.pages_planned, first.pages_bounded) == (PAGES, PAGES, 0)
    assert first.insights == 240
    assert first.requests == PAGES

    sim.store.bump_counts(5)
    incremental = ws.load_with_stats(sim).requests.snapshot()
    # a recent-first scan planned every page as a bound, then stopped at the cursor
    assert 0 < incremental.pages < PAGES
    assert incremental.pages_planned == incremental.pages
    assert incremental.pages_bounded == 0


def test_activity_windows_are_all_counted_done(ws: Workspace, sim: Simulator) -> None:
    stats = ws.load_with_stats(sim, activity=True, activity_initial_days=6)
    assert stats.windows.snapshot() == (6, 6)


def counts(pages: int, planned: int, bounded: int = 0) -> RequestCounts:
    return RequestCounts(
        requests=pages + 2,
        retries=2,
        rate_limited=1,
        pages=pages,
        insights=pages * 50,
        pages_planned=planned,
        pages_bounded=bounded,
    )


def test_the_line_shows_rate_and_eta_and_marks_an_upper_bound() -> None:
    exact = describe(Snapshot(0.0, counts(40, 130), 3, 14, "extract"), 90.0)
    assert exact == (
        "extract: pages 40/130, insights 2000, requests 42 (retries 2, 429s 1), "
        "activity windows 3/14, 90.0 pages/min, ETA 1 min 00 s"
    )
    bounded = describe(Snapshot(0.0, counts(4, 400, 400), 0, 0, "extract"), 60.0)
    assert "pages 4 of at most 400" in bounded
    assert "ETA at most 6 min 36 s" in bounded
    assert bounded.isascii()
    assert describe(Snapshot(0.0, counts(0, 0), 0, 0, ""), None).startswith("pages 0/?, ")


def test_the_rate_is_over_the_last_minute_not_the_whole_run() -> None:
    meter = RateMeter()
    assert meter.add(0.0, 0) is None
    meter.add(60.0, 90)  # 90 pages in the first minute
    meter.add(120.0, 100)  # then throttled: 10 in the next
    assert meter.add(121.0, 100) == 10.0 * 60 / 61


def test_durations_read_naturally() -> None:
    assert [format_duration(s) for s in (4.4, 65, 3600 * 2 + 7 * 60 + 29)] == [
        "4 s",
        "1 min 05 s",
        "2 h 07 min",
    ]


def test_a_terminal_gets_a_live_bar_instead_of_log_lines(
    tmp_path: Path, slow_sim: Simulator
) -> None:
    master, slave = os.openpty()
    # a terminal 120 columns wide (a fresh pty has none, and tqdm then draws nothing)
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    try:
        proc = subprocess.Popen(
            command("--base-url", slow_sim.base_url),
            env=cli_env(tmp_path),
            stdout=subprocess.PIPE,
            stderr=slave,
            text=True,
        )
        os.close(slave)
        screen = read_until_closed(master)
        out, _ = proc.communicate(timeout=120)
    finally:
        os.close(master)
    assert proc.returncode == 0
    assert "loaded into" in out
    assert f"/{PAGES} [" in screen  # tqdm: pages n/total [elapsed<remaining, rate]
    assert "page/s" in screen
    assert "429s 0" in screen
    assert "pipelines.progress" not in screen


def read_until_closed(fd: int) -> str:
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the child closed its end
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", "replace")
