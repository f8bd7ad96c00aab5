"""What the source tells dlt about its tables on top of each resource's decorator, per run.

- Each table's description, a dlt table hint (`schema.TABLE_DESCRIPTIONS`); dlt's resource
  decorators take column descriptions but no table description.
- `_dlt_load_id` on every row, when dlt's parquet normalizer is set to add it to Arrow rows
  (``normalize.parquet_normalizer.add_dlt_load_id``, which the connector's runs turn on unless
  the user set it: `pipelines.load.run_defaults.load_id_on_every_row`). dlt fills the column
  in; the source declares it, nullable, and gives the rows the column, empty, after their own:

  * nullable, because dlt's own definition is NOT NULL, which neither DuckDB nor PostgreSQL can
    add to a table that already holds rows (a table loaded before the column existed);
  * in the rows, so the history's validity columns follow it whether the first load appends
    or merges (`pipelines.load.first_load`), and dlt finds the declared column in the data;
  * only when dlt fills it: a declared column missing from the rows fails PostgreSQL's COPY.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from dlt.common.configuration import known_sections, resolve_configuration
from dlt.normalize.configuration import ItemsNormalizerConfiguration
from dlt.sources import DltResource

from sources.opencx import schema

LOAD_ID_KEY = "normalize.parquet_normalizer.add_dlt_load_id"
_PARQUET_NORMALIZER = (known_sections.NORMALIZE, "parquet_normalizer")


def load_id_added() -> bool:
    """Whether dlt adds `_dlt_load_id` to Arrow rows, resolved as dlt's extraction does."""
    config = resolve_configuration(ItemsNormalizerConfiguration(), sections=_PARQUET_NORMALIZER)
    return bool(config.add_dlt_load_id)


def describe_tables(resources: Iterable[DltResource], *, load_id: bool) -> None:
    """Give each table resource its description, and `_dlt_load_id` if dlt adds it.

    `load_id`: what `load_id_added` said when the source was built.
    """
    for resource in resources:
        description = schema.TABLE_DESCRIPTIONS.get(resource.name)
        if description is None:
            continue  # the scan: it feeds the tables and has none of its own
        resource.apply_hints(additional_table_hints={"description": description})
        if load_id:
            resource.apply_hints(columns=schema.load_id_hint())
            resource.add_map(_with_load_id_column)


def _with_load_id_column(rows: Any) -> Any:
    from sources.opencx.rows import with_load_id_column  # noqa: PLC0415 - imports pyarrow

    return with_load_id_column(rows)
