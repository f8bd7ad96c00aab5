"""The data dictionary's section on the dashboard views, written from their declarations.

docs/data-dictionary.md carries this text between two markers; `python -m
sources.opencx.dictionary` rewrites it and a test keeps the page equal to it, so a view's
description is edited in one place (sources/opencx/views.py) and reaches the docs, the
database comments and dbt's yml alike.
"""

from __future__ import annotations

from pathlib import Path

from sources.opencx.views import VIEWS, View

BEGIN = (
    "<!-- views: written by `python -m sources.opencx.dictionary` from sources/opencx/views.py -->"
)
END = "<!-- views: end -->"
PAGE = Path(__file__).resolve().parents[2] / "docs" / "data-dictionary.md"


def views_section() -> str:
    """The overview table, then each view's columns."""
    lines = [
        "| view | grain | natural key | meaning |",
        "|---|---|---|---|",
        *(f"| `{view.name}` | {view.grain} | {_key(view)} | {view.meaning} |" for view in VIEWS),
    ]
    for view in VIEWS:
        lines += ["", f"#### `{view.name}`", "", "| column | type | description |", "|---|---|---|"]
        lines += [f"| `{c.name}` | {c.data_type} | {c.description} |" for c in view.columns]
    return "\n".join(lines)


def _key(view: View) -> str:
    return ", ".join(f"`{name}`" for name in view.key) or "(one row)"


def rewrite(page: str) -> str:
    """The page with the text between the markers replaced by `views_section()`."""
    head, rest = page.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{views_section()}\n{END}{tail}"


def main() -> None:
    """Rewrite the page in place."""
    PAGE.write_text(rewrite(PAGE.read_text(encoding="utf-8")), encoding="utf-8")


if __name__ == "__main__":
    main()
