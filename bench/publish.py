"""``python -m bench.publish``: write the documents' benchmark text from ``bench/results.json``.

    python -m bench.publish            # rewrite bench/RESULTS.md and docs/performance.md's sections
    python -m bench.publish --check    # exit 1, naming them, if any differs from the results file

No benchmark figure in the documents is typed by hand: ``bench/RESULTS.md`` is rendered whole,
and the sections of ``docs/performance.md`` between ``<!-- NAME:start ... -->`` and
``<!-- NAME:end -->`` markers are replaced, leaving the rest of the page untouched.
``tests/test_bench_figures.py`` runs the same comparison as ``--check``.
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

PERFORMANCE_MD = PROJECT_ROOT / "docs" / "performance.md"
_PAGE_NAME = "docs/performance.md"  # as messages name it
RESULTS_MD = PROJECT_ROOT / "bench" / "RESULTS.md"
# section name in docs/performance.md -> its renderer.
SECTIONS: dict[str, Callable[[dict[str, Any]], str]] = {
    "bench": render.benchmarks_section,
    "bench-loader-formats": render.loader_formats_section,
}


class MarkerError(ValueError):
    """A section's markers are missing or repeated in docs/performance.md: nothing is rewritten."""


def _pattern(name: str) -> re.Pattern[str]:
    return re.compile(
        rf"(<!-- {re.escape(name)}:start\b[^\n]*-->\n)(.*?)(\n<!-- {re.escape(name)}:end -->)",
        re.S,
    )


def start_marker(name: str) -> str:
    """The opening marker, which also tells an editor where the text comes from."""
    return f"<!-- {name}:start ({render.GENERATED}) -->"


def section(page: str, name: str) -> str:
    """The text between a section's markers."""
    found = _pattern(name).findall(page)
    if len(found) != 1:
        raise MarkerError(f"{_PAGE_NAME} needs exactly one {name}:start/end marker pair")
    body: str = found[0][1]
    return body


def splice(page: str, name: str, body: str) -> str:
    """`page` with one section's text replaced (markers normalised, the rest unchanged)."""
    section(page, name)  # exactly one pair, or MarkerError
    end = f"\n<!-- {name}:end -->"
    return _pattern(name).sub(lambda _: f"{start_marker(name)}\n{body}{end}", page)


def stale(data: dict[str, Any], page: str, results_md: str) -> list[str]:
    """Which documents differ from what `data` renders to (empty when all are current)."""
    found = []
    if results_md != render.results_md(data):
        found.append(str(RESULTS_MD.relative_to(PROJECT_ROOT)))
    for name, renderer in SECTIONS.items():
        try:
            current = section(page, name)
        except MarkerError as error:
            found.append(str(error))
            continue
        if current != renderer(data) or start_marker(name) not in page:
            found.append(f"{_PAGE_NAME} section {name}")
    return found


def write(data: dict[str, Any]) -> list[Path]:
    """Rewrite what differs; the page is read just before it is written (others edit it)."""
    written = []
    text = render.results_md(data)
    if not RESULTS_MD.exists() or RESULTS_MD.read_text(encoding="utf-8") != text:
        RESULTS_MD.write_text(text, encoding="utf-8")
        written.append(RESULTS_MD)
    page = PERFORMANCE_MD.read_text(encoding="utf-8")
    updated = page
    for name, renderer in SECTIONS.items():
        updated = splice(updated, name, renderer(data))
    if updated != page:
        PERFORMANCE_MD.write_text(updated, encoding="utf-8")
        written.append(PERFORMANCE_MD)
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
        page = PERFORMANCE_MD.read_text(encoding="utf-8")
        current = RESULTS_MD.read_text(encoding="utf-8") if RESULTS_MD.exists() else ""
        found = stale(data, page, current)
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
