"""The dashboard views as tables of the dlt schema, so `pipeline.dataset()` reads them.

dlt's dataset reader knows a relation only through the pipeline's dlt schema: `ds.<name>`
looks the name up in the schema's tables, and `ds("SELECT ...")` resolves every table and
column against it (sqlglot lineage, `SELECT *` expanded from the schema's columns). The views
that `views.create_views` makes after each load were unknown to it, so `ds.top_insights_7d`
was "not found" and `SELECT rank FROM top_insights_7d` failed with "could not be resolved".

Each view is declared here as a table of the source's schema, with the columns `views.py`
declares for it (names, dlt types, nullability, descriptions) and its meaning as the table's
description; `tests/test_dataset_views.py` compares the schema's columns with the ones the
destination reports for the view. dlt 1.31's loader, drop command and refresh modes create,
alter, truncate and drop only tables that received data (the normalizer marks them
`seen-data`), and a view never receives data: dlt only records the declaration, and the schema
it stores with each load carries it, so a reader without the pipeline (`dlt.dataset(...)`)
knows the views too. (`pipeline.sync_schema()`, which a run never calls, migrates every table
of the schema: it finds each view with its declared columns and changes nothing.)

The price: dlt 1.31 re-reads and re-hashes the source's schema about a hundred times in every
run, and the views' columns double it, so a scheduled run with nothing new costs some 14 ms more
CPU (no destination access). A second schema of the pipeline holding only the views would not
cost that, but dlt then lists it in the state it stores, and every run on a machine without the
working folder warns that the destination lacks it (and `dlt.dataset()` without the pipeline
would not know the views).
"""

from __future__ import annotations

from typing import Any

from dlt.common.destination import Destination
from dlt.common.schema.typing import TTableSchema
from dlt.common.schema.utils import new_table
from dlt.sources import DltSource

from sources.opencx import views
from sources.opencx.internals import runs_sql
from sources.opencx.schema import dlt_column


def declare_views(source: DltSource, destination: Destination[Any, Any] | None) -> None:
    """Declare every view as a table of `source`'s schema, where the views are created.

    Destinations without SQL views (dlt's filesystem) get no declaration: there `ds.<view>`
    would name a table that does not exist.
    """
    if not runs_sql(destination):
        return
    for table in view_tables():
        source.schema.update_table(table)


def view_tables() -> list[TTableSchema]:
    """The views as dlt tables: their declared columns, and their meaning as description."""
    tables = []
    for view in views.VIEWS:
        table = new_table(view.name, columns=[dlt_column(column) for column in view.columns])
        table["description"] = view.meaning
        tables.append(table)
    return tables
