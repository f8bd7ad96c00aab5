r"""Table, view and column comments on DuckDB and PostgreSQL, from the documented descriptions.

A BI tool, dbt's docs, `\d+` in psql and DuckDB's `duckdb_columns()` show a relation's and a
column's comment, so the meaning of every column travels with the data. The text is the one
definition the dlt hints and the data dictionary use: `sources.opencx.schema` for the tables
(and for fields the API added later), `sources.opencx.views` for the views, and dlt's own
definitions for its tables (`_dlt_loads`, `_dlt_version`, `_dlt_pipeline_state`).

Comments change only with the dataset's shape, so all of them are set when it may have changed:
the dlt schema, the descriptions or the location differ from what this pipeline commented last
(kept in its local state, never sent to the destination). DuckDB's `CREATE OR REPLACE VIEW`
drops a view's comments, so there the views' are set again whenever the views were replaced
(after every run that loaded). A scheduled run with nothing new does neither and does not open
the destination for them. A run's comments are set in one transaction, in as few round trips
as dlt's SQL client can batch them.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from dlt import Pipeline
from dlt.common.schema import Schema
from dlt.common.schema.typing import TTableSchema
from dlt.common.schema.utils import loads_table, pipeline_state_table, version_table

from sources.opencx import schema
from sources.opencx.views import VIEWS

# pipeline local-state key: digest of what this pipeline's comments were last set from
COMMENTS_STATE_KEY = "opencx_comments"
# destinations whose COMMENT syntax is tested (MotherDuck speaks DuckDB)
COMMENTED_DESTINATIONS = frozenset(
    {"dlt.destinations.duckdb", "dlt.destinations.motherduck", "dlt.destinations.postgres"}
)
# DuckDB's `CREATE OR REPLACE VIEW` drops the view's comments; PostgreSQL's keeps them
VIEW_COMMENTS_DROPPED_ON_REPLACE = frozenset(
    {"dlt.destinations.duckdb", "dlt.destinations.motherduck"}
)
_VIEWS = {view.name: view for view in VIEWS}


def comment_dataset(pipeline: Pipeline, *, views_replaced: bool, where: str = "") -> str:
    """Set the comments that may be stale; returns which: "all", "views" or "" (none).

    All of them when the dlt schema, the descriptions or the location changed since this
    pipeline last set them (the dataset's relations and columns listed by the database);
    otherwise, after `views_replaced` on a destination that drops a replaced view's comments,
    the views' (their declared columns). `where` names the database (the DuckDB file).
    """
    destination = pipeline.destination
    if destination is None or destination.destination_type not in COMMENTED_DESTINATIONS:
        return ""
    if pipeline.default_schema_name is None:  # nothing was ever loaded
        return ""
    digest = _digest(pipeline, where)
    if _recorded_digest(pipeline) != digest:
        with pipeline.sql_client() as client:
            columns = _columns_by_relation(client, pipeline.dataset_name)
            _execute(client, _comment_statements(client, pipeline.default_schema, columns))
        pipeline.set_local_state_val(COMMENTS_STATE_KEY, digest)
        return "all"
    if views_replaced and destination.destination_type in VIEW_COMMENTS_DROPPED_ON_REPLACE:
        declared = {view.name: [column.name for column in view.columns] for view in VIEWS}
        with pipeline.sql_client() as client:
            _execute(client, _comment_statements(client, pipeline.default_schema, declared))
        return "views"
    return ""


def _execute(client: Any, statements: Iterable[str]) -> None:
    """All `statements` in one transaction, in as few round trips as dlt's client can."""
    with client.begin_transaction():
        client.execute_many(list(statements))


def relation_comment(name: str) -> tuple[str, str] | None:
    """What kind of relation `name` is (TABLE or VIEW) and its comment; None if not ours."""
    if name in schema.TABLE_DESCRIPTIONS:
        return "TABLE", schema.TABLE_DESCRIPTIONS[name]
    if name in _VIEWS:
        return "VIEW", _VIEWS[name].meaning
    if name in _dlt_tables():
        return "TABLE", str(_dlt_tables()[name].get("description"))
    return None


def column_comment(relation: str, column: str, dlt_schema: Schema) -> str | None:
    """The comment of `column` of `relation`; None where there is nothing to say.

    A data table's columns dlt added on its own (`_dlt_id`, when a user has dlt add it) take
    the description dlt's schema gives them.
    """
    documented = _documented_columns().get(relation, {})
    if column in documented:
        return documented[column]
    if relation in schema.TABLE_DESCRIPTIONS and not column.startswith("_dlt"):
        return schema.UNDOCUMENTED_FIELD_DESCRIPTION
    table = _dlt_tables().get(relation) or dlt_schema.tables.get(relation) or {}
    description = table.get("columns", {}).get(column, {}).get("description")
    return str(description) if description else None


def _comment_statements(
    client: Any, dlt_schema: Schema, columns: Mapping[str, list[str]]
) -> Iterator[str]:
    literal = client.capabilities.escape_literal
    for relation, names in columns.items():
        described = relation_comment(relation)
        if described is None:
            continue
        kind, text = described
        qualified = client.make_qualified_table_name(relation)
        yield f"COMMENT ON {kind} {qualified} IS {literal(text)}"
        for name in names:
            comment = column_comment(relation, name, dlt_schema)
            if comment is not None:
                column = f"{qualified}.{client.escape_column_name(name)}"
                yield f"COMMENT ON COLUMN {column} IS {literal(comment)}"


def _columns_by_relation(client: Any, dataset: str) -> dict[str, list[str]]:
    """The dataset's tables and views with their columns, as the database lists them."""
    literal = dataset.replace("'", "''")
    rows = client.execute_sql(
        "SELECT table_name, column_name FROM information_schema.columns "  # noqa: S608
        f"WHERE table_schema = '{literal}' AND table_catalog = current_database() "
        "ORDER BY table_name, ordinal_position"
    )
    columns: dict[str, list[str]] = {}
    for relation, column in rows or []:
        columns.setdefault(relation, []).append(column)
    return columns


@functools.cache
def _dlt_tables() -> dict[str, TTableSchema]:
    """The tables dlt keeps in every dataset, as dlt defines them (descriptions included)."""
    tables = (loads_table(), version_table(), pipeline_state_table(add_dlt_id=True))
    return {str(table.get("name")): table for table in tables}


@functools.cache
def _documented_columns() -> dict[str, dict[str, str]]:
    """Each documented table's and view's column descriptions."""
    described = {table: schema.described_columns(table) for table in schema.TABLE_COLUMNS}
    described.update({view.name: view.columns for view in VIEWS})
    return {
        relation: {column.name: column.description for column in columns}
        for relation, columns in described.items()
    }


def _digest(pipeline: Pipeline, where: str) -> str:
    """What the comments depend on: the location, the dlt schema and the descriptions."""
    digest = hashlib.sha256()
    destination = pipeline.destination
    parts = (
        destination.destination_type if destination is not None else "",
        where,
        pipeline.dataset_name,
        pipeline.default_schema.version_hash,
        _descriptions_digest(),
    )
    for part in parts:
        digest.update(f"{part}\0".encode())
    return digest.hexdigest()


@functools.cache
def _descriptions_digest() -> str:
    texts = [
        repr(sorted(schema.TABLE_DESCRIPTIONS.items())),
        repr(sorted(_documented_columns().items())),
        schema.UNDOCUMENTED_FIELD_DESCRIPTION,
        *(f"{view.name}\0{view.meaning}" for view in VIEWS),  # columns: _documented_columns
    ]
    return hashlib.sha256("\0".join(texts).encode()).hexdigest()


def _recorded_digest(pipeline: Pipeline) -> str | None:
    try:
        value = pipeline.get_local_state_val(COMMENTS_STATE_KEY)
    except KeyError:
        return None
    return value if isinstance(value, str) else None
