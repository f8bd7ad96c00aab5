"""The command refuses a dlt or DuckDB outside the versions the connector was tested with, in
one line with exit status 2, unless OPENCX_ALLOW_UNTESTED_VERSIONS=1
(pipelines/command/versions.py)."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from pipelines.command.versions import (
    ALLOW_UNTESTED_VARIABLE,
    TESTED_RANGES,
    UntestedVersionError,
    check_tested_versions,
    in_range,
    installed_versions,
)
from pipelines.failures import CONFIG_EXIT
from tests.cron_support import ROOT, SCRIPT, cli_env

IN_RANGE = {"dlt": "1.31.0", "duckdb": "1.5.6"}


def pyproject_ranges() -> dict[str, set[str]]:
    """Every version range pyproject.toml gives dlt and duckdb (dependencies and extras)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = [*project["dependencies"]]
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    ranges: dict[str, set[str]] = {name: set() for name in TESTED_RANGES}
    for requirement in requirements:
        match = re.fullmatch(r"\s*([A-Za-z0-9_.-]+)(\[[^\]]*\])?\s*([^;]*?)\s*(;.*)?", requirement)
        assert match is not None, requirement
        if match[1].lower() in ranges:
            ranges[match[1].lower()].add(match[3].replace(" ", ""))
    return ranges


def test_the_tested_ranges_are_pyprojects_ranges_for_dlt_and_duckdb() -> None:
    assert pyproject_ranges() == {name: {spec} for name, spec in TESTED_RANGES.items()}


def test_the_installed_versions_are_in_the_tested_ranges() -> None:
    assert check_tested_versions(installed_versions(), environ={}) is None


@pytest.mark.parametrize(
    ("installed", "spec", "inside"),
    [
        ("1.31.0", ">=1.31,<1.32", True),
        ("1.31.12", ">=1.31,<1.32", True),
        ("1.32.0", ">=1.31,<1.32", False),
        ("1.32.0a1", ">=1.31,<1.32", False),
        ("1.30.9", ">=1.31,<1.32", False),
        ("1.4.0", ">=1.4,<1.6", True),
        ("1.5.6.dev3", ">=1.4,<1.6", True),
        ("1.6", ">=1.4,<1.6", False),
        ("2.0.0", ">=1.4,<1.6", False),
        (None, ">=1.4,<1.6", False),
    ],
)
def test_a_version_is_in_range_when_its_release_meets_every_clause(
    installed: str | None, spec: str, inside: bool
) -> None:
    assert in_range(installed, spec) is inside


def test_versions_in_range_run_without_a_word() -> None:
    assert check_tested_versions(IN_RANGE, environ={}) is None


@pytest.mark.parametrize(
    ("package", "version"), [("dlt", "1.32.0"), ("dlt", "1.30.2"), ("duckdb", "1.6.0")]
)
def test_an_untested_version_is_refused_naming_the_version_and_the_range(
    package: str, version: str
) -> None:
    with pytest.raises(UntestedVersionError) as refused:
        check_tested_versions({**IN_RANGE, package: version}, environ={})
    message = str(refused.value)
    assert f"{package} {version} (tested: {package}{TESTED_RANGES[package]})" in message
    assert ALLOW_UNTESTED_VARIABLE in message
    assert "\n" not in message


def test_the_variable_lets_an_untested_version_run_after_one_warning_line() -> None:
    warning = check_tested_versions(
        {**IN_RANGE, "dlt": "1.32.0"}, environ={ALLOW_UNTESTED_VARIABLE: "1"}
    )
    assert warning is not None
    assert warning.startswith("warning: untested versions: dlt 1.32.0 (tested: dlt>=1.31,<1.32)")
    assert "\n" not in warning
    with pytest.raises(UntestedVersionError):  # only "1" says the user knows
        check_tested_versions({**IN_RANGE, "dlt": "1.32.0"}, environ={ALLOW_UNTESTED_VARIABLE: ""})


def test_a_refusal_exits_with_the_configuration_status() -> None:
    assert UntestedVersionError.exit_code == CONFIG_EXIT == 2


def installed_as(tmp_path: Path, package: str, version: str) -> str:
    """A directory whose distribution metadata says `package` is `version` (for PYTHONPATH).

    Python finds it before the environment's own, so the command sees that version installed;
    the modules it imports stay the environment's.
    """
    metadata = tmp_path / "fake-dists" / f"{package}-{version}.dist-info" / "METADATA"
    metadata.parent.mkdir(parents=True)
    metadata.write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: {version}\n")
    return str(metadata.parent.parent)


def run_command(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def test_the_command_refuses_an_untested_dlt_in_one_line_with_exit_2_before_anything(
    tmp_path: Path,
) -> None:
    env = cli_env(tmp_path, PYTHONPATH=installed_as(tmp_path, "dlt", "1.32.0"))
    env.pop(ALLOW_UNTESTED_VARIABLE, None)

    result = run_command(env, "--base-url", "http://127.0.0.1:9")

    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        "error: untested versions: dlt 1.32.0 (tested: dlt>=1.31,<1.32); install the locked "
        "versions (pip install -r requirements.lock), or set OPENCX_ALLOW_UNTESTED_VERSIONS=1 "
        "to run anyway"
    ]
    assert result.stdout == ""
    assert not (tmp_path / "cli.duckdb").exists()
    assert not (tmp_path / "dlt_data").exists()


def test_the_command_runs_an_untested_dlt_when_the_variable_allows_it(tmp_path: Path) -> None:
    env = cli_env(
        tmp_path,
        PYTHONPATH=installed_as(tmp_path, "dlt", "1.32.0"),
        **{ALLOW_UNTESTED_VARIABLE: "1"},
    )

    result = run_command(env, "--dry-run", "--base-url", "http://127.0.0.1:9")

    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        "warning: untested versions: dlt 1.32.0 (tested: dlt>=1.31,<1.32); running anyway "
        "because OPENCX_ALLOW_UNTESTED_VERSIONS=1"
    ]
    assert result.stdout.startswith("dry run: nothing is requested, loaded or changed")
