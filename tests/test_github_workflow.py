"""The GitHub Actions workflow (.github/workflows/opencx-insights.yml) runs what the docs say
(docs/warehouses.md, "Scheduling with GitHub Actions").

GitHub only tells at the next scheduled run that a step calls a flag that does not exist or
that a step's condition names a schedule the workflow does not have; these tests tell now. Each
`run:` line is checked against the repository and the CLI's own argparse parser (parsed, not
run), with `$VAR`s replaced by the value or default the workflow gives them.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from pipelines.command.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "opencx-insights.yml"
CLI = "pipelines/insights.py"
SECRET_NAME = re.compile(r"KEY|CREDENTIALS|TOKEN|PASSWORD|SECRET", re.IGNORECASE)
# things a pasted credential looks like: an OpenCX key, a MotherDuck token, a URL with a password
SECRET_LITERAL = re.compile(
    r"ocx_(live|test)_\w+|motherduck_token=\w|://[^/\s:@]+:[^@\s]+@|eyJ[\w-]{20,}"
)


def load_workflow() -> dict[Any, Any]:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    assert isinstance(workflow, dict)
    return workflow


def triggers(workflow: Mapping[Any, Any]) -> dict[str, Any]:
    # YAML 1.1 reads the bare key `on` as the boolean True
    found = workflow.get("on", workflow.get(True))
    assert isinstance(found, dict), "the workflow has no `on:` triggers"
    return found


def schedules(workflow: Mapping[Any, Any]) -> list[str]:
    return [entry["cron"] for entry in triggers(workflow).get("schedule", [])]


def steps(workflow: Mapping[Any, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(job, step) for every step of every job."""
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            yield job, step


def is_hourly(cron: str) -> bool:
    minute, hour, day, month, weekday = cron.split()
    return minute.isdigit() and (hour, day, month, weekday) == ("*", "*", "*", "*")


def is_daily(cron: str) -> bool:
    minute, hour, day, month, weekday = cron.split()
    return minute.isdigit() and hour.isdigit() and (day, month, weekday) == ("*", "*", "*")


# Variables every GitHub-hosted runner sets itself (documented "default environment variables").
RUNNER_ENV = {"RUNNER_TEMP": "/home/runner/work/_temp", "GITHUB_WORKSPACE": "/home/runner/work"}


def sample_value(value: str) -> str:
    """What a `${{ ... }}` value may become: its `|| 'default'`, else a stand-in."""
    default = re.search(r"\|\|\s*'([^']*)'", value)
    return default.group(1) if default else "sample"


def expand(token: str, env: Mapping[str, str]) -> str:
    """`$NAME` / `${NAME}` replaced as the shell would, from the workflow's env."""

    def lookup(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return sample_value(str(env[name])) if name in env else f"<unset ${name}>"

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lookup, token)


def commands(workflow: Mapping[Any, Any]) -> Iterator[tuple[str, list[str]]]:
    """(step name, argv) of every command line of every `run:`, variables expanded."""
    for job, step in steps(workflow):
        if "run" not in step:
            continue
        env = {
            **RUNNER_ENV,
            **workflow.get("env", {}),
            **job.get("env", {}),
            **step.get("env", {}),
        }
        for line in step["run"].splitlines():
            if line.strip():
                argv = [expand(token, env) for token in shlex.split(line)]
                yield step.get("name", line), argv


def runs_of_the_cli(workflow: Mapping[Any, Any]) -> dict[str, tuple[str, list[str]]]:
    """Step name -> (its `if:`, the CLI's arguments) for the steps that run the CLI."""
    found = {}
    for _, step in steps(workflow):
        for line in str(step.get("run", "")).splitlines():
            argv = shlex.split(line)
            if argv[:2] == ["python", CLI]:
                found[step["name"]] = (str(step.get("if", "")), argv[2:])
    return found


def test_workflow_runs_hourly_and_nightly() -> None:
    crons = schedules(load_workflow())
    assert len(crons) == 2, crons
    assert sum(is_hourly(c) for c in crons) == 1, crons
    assert sum(is_daily(c) for c in crons) == 1, crons


def test_hourly_schedule_runs_the_scheduled_load_and_nightly_the_reconciliation() -> None:
    workflow = load_workflow()
    hourly = next(c for c in schedules(workflow) if is_hourly(c))
    nightly = next(c for c in schedules(workflow) if is_daily(c))
    by_schedule = {
        cron: [args for condition, args in runs_of_the_cli(workflow).values() if cron in condition]
        for cron in (hourly, nightly)
    }
    assert len(by_schedule[hourly]) == 1, by_schedule
    assert len(by_schedule[nightly]) == 1, by_schedule
    assert "--full-refresh" not in by_schedule[hourly][0]
    assert "--full-refresh" in by_schedule[nightly][0]


def test_one_run_at_a_time_and_a_running_load_is_never_cancelled() -> None:
    concurrency = load_workflow()["concurrency"]
    assert isinstance(concurrency, dict), "concurrency needs a group and cancel-in-progress"
    assert concurrency["group"]
    assert concurrency["cancel-in-progress"] is False


def test_api_key_and_credentials_come_from_repository_secrets() -> None:
    workflow = load_workflow()
    env = {name: str(value) for job, _ in steps(workflow) for name, value in job["env"].items()}
    assert env["SOURCES__OPENCX__API_KEY"].replace(" ", "") == "${{secrets.OPENCX_API_KEY}}"
    secret_like = {name: value for name, value in env.items() if SECRET_NAME.search(name)}
    assert any(name.startswith("DESTINATION__") for name in secret_like), env
    for name, value in secret_like.items():
        assert re.fullmatch(r"\$\{\{\s*secrets\.\w+\s*\}\}", value), f"{name} is not a secret"


def test_destination_name_comes_from_a_repository_variable_with_a_default() -> None:
    workflow = load_workflow()
    env = {name: str(value) for job, _ in steps(workflow) for name, value in job["env"].items()}
    destination = env["OPENCX_DESTINATION"]
    assert "vars.OPENCX_DESTINATION" in destination
    assert sample_value(destination) not in ("sample", "duckdb")  # a warehouse, not a lost file


def test_no_secret_literal_in_the_workflow() -> None:
    text = WORKFLOW.read_text()
    assert not SECRET_LITERAL.search(text), SECRET_LITERAL.search(text)


def command_problem(argv: list[str]) -> str | None:
    """Why `argv` would fail on the runner, or None: pinned installs and the CLI only."""
    if unset := [arg for arg in argv if "<unset $" in arg]:
        return f"uses variables the workflow does not set: {unset}"
    if argv[:4] == ["python", "-m", "pip", "install"]:
        files = [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg in ("-r", "-c")]
        missing = [f for f in files if not (ROOT / f).is_file()]
        return (
            f"installs without a lock file, or a missing one: {missing}"
            if missing or not files
            else None
        )
    if argv[:2] != ["python", CLI] or not (ROOT / CLI).is_file():
        return "is neither a pinned install nor the CLI of this repository"
    try:
        build_parser().parse_args(argv[2:])
    except SystemExit as exc:
        return f"is refused by the CLI's parser (exit {exc.code})"
    return None


def test_every_run_line_is_a_command_the_repository_has_with_arguments_its_cli_accepts() -> None:
    found = list(commands(load_workflow()))
    assert any(argv[:2] == ["python", CLI] for _, argv in found), found
    problems = {" ".join(argv): command_problem(argv) for _, argv in found}
    assert not {line: why for line, why in problems.items() if why}


def test_every_run_of_the_cli_is_quiet_so_only_failures_reach_the_log() -> None:
    runs = runs_of_the_cli(load_workflow())
    assert runs
    assert all("--quiet" in args for _, args in runs.values()), runs
