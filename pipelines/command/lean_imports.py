"""Keeps pandas and numpy out of a scheduled run into a destination that never uses them.

DuckDB's and pyarrow's bindings import pandas, when it is installed, the first time a query has
a parameter or an Arrow column is built from Python objects, only to check whether a value is a
pandas object. That import costs 0.3-0.9 s, more than a scheduled run with nothing new spends on
everything else, and data engineers' environments usually have pandas. pyarrow likewise imports
numpy, when installed, as it loads (about 0.1 s, more than its own import), so that it can
convert numpy arrays. The connector builds Arrow from Python lists and never hands pyarrow,
DuckDB or dlt a pandas or numpy object, so while the command runs, both look uninstalled to
them; a run that loads rows imports pyarrow in a third less time and builds its tables faster
(pyarrow then skips its per-value numpy checks). dlt's one numpy path for such a run, turning
UUID columns into text, has a pure-Python fallback, and the connector has no UUID columns.

Only for the destinations the command is tested with (`LEAN_DESTINATIONS`: DuckDB, PostgreSQL
and the filesystem, whose loads `tests/test_lean_imports.py` runs with both hidden); any other
destination's client may want pandas, and keeps it. Only the command line does this (see
`pipelines/insights.py`): both bindings remember "no pandas" for the rest of the process, which
would surprise code that imports the runner and later wants `.df()`. A process that already
imported pandas or numpy keeps it.
"""

from __future__ import annotations

import importlib.abc
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Final

UNUSED_BY_THE_RUN: Final = ("pandas", "numpy")
LEAN_DESTINATIONS: Final = frozenset({"duckdb", "postgres", "filesystem"})


class HiddenModules(importlib.abc.MetaPathFinder):
    """A finder that answers "not installed" for the hidden modules and their submodules."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = frozenset(names)

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None = None,  # noqa: ARG002 - the finder protocol's signature
        target: ModuleType | None = None,  # noqa: ARG002
    ) -> ModuleSpec | None:
        """Refuse a hidden module (and its submodules); leave everything else to the others."""
        if any(fullname == name or fullname.startswith(f"{name}.") for name in self.names):
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        return None


def hide_unused_modules(
    destination: str, names: Sequence[str] = UNUSED_BY_THE_RUN
) -> HiddenModules | None:
    """Hide `names` for the rest of this process when loading into `destination`.

    None, hiding nothing, for a destination outside `LEAN_DESTINATIONS` or when every name is
    imported already.
    """
    if destination not in LEAN_DESTINATIONS:
        return None
    hidden = [name for name in names if name not in sys.modules]
    if not hidden:
        return None
    finder = HiddenModules(hidden)
    sys.meta_path.insert(0, finder)
    return finder
