"""Every way the README opens the DuckDB file is read-only: a read-write reader (and any
reader) blocks the scheduled run, so the examples must not teach the blocking kind."""

from __future__ import annotations

import re

from tests.duckdb_support import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")

DUCKDB_COMMAND = re.compile(r"^\s*(?:[A-Z_]+=\S+\s+)*duckdb\s")
FENCED = re.compile(r"```[a-z]*\n(.*?)```", re.S)


def readme_duckdb_commands() -> list[str]:
    """Every `duckdb ...` command line in the README: in code blocks and in inline code."""
    in_blocks = [line for block in FENCED.findall(README) for line in block.splitlines()]
    inline = re.findall(r"`([^`\n]+)`", FENCED.sub("", README))
    return [command for command in in_blocks + inline if DUCKDB_COMMAND.match(command)]


def test_every_duckdb_cli_example_in_the_readme_opens_the_file_read_only() -> None:
    commands = readme_duckdb_commands()
    assert len(commands) >= 2, "the README shows how to open the file with the DuckDB CLI"
    for command in commands:
        assert " -readonly " in f"{command} ", command


def test_every_python_duckdb_connect_in_the_readme_is_read_only() -> None:
    connects = re.findall(r"duckdb\.connect\(([^)]*)\)", README)
    assert connects, "the README shows how to open the file from Python"
    for arguments in connects:
        assert "read_only=True" in arguments, arguments
