"""Exit statuses are an interface: schedulers branch on them, the README's table documents them.

Configuration mistakes that used to cost retries (a malformed base URL: 8 attempts, 30-56 s,
exit 4) or a whole scan (a reconciliation into dlt's filesystem destination) now stop before
the first request with exit 2; a load whose deletions were withheld is told apart (exit 6).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

import pipelines.failures
from pipelines.failures import EXIT_STATUSES, describe_failure
from pipelines.output.summary import print_summary
from sources.opencx.errors import OpenCXError
from sources.opencx_simulator import Simulator
from tests.cron_support import cli_env, db_snapshot, only_line, run_cli, run_in_process
from tests.docs_support import section
from tests.helpers import Workspace


def readme_statuses() -> dict[int, str]:
    table = section("README", "Exit statuses")
    rows = re.findall(r"^\| (\d+) \| ([^|:]+):", table, re.M)
    assert rows, "README has no exit status table"
    return {int(code): meaning for code, meaning in rows}


def every_error_class(cls: type[OpenCXError] = OpenCXError) -> list[type[OpenCXError]]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *every_error_class(sub)]
    return found


def test_the_readme_table_lists_exactly_the_statuses_the_code_defines() -> None:
    assert readme_statuses() == EXIT_STATUSES


def test_every_status_the_code_can_return_is_in_the_table() -> None:
    constants = {
        value
        for name, value in vars(pipelines.failures).items()
        if name.endswith("_EXIT") and isinstance(value, int)
    }
    assert constants == set(EXIT_STATUSES)
    for error in every_error_class():
        assert error.exit_code in EXIT_STATUSES, error
    assert describe_failure(RuntimeError("boom"))[1] in EXIT_STATUSES


def test_an_unknown_destination_is_a_configuration_error_before_any_request(
    tmp_path: Path, sim: Simulator
) -> None:
    result = run_cli(cli_env(tmp_path), "--base-url", sim.base_url, "--destination", "duckdbb")
    assert result.returncode == 2, result.stderr
    line = only_line(result.stderr)
    assert "unknown dlt destination 'duckdbb' (--destination)" in line
    assert sim.requests == []
    assert not (tmp_path / "dlt_data" / "pipelines" / "opencx_insights").exists()


@pytest.mark.parametrize(
    "base_url",
    ["not-a-url", "ftp://api.open.cx", "http://", "https:///insights", "http://host:port"],
)
def test_a_malformed_base_url_is_a_configuration_error_at_once(
    tmp_path: Path, base_url: str
) -> None:
    started = time.monotonic()
    result = run_cli(cli_env(tmp_path, SOURCES__OPENCX__MAX_ATTEMPTS="8"), "--base-url", base_url)
    took = time.monotonic() - started
    assert result.returncode == 2, result.stderr
    line = only_line(result.stderr)
    assert "sources.opencx.base_url" in line
    assert "http:// or https:// URL with a host" in line
    assert took < 20  # not eight attempts with backoff
    assert db_snapshot(tmp_path / "cli.duckdb") is None


def test_a_malformed_base_url_from_the_environment_is_refused_too(tmp_path: Path) -> None:
    result = run_cli(cli_env(tmp_path, SOURCES__OPENCX__BASE_URL="api.open.cx"))
    assert result.returncode == 2, result.stderr
    assert "sources.opencx.base_url" in only_line(result.stderr)


@pytest.mark.parametrize("how", ["flag", "config"])
def test_a_reconciliation_into_a_destination_without_sql_is_refused_before_any_request(
    tmp_path: Path, sim: Simulator, how: str
) -> None:
    env = cli_env(tmp_path, DESTINATION__FILESYSTEM__BUCKET_URL=(tmp_path / "files").as_uri())
    args = ["--base-url", sim.base_url, "--destination", "filesystem"]
    if how == "flag":
        args.append("--full-refresh")
    else:
        env["SOURCES__OPENCX__FULL_REFRESH"] = "true"
    result = run_cli(env, *args)
    assert result.returncode == 2, result.stderr
    line = only_line(result.stderr)
    assert "needs a SQL destination" in line
    assert "sources.opencx.full_refresh" in line
    assert sim.requests == []
    assert not (tmp_path / "files").exists()


@pytest.mark.parametrize("loudness", [(), ("--quiet",)], ids=["default", "quiet"])
def test_withheld_deletions_load_but_exit_6_with_one_warning_line(
    tmp_path: Path, sim: Simulator, loudness: tuple[str, ...]
) -> None:
    env = cli_env(tmp_path, SOURCES__OPENCX__MAX_DELETION_CHECKS="2")
    assert run_in_process(env, "--base-url", sim.base_url) == 0
    for insight_id in sim.store.insight_ids()[:3]:
        sim.store.delete(insight_id)
    sim.store.bump_counts(4)

    result = run_cli(env, "--base-url", sim.base_url, "--full-refresh", *loudness)

    assert result.returncode == 6, result.stderr
    line = only_line(result.stderr)
    assert line.startswith("warning: 3 insights were missing from the reconciliation scan")
    assert "sources.opencx.max_deletion_checks" in line
    assert ("loaded into" in result.stdout) is not bool(loudness)


def test_the_summary_prints_the_runs_notes(
    ws: Workspace, sim: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    stats = ws.load_with_stats(sim)
    stats.notes.append("count scope stayed unknown:\nthe probe answered 403")
    capsys.readouterr()
    print_summary(ws.pipeline(), stats, None, 1.0, location=f"duckdb {ws.db}", dataset="opencx")
    out = capsys.readouterr().out
    assert "  note: count scope stayed unknown: the probe answered 403\n" in out
