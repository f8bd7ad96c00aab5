"""The destinations the behaviour tests run on, and how a test reads what was loaded.

A test sees one interface whatever the warehouse: the dlt destination to load into, the command
line's settings for it, and SQL against the dataset (`search_path` set, so tables go
unqualified). Reads happen on a connection of their own, never the pipeline's, so they see
exactly what was committed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import dlt
import duckdb
import psycopg2
from dlt.common.destination import Destination

from sources.opencx.settings import DATASET_NAME

DATASET = DATASET_NAME
DUCKDB = "duckdb"
POSTGRES = "postgres"
Rows = list[tuple[Any, ...]]
TABLES_SQL = f"SELECT table_name FROM information_schema.tables WHERE table_schema = '{DATASET}'"
# schemas every DuckDB file or PostgreSQL database has before anything is loaded
DEFAULT_SCHEMAS = {"main", "public", "information_schema"}


class Warehouse(Protocol):
    """What a test needs of a destination."""

    @property
    def name(self) -> str:
        """`duckdb` or `postgres`: the parametrize id, and dlt's destination name."""
        ...

    def destination(self) -> Destination[Any, Any]:
        """The dlt destination a pipeline loads into."""
        ...

    def cli_settings(self) -> tuple[dict[str, str], list[str]]:
        """Environment and arguments that point `pipelines/insights.py` at this warehouse."""
        ...

    def execute(self, sql: str) -> tuple[list[str], Rows]:
        """Column names and rows of `sql`, run against the dataset."""
        ...

    def tables(self) -> set[str]:
        """Tables in the dataset; empty when nothing was ever committed."""
        ...


@dataclass(frozen=True)
class DuckDBWarehouse:
    """A DuckDB file, read read-only (as the docs tell readers to) unless told otherwise."""

    path: Path
    name: str = DUCKDB
    read_only: bool = True

    def destination(self) -> Destination[Any, Any]:
        return dlt.destinations.duckdb(str(self.path))

    def cli_settings(self) -> tuple[dict[str, str], list[str]]:
        return {"DESTINATION__DUCKDB__CREDENTIALS": str(self.path)}, []

    def execute(self, sql: str) -> tuple[list[str], Rows]:
        return self._run(sql, in_dataset=True)

    def tables(self) -> set[str]:
        if not self.path.exists():
            return set()
        _, rows = self._run(TABLES_SQL, in_dataset=False)  # the dataset may not exist yet
        return {row[0] for row in rows}

    def _run(self, sql: str, *, in_dataset: bool) -> tuple[list[str], Rows]:
        with duckdb.connect(str(self.path), read_only=self.read_only) as con:
            if in_dataset:
                con.execute(f"SET search_path = '{DATASET}'")
            cursor = con.execute(sql)
            return [d[0] for d in cursor.description], cursor.fetchall()


@dataclass(frozen=True)
class PostgresWarehouse:
    """A database of its own on the test PostgreSQL server."""

    dsn: str
    name: str = POSTGRES

    def destination(self) -> Destination[Any, Any]:
        return dlt.destinations.postgres(self.dsn)

    def cli_settings(self) -> tuple[dict[str, str], list[str]]:
        return {"DESTINATION__POSTGRES__CREDENTIALS": self.dsn}, ["--destination", POSTGRES]

    def execute(self, sql: str) -> tuple[list[str], Rows]:
        connection = psycopg2.connect(self.dsn)
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"SET search_path TO {DATASET}")
                cursor.execute(sql)
                return [d[0] for d in cursor.description or []], cursor.fetchall()
        finally:
            connection.rollback()  # a read: never commit anything
            connection.close()

    def tables(self) -> set[str]:
        _, rows = self.execute(TABLES_SQL)
        return {row[0] for row in rows}


def schemas_beside_the_dataset(warehouse: Warehouse) -> set[str]:
    """Schemas of the database a reader lists, other than the dataset and the defaults.

    Read from the database's catalog (`information_schema`), as BI tools and dbt read it.
    """
    _, rows = warehouse.execute(
        "SELECT schema_name FROM information_schema.schemata "
        "WHERE catalog_name = current_database()"
    )
    names = {str(name) for (name,) in rows}
    return {n for n in names if n not in DEFAULT_SCHEMAS | {DATASET} and not n.startswith("pg_")}


def rows_beside_the_dataset(warehouse: Warehouse) -> dict[str, int]:
    """Every table outside the dataset ("schema.table"), with its row count."""
    _, tables = warehouse.execute(
        "SELECT table_schema, table_name FROM information_schema.tables "
        "WHERE table_catalog = current_database() AND table_type = 'BASE TABLE' "
        f"AND table_schema NOT IN ('{DATASET}', 'information_schema', 'pg_catalog')"
    )
    return {
        f"{owner}.{table}": int(
            warehouse.execute(f'SELECT COUNT(*) FROM "{owner}"."{table}"')[1][0][0]
        )
        for owner, table in tables
    }
