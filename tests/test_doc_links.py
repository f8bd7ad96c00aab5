"""Every relative link and `#anchor` in the README and docs/*.md leads somewhere: the file
exists and, for an anchor, so does the heading, as GitHub names it. Sections move between pages;
a link left pointing at the old place fails here instead of in a reader's browser."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from tests.docs_support import DOCS, README, every_doc, headings, without_code_blocks

LINK = re.compile(r"!?\[[^\]]*\]\(<?([^)\s>]+)>?(?: +\"[^\"]*\")?\)")
INLINE_CODE = re.compile(r"`[^`\n]*`")
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)  # https:, mailto:, ...


def github_anchor(title: str) -> str:
    """The anchor GitHub gives a heading: lower case, every character but letters, digits,
    `_`, `-` and spaces dropped, spaces turned into `-`."""
    return re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every heading's anchor; a repeated one gets `-1`, `-2`, ... as on GitHub."""
    seen: Counter[str] = Counter()
    found = set()
    for _, title in headings(text):
        anchor = github_anchor(title)
        found.add(f"{anchor}-{seen[anchor]}" if seen[anchor] else anchor)
        seen[anchor] += 1
    return found


def relative_links(text: str) -> list[str]:
    """The targets of the links and images outside code that point into the repository."""
    prose = INLINE_CODE.sub("", "\n".join(without_code_blocks(text)))
    return [target for target in LINK.findall(prose) if not EXTERNAL.match(target)]


def broken_links(doc: Path) -> list[str]:
    """`doc`'s relative links whose file or heading does not exist, as `doc: target`."""
    broken = []
    for target in relative_links(doc.read_text(encoding="utf-8")):
        path, _, anchor = target.partition("#")
        linked = (doc.parent / path).resolve() if path else doc
        if not linked.exists():
            broken.append(f"{doc.name}: {target} (no such file)")
        elif anchor and anchor not in anchors(linked.read_text(encoding="utf-8")):
            broken.append(f"{doc.name}: {target} (no such heading)")
    return broken


def test_every_relative_link_and_anchor_in_the_documents_resolves() -> None:
    assert [broken for doc in every_doc() for broken in broken_links(doc)] == []


def test_the_documents_have_links_to_check() -> None:
    texts = {doc.name: doc.read_text(encoding="utf-8") for doc in every_doc()}
    assert all(relative_links(text) for text in texts.values())
    assert any("#" in target for target in relative_links(texts[README.name]))


def test_a_missing_file_or_heading_is_reported(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Other\n\n## Run report (`--report-json`)\n")
    doc = tmp_path / "page.md"
    doc.write_text(
        "# Page\n\n## Present\n\n"
        "[ok](#present) [ok](other.md#run-report---report-json) [ok](other.md)\n"
        "[gone](#absent) [gone](other.md#present) [gone](missing.md)\n"
        "`[not a link](#in-code)`\n\n```md\n[not a link](#in-a-block)\n```\n"
    )
    assert broken_links(doc) == [
        "page.md: #absent (no such heading)",
        "page.md: other.md#present (no such heading)",
        "page.md: missing.md (no such file)",
    ]


def test_anchors_are_named_as_github_names_them() -> None:
    text = (
        "# Run report (`--report-json`)\n## The clock (`OPENCX_NOW`)\n"
        "## dlt's and DuckDB's internals\n## Notes\n## Notes\n```sh\n# not a heading\n```\n"
    )
    assert anchors(text) == {
        "run-report---report-json",
        "the-clock-opencx_now",
        "dlts-and-duckdbs-internals",
        "notes",
        "notes-1",
    }


def test_the_readme_links_every_page_of_docs() -> None:
    linked = {
        (README.parent / target.partition("#")[0]).resolve()
        for target in relative_links(README.read_text(encoding="utf-8"))
    }
    assert {page.resolve() for page in DOCS.glob("*.md")} <= linked


def test_every_docs_page_opens_with_its_title_and_a_purpose_paragraph() -> None:
    for page in DOCS.glob("*.md"):
        title, blank, purpose = page.read_text(encoding="utf-8").splitlines()[:3]
        assert title.startswith("# "), page.name
        assert blank == "", page.name
        assert purpose, page.name
        assert not purpose.startswith(("#", "-", "|", "`", "<")), page.name
