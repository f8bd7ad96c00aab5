"""The connector's modules stand on floors: each imports only what stands below it, in no circle.

From the top: the entry points (`pipelines/insights.py`, `pipelines/report.py`), the command
(`pipelines/command/`: the request, its checks, the dry run), a load (`pipelines/load/`), beside
each other the destination (`pipelines/destination/`) and what the operator sees
(`pipelines/output/`), the failures (`pipelines/failures.py`), and under all of them the dlt
source (`sources/`). The HTML report (`pipelines/html_report/`) stands apart, under its own
entry point. The command line is parsed once, at the top: no module below it sees argparse.

Read from the code with `ast`, every import counted (those inside functions and under
`TYPE_CHECKING` too), so a lazy import cannot hide a circle.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("pipelines", "sources")
# floor of each part, from the ground; a module takes the floor of its longest matching prefix
FLOORS: Mapping[str, int] = {
    "sources": 0,
    "pipelines": 1,  # the package's own __init__, empty
    "pipelines.failures": 1,
    "pipelines.destination": 2,
    "pipelines.output": 2,
    "pipelines.html_report": 2,
    "pipelines.load": 3,
    "pipelines.command": 4,
    "pipelines.insights": 5,
    "pipelines.report": 5,
}
# parts on one floor that must not lean on each other
APART = (
    ("pipelines.destination", "pipelines.output"),
    ("pipelines.html_report", "pipelines.destination"),
    ("pipelines.html_report", "pipelines.output"),
    ("pipelines.html_report", "pipelines.failures"),
)
# the command lines: the loader's, the HTML report's and the API simulator's
COMMAND_LINES = frozenset(
    {"pipelines.command.cli", "pipelines.report", "sources.opencx_simulator.__main__"}
)


def module_files(root: Path = ROOT) -> dict[str, Path]:
    """Every module of the connector's packages by dotted name (a package by its own name)."""
    found = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def imported_names(path: Path, module: str, modules: Collection[str] = ()) -> Iterator[str]:
    """Every dotted name `path` imports, wherever the import stands in the file.

    `import a.b` gives a.b; `from a import b` gives a.b when that is one of `modules`, else a
    (b is then a name that a defines).
    """
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, module, is_package)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                yield submodule if submodule in modules else base


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".")
    package = package if is_package else package[:-1]
    package = package[: len(package) - node.level + 1]
    return ".".join([*package, *([node.module] if node.module else [])])


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Module -> the modules of the connector it imports (names that are no module dropped)."""
    files = module_files(root)
    return {
        module: {name for name in imported_names(path, module, files) if name in files} - {module}
        for module, path in files.items()
    }


def circles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def part_of(module: str) -> str:
    """The longest `FLOORS` prefix of `module`; a module on no floor is refused."""
    matches = [p for p in FLOORS if module == p or module.startswith(f"{p}.")]
    assert matches, f"{module} stands on no floor: add its part to FLOORS"
    return max(matches, key=len)


def layer_breaches(graph: Mapping[str, set[str]]) -> list[str]:
    """Each import that reaches up, sideways across `APART`, or from sources/ into pipelines/."""
    breaches = []
    for module, targets in sorted(graph.items()):
        part = part_of(module)
        for target in sorted(targets):
            other = part_of(target)
            if other == part:
                continue
            if FLOORS[other] >= FLOORS[part] or {part, other} in map(set, APART):
                breaches.append(f"{module} -> {target} ({part} on floor {FLOORS[part]}, "
                                f"{other} on floor {FLOORS[other]})")  # fmt: skip
    return breaches


def argparse_users(root: Path = ROOT) -> set[str]:
    """The modules that import argparse."""
    return {
        module
        for module, path in module_files(root).items()
        if any(name.split(".")[0] == "argparse" for name in imported_names(path, module))
    }


def test_no_module_of_pipelines_or_sources_is_part_of_an_import_circle() -> None:
    assert circles(import_graph()) == []


def test_each_module_imports_only_what_stands_below_it() -> None:
    assert layer_breaches(import_graph()) == []


def test_only_the_command_lines_see_argparse() -> None:
    assert argparse_users() <= COMMAND_LINES
    assert "pipelines.command.cli" in argparse_users()


def test_no_folder_of_pipelines_shadows_a_standard_module_for_the_entry_scripts() -> None:
    # `python pipelines/insights.py` puts pipelines/ first on sys.path
    names = {path.stem for path in (ROOT / "pipelines").iterdir() if path.suffix in ("", ".py")}
    assert names & set(sys.stdlib_module_names) == set()


def _write(root: Path, files: Mapping[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_a_lazy_import_that_closes_a_circle_is_found(tmp_path: Path) -> None:
    root = _write(tmp_path, {
        "pipelines/__init__.py": "",
        "pipelines/load/__init__.py": "",
        "pipelines/load/runner.py": "from pipelines.command import dry_run\n",
        "pipelines/command/__init__.py": "",
        "pipelines/command/dry_run.py": "def f():\n    from pipelines.load.runner import g\n",
        "sources/__init__.py": "",
    })  # fmt: skip
    graph = import_graph(root)
    assert circles(graph) == [["pipelines.command.dry_run", "pipelines.load.runner"]]
    assert layer_breaches(graph) == [
        "pipelines.load.runner -> pipelines.command.dry_run "
        "(pipelines.load on floor 3, pipelines.command on floor 4)"
    ]


@pytest.mark.parametrize(
    ("source", "reached"),
    [
        ("import argparse\n", True),
        ("from argparse import Namespace\n", True),
        ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import argparse\n", True),
        ("import argparser\n", False),
    ],
)
def test_argparse_below_the_command_line_is_found_however_it_is_imported(
    tmp_path: Path, source: str, reached: bool
) -> None:
    root = _write(tmp_path, {
        "pipelines/__init__.py": "",
        "pipelines/load/__init__.py": "",
        "pipelines/load/runner.py": source,
        "sources/__init__.py": "",
    })  # fmt: skip
    assert ("pipelines.load.runner" in argparse_users(root)) is reached


def test_destination_and_output_stand_beside_each_other_not_on_each_other(
    tmp_path: Path,
) -> None:
    root = _write(tmp_path, {
        "pipelines/__init__.py": "",
        "pipelines/output/__init__.py": "",
        "pipelines/output/summary.py": "from pipelines.destination import duckdb_file\n",
        "pipelines/destination/__init__.py": "",
        "pipelines/destination/duckdb_file.py": "from pipelines import failures\n",
        "pipelines/failures.py": "",
        "sources/__init__.py": "",
    })  # fmt: skip
    assert layer_breaches(import_graph(root)) == [
        "pipelines.output.summary -> pipelines.destination.duckdb_file "
        "(pipelines.output on floor 2, pipelines.destination on floor 2)"
    ]
