"""Keeps the command's garbage collector off the heap of modules it imports.

Importing dlt, DuckDB and httpx leaves about 86,000 objects the collector tracks, all of which
live until the process ends: modules, classes, configuration specs. CPython's collector,
triggered by allocations, walked them again and again: 0.1 s of collections during the imports,
and as much again during a 5,000-insight load (0.35 s of a 30,000-insight one), mostly full
collections walking the same imported heap. The command (`pipelines/insights.py`, not the
library) therefore

* imports with the collector paused, which creates almost no garbage (a collection right after
  the imports finds 591 unreachable objects);
* then freezes what it imported into the permanent generation, out of every later collection's
  reach, and resumes collecting, so what the run allocates is collected as usual (collections
  during that 5,000-insight load: 0.035 s);
* freezes the heap again before exiting, so the interpreter's last collection at shutdown
  (0.22-0.29 s, freeing nothing the operating system does not reclaim anyway) has nothing to
  walk; modules are still torn down, files closed and `atexit` handlers run.

A library caller's process is untouched: `imports_done` only resumes collections that
`pause_collections_for_imports` paused.
"""

from __future__ import annotations

import gc

_paused = False


def pause_collections_for_imports() -> None:
    """Stop automatic collections until `imports_done`."""
    global _paused  # noqa: PLW0603 - one process-wide switch, like the collector it drives
    if gc.isenabled():
        gc.disable()
        _paused = True


def imports_done() -> None:
    """Freeze everything imported so far and resume the collections paused for the imports."""
    global _paused  # noqa: PLW0603
    if _paused:
        gc.freeze()
        gc.enable()
        _paused = False


def skip_the_final_collection() -> None:
    """Exempt every object alive now from the collection the interpreter runs at shutdown."""
    gc.freeze()
