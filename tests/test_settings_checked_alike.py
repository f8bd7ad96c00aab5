"""The run and `--dry-run` refuse every bad setting alike: same exit status, same one line.

Each case is one setting a user can get wrong. The command's entry point runs it twice in this
process, as the run and as a dry run, against a closed port: a setting the run wrongly accepted
would end in "cannot reach" (exit 4) instead of the configuration error. Neither may create
the DuckDB file or anything under dlt's pipelines directory (no lock, no pipeline folder).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.cron_support import cli_env, run_in_process
from tests.helpers import TEST_KEY

CLOSED_PORT_URL = "http://127.0.0.1:9"
CONFIG_EXIT = 2
PLACEHOLDER_KEY = "ocx_live_..."  # as .dlt/secrets.toml.example has it


@dataclass(frozen=True)
class BadSetting:
    """Options and environment of one bad setting; `names` must appear in the error line.

    `{tmp}` in an option or a variable stands for the test's temporary directory.
    """

    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    unset: tuple[str, ...] = ()
    names: tuple[str, ...] = ()


def opencx(name: str, value: str, *names: str) -> BadSetting:
    """`SOURCES__OPENCX__<NAME>=value`, expected to be named as `sources.opencx.<name>`."""
    key = f"SOURCES__OPENCX__{name.upper()}"
    return BadSetting(env={key: value}, names=names or (f"sources.opencx.{name}",))


CASES = {
    "no-key": BadSetting(
        unset=("SOURCES__OPENCX__API_KEY",),
        names=("SOURCES__OPENCX__API_KEY", "[sources.opencx]", "sources.opencx.api_key"),
    ),
    "the-examples-placeholder-key": opencx(
        "api_key", PLACEHOLDER_KEY, "SOURCES__OPENCX__API_KEY", "sources.opencx.api_key"
    ),
    "a-key-still-holding-the-placeholder-dots": opencx("api_key", "ocx_live_4f2a...", "api_key"),
    "a-key-with-a-space": opencx("api_key", "ocx_live_4f2a 9b"),
    "since-after-until": BadSetting(
        args=("--since", "2026-12-01", "--until", "2026-11-01"), names=("sources.opencx.since",)
    ),
    "since-equal-to-until-in-the-environment": BadSetting(
        env={"SOURCES__OPENCX__SINCE": "2026-11-01", "SOURCES__OPENCX__UNTIL": "2026-11-01"},
        names=("sources.opencx.since",),
    ),
    "until-before-1970": BadSetting(
        args=("--until", "1960-01-01"), names=("sources.opencx.until",)
    ),
    "since-not-a-time": BadSetting(
        args=("--since", "last tuesday"), names=("sources.opencx.since",)
    ),
    "negative-requests-per-minute": BadSetting(
        args=("--requests-per-minute", "-3"), names=("sources.opencx.requests_per_minute",)
    ),
    "negative-lookback-hours": BadSetting(
        args=("--lookback-hours", "-1"), names=("sources.opencx.lookback_hours",)
    ),
    "lookback-hours-not-a-number": BadSetting(
        args=("--lookback-hours", "nan"), names=("sources.opencx.lookback_hours",)
    ),
    "zero-timeout": opencx("timeout_seconds", "0"),
    "zero-max-attempts": opencx("max_attempts", "0"),
    "negative-backoff": opencx("backoff_base_seconds", "-1"),
    "zero-max-pages": opencx("max_pages", "0"),
    "max-pages-not-a-number": opencx("max_pages", "many", "max_pages"),
    "zero-concurrency": opencx("concurrency", "0"),
    "too-much-concurrency": opencx("concurrency", "33"),
    "negative-max-deletion-checks": opencx("max_deletion_checks", "-1"),
    "zero-activity-window": opencx("activity_window_hours", "0"),
    "negative-activity-reread-windows": opencx("activity_reread_windows", "-1"),
    "zero-activity-initial-days": opencx("activity_initial_days", "0"),
    "unknown-sentiment": BadSetting(
        args=("--sentiment", "furious"), names=("sources.opencx.sentiment",)
    ),
    "unknown-status-in-the-environment": opencx("status", "open"),
    "zero-page": BadSetting(args=("--page", "0"), names=("sources.opencx.page",)),
    "session-dates-reversed": BadSetting(
        args=("--session-from-date", "2026-02-01", "--session-to-date", "2026-01-01"),
        names=("sources.opencx.session_from_date",),
    ),
    "custom-data-not-json": BadSetting(
        args=("--ticket-custom-data", "plan=pro"), names=("sources.opencx.ticket_custom_data",)
    ),
    "team-id-not-a-uuid": BadSetting(args=("--team-id", "12"), names=("sources.opencx.team_id",)),
    "base-url-without-a-scheme": BadSetting(
        args=("--base-url", "api.open.cx"), names=("sources.opencx.base_url",)
    ),
    "base-url-in-the-environment-not-http": opencx("base_url", "ftp://api.open.cx"),
    "unknown-destination": BadSetting(args=("--destination", "duckdbb"), names=("--destination",)),
    "reconciliation-into-plain-parquet": BadSetting(
        args=("--destination", "filesystem", "--full-refresh"),
        env={"DESTINATION__FILESYSTEM__BUCKET_URL": "file://{tmp}/files"},
        names=("sources.opencx.full_refresh",),
    ),
    "duckdb-file-named-like-the-dataset": BadSetting(
        args=("--duckdb-path", "{tmp}/opencx.duckdb"), names=("--duckdb-path",)
    ),
    "report-json-in-a-missing-directory": BadSetting(
        args=("--report-json", "{tmp}/nowhere/report.json"), names=("--report-json",)
    ),
    "org-name-not-lowercase": BadSetting(args=("--orgs", "Acme"), names=("sources.opencx.orgs",)),
    "org-named-twice": BadSetting(args=("--orgs", "acme,acme"), names=("sources.opencx.orgs",)),
    "org-without-its-key": BadSetting(
        args=("--orgs", "acme"), names=("org acme", "SOURCES__OPENCX__ACME__API_KEY")
    ),
    "org-with-the-placeholder-key": BadSetting(
        args=("--orgs", "acme"),
        env={"SOURCES__OPENCX__ACME__API_KEY": PLACEHOLDER_KEY},
        names=("org acme", "SOURCES__OPENCX__ACME__API_KEY", "sources.opencx.acme.api_key"),
    ),
    "org-with-a-bad-setting-of-its-own": BadSetting(
        args=("--orgs", "acme"),
        env={
            "SOURCES__OPENCX__ACME__API_KEY": TEST_KEY,
            "SOURCES__OPENCX__ACME__MAX_PAGES": "0",
        },
        names=("org acme", "max_pages"),
    ),
}


def with_tmp(text: str, tmp_path: Path) -> str:
    return text.replace("{tmp}", str(tmp_path))


@pytest.mark.parametrize("case", [pytest.param(c, id=name) for name, c in CASES.items()])
def test_the_run_and_the_dry_run_refuse_a_bad_setting_with_the_same_status_and_line(
    case: BadSetting, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = cli_env(tmp_path, SOURCES__OPENCX__BASE_URL=CLOSED_PORT_URL)
    env.update({name: with_tmp(value, tmp_path) for name, value in case.env.items()})
    for name in case.unset:
        del env[name]
    args = [with_tmp(arg, tmp_path) for arg in case.args]

    run_status = run_in_process(env, *args)
    run_err = capsys.readouterr().err
    dry_status = run_in_process(env, *args, "--dry-run")
    dry_err = capsys.readouterr().err

    assert (run_status, run_err) == (CONFIG_EXIT, dry_err), run_err
    assert dry_status == run_status
    lines = run_err.splitlines()
    assert len(lines) == 1, run_err
    assert lines[0].startswith("error: ")
    for name in case.names:
        assert name in lines[0]
    keys = [TEST_KEY, *(value for name, value in case.env.items() if name.endswith("API_KEY"))]
    for key in keys:
        assert key not in run_err + dry_err
    assert not (tmp_path / "cli.duckdb").exists()
    assert not (tmp_path / "dlt_data" / "pipelines").exists()
