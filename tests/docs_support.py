"""The documents as a user reads them: the README and the pages of docs/, by name and section.

A check of documented behaviour reads the page that documents it, so when a section moves to
another page its check moves with it and keeps reading the text users see.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"

HEADING = re.compile(r"^(#{1,6}) +(.+?) *#* *$")
FENCE = re.compile(r"^ *(```|~~~)")


def doc_path(name: str) -> Path:
    """`README`, or a page of docs/ by its stem (`operations` is docs/operations.md)."""
    return README if name == "README" else DOCS / f"{name}.md"


def read_doc(name: str) -> str:
    return doc_path(name).read_text(encoding="utf-8")


def every_doc() -> list[Path]:
    """The README and every page of docs/."""
    return [README, *sorted(DOCS.glob("*.md"))]


def without_code_blocks(text: str) -> list[str]:
    """The lines of `text` outside fenced code blocks (a `# comment` in a block is no heading)."""
    lines, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def headings(text: str) -> list[tuple[int, str]]:
    """Each heading's level and title, in order, outside code blocks."""
    found = [HEADING.match(line) for line in without_code_blocks(text)]
    return [(len(match[1]), match[2]) for match in found if match]


def section(name: str, title: str) -> str:
    """The text under the heading `title` of doc `name`, subsections included, up to the next
    heading of the same or a higher level."""
    lines = read_doc(name).splitlines(keepends=True)
    start, level, fenced = None, 0, False
    for number, line in enumerate(lines):
        if FENCE.match(line):
            fenced = not fenced
        match = None if fenced else HEADING.match(line.rstrip("\n"))
        if match is None:
            continue
        if start is not None and len(match[1]) <= level:
            return "".join(lines[start:number])
        if start is None and match[2] == title:
            start, level = number + 1, len(match[1])
    assert start is not None, f"{doc_path(name).relative_to(ROOT)} has no heading {title!r}"
    return "".join(lines[start:])
