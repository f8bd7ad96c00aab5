"""``python -m bench.publish``: write the documents' benchmark text from ``bench/results.json``.

    python -m bench.publish            # rewrite bench/RESULTS.md and the README's marked sections
    python -m bench.publish --check    # exit 1, naming them, if any differs from the results file

No benchmark figure in the documents is typed by hand: ``bench/RESULTS.md`` is rendered whole,
and the README's sections between ``<!-- NAME:start ... -->`` and ``<!-- NAME:end -->`` markers
are replaced, leaving the rest of the README untouched. ``tests/test_bench_figures.py`` runs the
same comparison as ``--check``.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import record, render
from bench.simproc import PROJECT_ROOT

README = PROJECT_ROOT / "README.md"
RESULTS_MD = PROJECT_ROOT / "bench" / "RESULTS.md"
# README section name -> its renderer.
SECTIONS: dict[str, Callable[[dict[str, Any]], str]] = {
    "bench": render.readme_benchmarks,
    "bench-loader-formats": render.loader_formats_section,
}


class MarkerError(ValueError):
    """A README section's markers are missing or repeated: nothing is rewritten."""


def _pattern(name: str) -> re.Pattern[str]:
    return re.compile(
        rf"(<!-- {re.escape(name)}:start\b[^\n]*-->\n)(.*?)(\n<!-- {re.escape(name)}:end -->)",
        re.S,
    )


def start_marker(name: str) -> str:
    """The opening marker, which also tells an editor where the text comes from."""
    return f"<!-- {name}:start ({render.GENERATED}) -->"


def section(readme: str, name: str) -> str:
    """The text between a section's markers."""
    found = _pattern(name).findall(readme)
    if len(found) != 1:
        raise MarkerError(f"README.md needs exactly one {name}:start/end marker pair")
    body: str = found[0][1]
    return body


def splice(readme: str, name: str, body: str) -> str:
    """`readme` with one section's text replaced (markers normalised, the rest unchanged)."""
    section(readme, name)  # exactly one pair, or MarkerError
    end = f"\n<!-- {name}:end -->"
    return _pattern(name).sub(lambda _: f"{start_marker(name)}\n{body}{end}", readme)


def stale(data: dict[str, Any], readme: str, results_md: str) -> list[str]:
    """Which documents differ from what `data` renders to (empty when all are current)."""
    found = []
    if results_md != render.results_md(data):
        found.append(str(RESULTS_MD.relative_to(PROJECT_ROOT)))
    for name, renderer in SECTIONS.items():
        try:
            current = section(readme, name)
        except MarkerError as error:
            found.append(str(error))
            continue
        if current != renderer(data) or start_marker(name) not in readme:
            found.append(f"README.md section {name}")
    return found


def write(data: dict[str, Any]) -> list[Path]:
    """Rewrite what differs; the README is read just before it is written (others edit it)."""
    written = []
    text = render.results_md(data)
    if not RESULTS_MD.exists() or RESULTS_MD.read_text(encoding="utf-8") != text:
        RESULTS_MD.write_text(text, encoding="utf-8")
        written.append(RESULTS_MD)
    readme = README.read_text(encoding="utf-8")
    updated = readme
    for name, renderer in SECTIONS.items():
        updated = splice(updated, name, renderer(data))
    if updated != readme:
        README.write_text(updated, encoding="utf-8")
        written.append(README)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.publish", description=__doc__)
    parser.add_argument("--check", action="store_true", help="only report stale documents")
    parser.add_argument("--results", type=Path, default=record.RESULTS_FILE)
    args = parser.parse_args(argv)
    try:
        data = record.load(args.results)
    except (OSError, ValueError) as error:
        print(f"cannot publish: {error}", file=sys.stderr)
        return 2
    if args.check:
        readme = README.read_text(encoding="utf-8")
        current = RESULTS_MD.read_text(encoding="utf-8") if RESULTS_MD.exists() else ""
        found = stale(data, readme, current)
        for item in found:
            print(f"stale: {item} (run python -m bench.publish)", file=sys.stderr)
        return 1 if found else 0
    try:
        written = write(data)
    except MarkerError as error:
        print(f"cannot publish: {error}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path.relative_to(PROJECT_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
