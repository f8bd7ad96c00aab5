"""dlt's staging dataset is dropped once a run's loads completed: readers see only the dataset.

dlt merges (and runs scd2) by copying each load file into a table of a second dataset,
`<dataset>_staging` (the destination's `staging_dataset_name_layout`), and keeps that dataset
between loads with the last copy of every merged table in it. BI tools and dbt list it beside
the dataset, rows and all. dlt can only empty its tables after a load
(`load.truncate_staging_dataset`), which leaves the schema and its tables in every catalog, so
the connector drops the whole dataset with dlt's own `drop_dataset`, on the SQL client pointed at
it by `with_staging_dataset()` (what dlt's maintainers advise, dlt-hub/dlt#1961). The next load
that merges creates it again as a first load does: dlt finds no schema version in a staging
dataset that is gone, and creates the dataset and the tables it needs.

Never while a load package is pending: a killed load resumes from what its jobs already copied
into staging, and dlt does not create staging tables again for a package whose schema update it
applied. So the drop comes last, after the run's loads, resumed and new, completed.

A kill after a load completed and before the drop must not leave the copy for good, even if the
next run loads nothing. The drop is owed from before the run's loads (a mark in the pipeline's
working folder, beside `pipelines.load.owed_repair`'s) until it is done; a run that finds the
mark left by an earlier one drops too. A run that loads nothing and owes nothing does not touch
the destination for it: it writes and removes the mark, locally. A run that loads pays one
`DROP SCHEMA ... CASCADE` after its load and, on its next load, dlt's `CREATE SCHEMA` and
`CREATE TABLE` of the staging tables, which it skipped while the dataset was kept.

dlt's filesystem destination has no staging dataset: nothing is done there.
"""

from __future__ import annotations

import logging
from pathlib import Path

from dlt import Pipeline
from dlt.destinations.exceptions import DatabaseException, DatabaseUndefinedRelation

from sources.opencx.internals import runs_sql

logger = logging.getLogger(__name__)
# in the pipeline's working folder, beside its state and load packages
OWED_MARK = "opencx_staging_drop_owed"
# pipeline local-state key: this working folder has settled the staging dataset once. A folder
# without it (a first run on this machine, a stateless worker, a folder dlt wiped and restored
# from the destination) cannot know what an earlier, killed run left: it owes the drop.
SETTLED_KEY = "opencx_staging_settled"
_MARK_TEXT = "The staging dataset may hold a load's copy; the next run of the pipeline drops it.\n"


def owe_staging_drop(pipeline: Pipeline) -> bool:
    """Record, before the run loads, that the staging dataset is to be dropped.

    Returns whether an earlier run already owed the drop (it was killed or failed before it), or
    this working folder never settled it (a kill's leftovers would be unknown to it).
    """
    if not runs_sql(pipeline.destination):
        return False
    mark = owed_mark(pipeline)
    if mark.exists():
        return True
    mark.write_text(_MARK_TEXT, encoding="utf-8")
    return not _settled_here(pipeline)


def drop_staging_if_owed(pipeline: Pipeline, owed: bool, notes: list[str] | None = None) -> bool:
    """Drop the staging dataset if `owed` (the run loaded, or an earlier run owed the drop).

    Call after the run's loads; the mark goes once nothing is owed any more. With a load package
    still pending (a failed run's, which the next run resumes) nothing is dropped and the drop
    stays owed. A drop the database refuses (a loader allowed to write the staging tables but
    not to drop their schema) is a note in `notes`, not a failed run: the load committed, and
    the next run that loads tries again. Returns whether the dataset was dropped.
    """
    if not runs_sql(pipeline.destination):
        return False
    dropped = False
    if owed:
        if pipeline.has_pending_data:
            return False
        dropped = _drop_staging_dataset(pipeline, notes)
    if Path(pipeline.working_dir).is_dir() and not _settled_here(pipeline):
        # (a folder already removed, as Airflow's task group removes its own, has no state)
        pipeline.set_local_state_val(SETTLED_KEY, True)
    owed_mark(pipeline).unlink(missing_ok=True)
    return dropped


def _settled_here(pipeline: Pipeline) -> bool:
    try:
        return bool(pipeline.get_local_state_val(SETTLED_KEY))
    except KeyError:
        return False


def _drop_staging_dataset(pipeline: Pipeline, notes: list[str] | None) -> bool:
    """Drop the pipeline's staging dataset; False if there was none or it could not be dropped."""
    with pipeline.sql_client() as client, client.with_staging_dataset():
        try:
            client.drop_dataset()
        except DatabaseUndefinedRelation:
            return False
        except DatabaseException as exc:
            logger.warning("could not drop the staging dataset %s: %s", client.dataset_name, exc)
            if notes is not None:
                notes.append(f"staging dataset {client.dataset_name} not dropped: {exc}")
            return False
    return True


def owed_mark(pipeline: Pipeline) -> Path:
    """The file whose presence says the drop is owed."""
    return Path(pipeline.working_dir) / OWED_MARK
