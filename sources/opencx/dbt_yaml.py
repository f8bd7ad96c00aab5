"""Render the dbt package's property files from the connector's one definition of its data.

The dbt package (dbt/opencx_insights) describes and tests the tables the connector loads (its
sources) and the dashboard views (its models, the very SQL files the connector creates the
views from). Their descriptions, keys and foreign keys are the ones `sources.opencx.schema` and
`sources.opencx.views` declare, so they are rendered from there rather than written twice;
``tests/test_dbt_yaml.py`` fails while a committed file differs from what this renders. After
changing a table, a view or a column run::

    python -m sources.opencx.dbt_yaml

Tests, from the declarations: a single-column key is `unique`, a key of several columns
`unique_combination` (the package's generic test), a key or required column `not_null`, a
description "FK to <table>.<column>" a `relationships` test, and the derived values of status,
sentiment and count_scope `accepted_values` (sentiment warns: the connector keeps a value the
API adds). Freshness is measured on the loads that committed (see FRESHNESS).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from sources.opencx import schema, settings
from sources.opencx.internals import COMPLETED_LOAD_STATUS, LOADS_STATUS_COLUMN
from sources.opencx.views import VIEWS, View

PACKAGE_DIR = Path(__file__).resolve().parents[2] / "dbt" / "opencx_insights"
SOURCES_FILE = PACKAGE_DIR / "models" / "sources.yml"
MODELS_FILE = PACKAGE_DIR / "models" / "dashboard_views.yml"
SOURCE = "opencx"
LOADS = "_dlt_loads"
COMMAND = "python -m sources.opencx.dbt_yaml"
FOREIGN_KEY = re.compile(r"^FK to (?P<table>\w+)\.(?P<column>\w+)\b")

# dlt's record of loads: a completed load has status 0 and commits at inserted_at
LOADS_DESCRIPTION = (
    "dlt's record of the loads into this dataset: one row per load, written when it commits. "
    "A run with nothing new loads nothing, so the latest row is the last change, not the last run."
)
# dlt names a source's schema after the source; other pipelines may load into the dataset too
LOADS_SCHEMA = settings.SOURCE_SECTION
LOADS_COLUMNS: tuple[schema.Column, ...] = (
    schema.Column("load_id", schema.TEXT, "The load's id.", required=True),
    schema.Column(
        "schema_name", schema.TEXT, f"The dlt schema loaded: {LOADS_SCHEMA} for the connector."
    ),
    schema.Column(LOADS_STATUS_COLUMN, schema.BIGINT, "0 once the load completed.", required=True),
    schema.Column("inserted_at", schema.TIMESTAMP, "When the load committed.", required=True),
)
# Freshness: the age of the last completed load (`_dlt_loads.inserted_at`, status 0), with
# thresholds from the project's vars: of the dataset (the connector's loads), and of each fact
# table (the last completed load that wrote rows into it, joined on the `_dlt_load_id` every row
# carries). The connector loads nothing when nothing changed, so this is the time of the last
# change the connector saw, not of its last run. The dimension tables have none: a category,
# team or person is written again only when an insight that names it changes.
FRESHNESS_TABLES = (schema.INSIGHTS, schema.HISTORY, schema.ACTIVITY)
LOADED_AT_QUERY = f"""select max(loads.inserted_at)
from {{{{ this }}}} as loaded
join {{{{ source('{SOURCE}', '{LOADS}') }}}} as loads on loads.load_id = loaded.{schema.LOAD_ID}
where loads.{LOADS_STATUS_COLUMN} = {COMPLETED_LOAD_STATUS}
"""  # noqa: S608 - constants only
FRESHNESS = {
    "warn_after": {"count": "{{ var('opencx_freshness_warn_hours') }}", "period": "hour"},
    "error_after": {"count": "{{ var('opencx_freshness_error_hours') }}", "period": "hour"},
}


def declared(table: str, name: str) -> schema.Column:
    """The declaration of a column of the connector's tables (history shares insights')."""
    return next(column for column in schema.TABLE_COLUMNS[table] if column.name == name)


# declared column: (values, severity)
ACCEPTED_VALUES: dict[schema.Column, tuple[list[str], str]] = {
    declared(schema.INSIGHTS, "status"): ([s for s in settings.STATUSES if s != "all"], "error"),
    declared(schema.INSIGHTS, "sentiment"): (list(settings.SENTIMENTS), "warn"),
    # what activity.ScopeDetector labels the counts of a window with
    declared(schema.ACTIVITY, "count_scope"): (["window", "lifetime", "unknown"], "error"),
}


def table_columns(table: str) -> tuple[schema.Column, ...]:
    """A table's documented columns, with those dlt writes (`_dlt_load_id`, history's validity)."""
    return schema.described_columns(table)


def table_key(table: str) -> tuple[str, ...]:
    """The columns declared as the table's primary key."""
    return tuple(column.name for column in table_columns(table) if column.primary_key)


def column_tests(column: schema.Column, key: tuple[str, ...]) -> Iterator[Any]:
    """The generic tests a column's declaration implies, in a relation with natural `key`."""
    if key == (column.name,):
        yield "unique"
    if not column.nullable:
        yield "not_null"
    reference = FOREIGN_KEY.match(column.description)
    if reference:
        to = f"source('{SOURCE}', '{reference['table']}')"
        yield {"relationships": {"arguments": {"to": to, "field": reference["column"]}}}
    if column in ACCEPTED_VALUES:
        values, severity = ACCEPTED_VALUES[column]
        test: dict[str, Any] = {"arguments": {"values": values}}
        if severity != "error":
            test["config"] = {"severity": severity}
        yield {"accepted_values": test}


def key_tests(key: tuple[str, ...]) -> list[Any]:
    """A natural key of several columns: no two rows share it (one column: `column_tests`)."""
    if len(key) < 2:
        return []
    return [{"unique_combination": {"arguments": {"columns": list(key)}}}]


def table_tests(table: str) -> list[Any]:
    """Tests over several columns: a compound key; history's versions and its one open version."""
    tests = key_tests(table_key(table))
    if table == schema.HISTORY:
        versions = ["insight_id", schema.VALID_FROM]
        tests.append({"unique_combination": {"arguments": {"columns": versions}}})
        open_versions = {"columns": ["insight_id"]}
        tests.append(
            {
                "unique_combination": {
                    "arguments": open_versions,
                    "config": {"where": f"{schema.VALID_TO} is null"},
                }
            }
        )
    return tests


def column_entry(column: schema.Column, key: tuple[str, ...]) -> dict[str, Any]:
    """One column: its description and the tests it implies."""
    entry: dict[str, Any] = {"name": column.name, "description": column.description}
    tests = list(column_tests(column, key))
    if tests:
        entry["data_tests"] = tests
    return entry


def table_entry(table: str) -> dict[str, Any]:
    """One loaded table, with the freshness of its rows' loads where it means something."""
    fresh = table in FRESHNESS_TABLES
    entry: dict[str, Any] = {
        "name": table,
        "description": schema.TABLE_DESCRIPTIONS[table],
        "config": {"loaded_at_query": LOADED_AT_QUERY} if fresh else {"freshness": None},
    }
    tests = table_tests(table)
    if tests:
        entry["data_tests"] = tests
    key = table_key(table)
    entry["columns"] = [column_entry(column, key) for column in table_columns(table)]
    return entry


def loads_entry() -> dict[str, Any]:
    """The loads table, `_dlt_loads`: the dataset's freshness, whichever table a load wrote."""
    return {
        "name": LOADS,
        "description": LOADS_DESCRIPTION,
        "config": {
            "loaded_at_field": "inserted_at",
            "freshness": {
                "filter": f"{LOADS_STATUS_COLUMN} = {COMPLETED_LOAD_STATUS} "
                f"and schema_name = '{LOADS_SCHEMA}'"
            },
        },
        "columns": [column_entry(column, ()) for column in LOADS_COLUMNS],
    }


def sources_document() -> dict[str, Any]:
    """The `sources:` property file of the connector's dataset."""
    return {
        "version": 2,
        "sources": [
            {
                "name": SOURCE,
                "description": (
                    "The tables the opencx-insights connector loads with dlt, in the dataset "
                    "(schema) the var opencx_schema names."
                ),
                "schema": "{{ var('opencx_schema') }}",
                "loader": "dlt",
                "config": {"freshness": FRESHNESS},
                "tables": [*map(table_entry, schema.TABLE_COLUMNS), loads_entry()],
            }
        ],
    }


def model_entry(view: View) -> dict[str, Any]:
    """One dashboard view as a model: its meaning and grain, its key's tests, its columns."""
    entry: dict[str, Any] = {
        "name": view.name,
        "description": f"{view.meaning} Grain: {view.grain}.",
    }
    tests = key_tests(view.key)
    if tests:
        entry["data_tests"] = tests
    entry["columns"] = [column_entry(column, view.key) for column in view.columns]
    return entry


def models_document() -> dict[str, Any]:
    """The `models:` property file of the dashboard views."""
    return {"version": 2, "models": [model_entry(view) for view in VIEWS]}


class _Dumper(yaml.SafeDumper):
    """Block style, lists indented under their key, no anchors: YAML as people write it."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:  # noqa: ARG002
        super().increase_indent(flow, indentless=False)

    def ignore_aliases(self, data: Any) -> bool:  # noqa: ARG002
        return True


def _string(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    """SQL as a literal block; Jinja in double quotes (it holds single-quoted names)."""
    style = "|" if "\n" in value else '"' if "{{" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _string)


def render(document: dict[str, Any], origin: str) -> str:
    """The YAML text, under a header that says where it comes from."""
    header = f"# Generated by `{COMMAND}` from {origin}: change it there.\n"
    body = yaml.dump(document, Dumper=_Dumper, sort_keys=False, width=100, allow_unicode=True)
    return header + body


def rendered_files() -> dict[Path, str]:
    """Every generated property file of the package and its text."""
    return {
        SOURCES_FILE: render(sources_document(), "sources/opencx/schema.py"),
        MODELS_FILE: render(models_document(), "sources/opencx/views.py"),
    }


def main() -> int:
    """Write the property files; print which changed."""
    for path, text in rendered_files().items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(PACKAGE_DIR.parents[1])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
