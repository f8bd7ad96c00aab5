"""A pipeline working folder that a kill left half deleted is dropped, and the run starts over.

dlt wipes a pipeline's working folder (`shutil.rmtree`) when its restore finds local data but no
dataset at the destination (`Pipeline.sync_destination`), which is what a first run killed
after its extraction leaves: a load package, a state naming the schema, an empty DuckDB file or
no schema on PostgreSQL. `rmtree` deletes entry by entry in directory order, which on ext4 put
`schemas/` first and `state.json` after the load packages: the next run, killed during that
wipe, leaves a state naming a schema the folder no longer holds (or a load folder without its
subfolders). dlt cannot open that again: its restore, handling the missing
`_dlt_pipeline_state` table, looks for the schema and fails, and so does every later run
(`error: CatalogException: ... "opencx._dlt_pipeline_state" does not exist because schema
"opencx" does not exist`, the exception it was handling). A folder left without `state.json` is
no problem: dlt wipes such a folder itself when it opens it.

Nothing in such a folder is worth keeping: it was being wiped because the destination has no
dataset, and the data of its packages is fetched again from the cursor the destination gives.
So it is dropped (`Pipeline.drop`, dlt's own reset) and the run goes on as on a fresh machine,
restoring what the destination holds. A repair owed by a resumed load stays owed.
"""

from __future__ import annotations

import logging

from dlt import Pipeline

from pipelines.load.owed_repair import owe_repair, owed_mark

logger = logging.getLogger(__name__)


def drop_if_half_wiped(pipeline: Pipeline) -> Pipeline:
    """`pipeline`, reset by `Pipeline.drop` first if its working folder is half wiped."""
    if not half_wiped(pipeline):
        return pipeline
    logger.warning(
        "the working folder of pipeline %s was left half deleted by a killed run; starting "
        "it over from what the destination holds",
        pipeline.pipeline_name,
    )
    repair_owed = owed_mark(pipeline).exists()
    pipeline = pipeline.drop()
    if repair_owed:
        owe_repair(pipeline)
    return pipeline


def half_wiped(pipeline: Pipeline) -> bool:
    """Whether the local state names a schema the folder lacks, or its packages cannot be listed.

    What an interrupted `rmtree` of the folder leaves while `state.json` survives.
    """
    named = [*pipeline.schema_names, pipeline.default_schema_name]
    if any(name and name not in pipeline.schemas for name in named):
        return True
    try:
        pipeline.list_extracted_load_packages()
        pipeline.list_normalized_load_packages()
        pipeline.list_completed_load_packages()
    except FileNotFoundError:
        return True
    return False
