"""Every instant a run writes reads the same: ISO 8601, UTC, milliseconds, `Z`.

The summary, the dry run and the JSON report used to write one cursor three ways
(`2026-11-25 11:54:47.696000+00:00`, `2026-11-25T11:54:47.696Z`, `...47.696000+00:00`), so an
operator could not match a summary against a report, nor paste a cursor as `--since`.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pendulum
import pytest

from sources.opencx.clock import format_timestamp
from sources.opencx_simulator import Simulator
from tests.cron_support import cli_env, run_in_process

INSTANT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
BERLIN = timezone(timedelta(hours=1))


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 12, 7, 18, 0, 0, 123456, tzinfo=timezone.utc),
        datetime(2026, 12, 7, 19, 0, 0, 123999, tzinfo=BERLIN),
        datetime(2026, 12, 7, 18, 0, 0, 123000),  # naive: UTC, as `since` takes it
        pendulum.datetime(2026, 12, 7, 18, 0, 0, 123456),
        "2026-12-07T18:00:00.123456+00:00",
        "2026-12-07T18:00:00.123Z",
        "2026-12-07T13:00:00.123-05:00",
    ],
    ids=["utc", "offset", "naive", "pendulum", "text", "text-z", "text-offset"],
)
def test_an_instant_is_written_in_utc_with_milliseconds_and_z_whatever_its_form(
    moment: datetime | str,
) -> None:
    assert format_timestamp(moment) == "2026-12-07T18:00:00.123Z"


def test_a_whole_second_keeps_its_milliseconds_so_every_instant_has_one_width() -> None:
    assert format_timestamp(datetime(2026, 12, 7, 18, tzinfo=timezone.utc)) == (
        "2026-12-07T18:00:00.000Z"
    )


def test_the_summary_the_dry_run_and_the_json_report_write_the_cursor_alike(
    tmp_path: Path, sim: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    env = cli_env(tmp_path)
    report_path = tmp_path / "run.json"
    capsys.readouterr()

    assert run_in_process(env, "--base-url", sim.base_url, "--report-json", str(report_path)) == 0
    summary = capsys.readouterr().out
    assert run_in_process(env, "--base-url", sim.base_url, "--dry-run") == 0
    plan = capsys.readouterr().out

    [moved] = re.findall(r"cursor last_seen_at: none -> (\S+)", summary)
    [planned] = re.findall(r"cursor last_seen_at: ([^;\s]+);", plan)
    report = json.loads(report_path.read_text(encoding="utf-8"))
    [run] = report["runs"]
    assert INSTANT.fullmatch(moved), summary
    assert moved == planned == run["cursor_after"]
    stamps = [report["started_at"], report["finished_at"], run["started_at"], run["finished_at"]]
    assert all(INSTANT.fullmatch(stamp) for stamp in stamps), stamps
    assert all(INSTANT.fullmatch(stamp) for stamp in re.findall(r"\d{4}-\d\d-\d\dT\S+?Z", plan))
