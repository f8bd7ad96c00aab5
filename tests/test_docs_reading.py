"""Every way the README and docs/ open the DuckDB file is read-only: a read-write reader (and any
reader) blocks the scheduled run, so the examples must not teach the blocking kind."""

from __future__ import annotations

import re

from tests.docs_support import every_doc, read_doc

DUCKDB_COMMAND = re.compile(r"^\s*(?:[A-Z_]+=\S+\s+)*duckdb\s")
FENCED = re.compile(r"```[a-z]*\n(.*?)```", re.S)
CONNECT = re.compile(r"duckdb\.connect\(([^)]*)\)")


def duckdb_commands(text: str) -> list[str]:
    """Every `duckdb ...` command line in `text`: in code blocks and in inline code."""
    in_blocks = [line for block in FENCED.findall(text) for line in block.splitlines()]
    inline = re.findall(r"`([^`\n]+)`", FENCED.sub("", text))
    return [command for command in in_blocks + inline if DUCKDB_COMMAND.match(command)]


def every_doc_text() -> str:
    return "\n".join(doc.read_text(encoding="utf-8") for doc in every_doc())


def test_the_readme_shows_the_duckdb_cli_and_python_reading_the_file() -> None:
    readme = read_doc("README")
    assert len(duckdb_commands(readme)) >= 2, "the README opens the file with the DuckDB CLI"
    assert CONNECT.search(readme), "the README opens the file from Python"


def test_every_duckdb_cli_example_in_the_documents_opens_the_file_read_only() -> None:
    for command in duckdb_commands(every_doc_text()):
        assert " -readonly " in f"{command} ", command


def test_every_python_duckdb_connect_in_the_documents_is_read_only() -> None:
    for arguments in CONNECT.findall(every_doc_text()):
        assert "read_only=True" in arguments, arguments
