"""Remembers that a resumed load owes its repair until the repair has run.

A resumed load can copy a file into staging twice (see `sources.opencx.repair`), so the repair
is owed from the moment a run starts resuming a package until the repair has run. A run killed
in between leaves no package pending, so the debt must be written down before the resume.

Not in dlt's local state: dlt rewinds that to the package's start when the package aborts (a
terminal job failure with `load.auto_abort_on_terminal_error`, or `dlt pipeline <name>
abort-packages`), which is from before the debt. The mark is a file of its own in the pipeline's
working folder instead, which dlt never rewrites: written before the resume, removed only after
the repair ran. A kill anywhere in between leaves it for the next run; a kill after the repair
and before the removal only repeats a repair that finds nothing.

The folder is where the debt comes from: the pending package lives there, so a worker whose
folder is lost (or `dlt pipeline <name> drop`) loses the package and its resumption with it.
A mark in the destination would also survive a folder lost between the resumed load and its
repair, but every run would have to query it (a connection on PostgreSQL), and the dataset
would hold a table dlt does not know.
"""

from __future__ import annotations

from pathlib import Path

from dlt.pipeline.pipeline import Pipeline

from sources.opencx.repair import dedupe_after_resumed_load

# in the pipeline's working folder, beside its state and load packages
OWED_MARK = "opencx_repair_owed"
_MARK_TEXT = "A resumed load's duplicate repair is owed; the next run of the pipeline runs it.\n"


def owe_repair(pipeline: Pipeline) -> None:
    """Record, before resuming a load package, that its repair is owed."""
    owed_mark(pipeline).write_text(_MARK_TEXT, encoding="utf-8")


def repair_if_owed(pipeline: Pipeline) -> dict[str, int] | None:
    """Run the repair a resumed load owes (None if none is owed), then clear the debt."""
    mark = owed_mark(pipeline)
    if not mark.exists():
        return None
    removed = dedupe_after_resumed_load(pipeline)
    mark.unlink(missing_ok=True)
    return removed


def owed_mark(pipeline: Pipeline) -> Path:
    """The file whose presence says the repair is owed."""
    return Path(pipeline.working_dir) / OWED_MARK
