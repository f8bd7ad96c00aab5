"""Keeps pandas, numpy (and httpx's own command line) out of a scheduled run that never uses them.

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

Only the command line does this (see `pipelines/insights.py`): both bindings remember "no pandas"
for the rest of the process, which would surprise code that imports the runner and later wants
`.df()`. A process that already imported pandas keeps it.

httpx imports its command-line client (rich, click, pygments: about 40 ms) whenever those happen
to be installed, and falls back to a stub when the import fails; the connector never runs it.

dlt's runtime set-up imports its `requests` helper (`dlt.sources.helpers.requests`) on every
run, only to hand the default `requests` client the runtime's timeout and retry settings. That
pulls in requests, urllib3 and charset_normalizer (35-50 ms) for a client the connector never
calls: it talks to the API through httpx. The command puts a stand-in in its place
(`defer_dlt_requests`) that keeps the settings it is given and imports the real helper, applying
them, the first time anything else is asked of it, so code that does use dlt's helper still gets
the module and the configuration it would have had.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import threading
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType
from typing import Any

UNUSED_BY_THE_RUN = ("pandas", "numpy", "httpx._main")


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


def hide_unused_modules(names: Sequence[str] = UNUSED_BY_THE_RUN) -> HiddenModules | None:
    """Hide `names` from imports for the rest of this process; None if all are imported."""
    hidden = [name for name in names if name not in sys.modules]
    if not hidden:
        return None
    finder = HiddenModules(hidden)
    sys.meta_path.insert(0, finder)
    return finder


DLT_REQUESTS = "dlt.sources.helpers.requests"


class DeferredModule(ModuleType):
    """Stands in for a module whose only use is one `init(config)` call, until it is needed.

    `init` is remembered (the last call wins, as each replaces the settings); any other
    attribute imports the real module, replays `init` on it, and from then on is the real
    module's, as is `sys.modules[name]`.
    """

    def __init__(self, name: str) -> None:
        super().__init__(name, f"Stand-in for {name}, imported when first used")
        self._lock = threading.Lock()
        self._config: tuple[Any, ...] | None = None
        self._real: ModuleType | None = None

    def init(self, *config: Any) -> None:
        """Keep the settings for the real module, or hand them over if it is loaded."""
        if self._real is not None:
            self._real.init(*config)
        else:
            self._config = config

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._load(), attribute)

    def _load(self) -> ModuleType:
        with self._lock:
            if self._real is None:
                if sys.modules.get(self.__name__) is self:
                    del sys.modules[self.__name__]
                real = importlib.import_module(self.__name__)
                if self._config is not None:
                    real.init(*self._config)
                self._real = real
            return self._real


def defer_dlt_requests() -> DeferredModule | None:
    """Put the stand-in where dlt imports its requests helper from; None if already imported."""
    if DLT_REQUESTS in sys.modules:
        return None
    dlt = importlib.util.find_spec("dlt")  # finds the package without importing it
    if dlt is None or not dlt.submodule_search_locations:
        return None
    deferred = DeferredModule(DLT_REQUESTS)
    # the helper is a package: its submodules (`.retry`, `.session`) import from its directory
    # and stay the ones the real package uses when it loads
    package_dir = Path(next(iter(dlt.submodule_search_locations)), *DLT_REQUESTS.split(".")[1:])
    deferred.__path__ = [str(package_dir)]
    sys.modules[DLT_REQUESTS] = deferred
    return deferred
