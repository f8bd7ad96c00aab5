"""The dbt package's property files are rendered from the connector's declarations, never typed.

`dbt/opencx_insights/models/*.yml` must equal what `python -m sources.opencx.dbt_yaml` renders
from `sources/opencx/schema.py` and `sources/opencx/views.py`, so a column or view added,
renamed or re-described there reaches dbt's docs and tests. Whether dbt accepts the files and
whether their tests catch bad data is checked in a real dbt by tests/test_dbt_package.py.
"""

from __future__ import annotations

from typing import Any

import yaml

from sources.opencx import dbt_yaml, schema, views


def committed_source() -> dict[str, Any]:
    document = yaml.safe_load(dbt_yaml.SOURCES_FILE.read_text(encoding="utf-8"))
    [source] = document["sources"]
    assert isinstance(source, dict)
    return source


def tables_by_name() -> dict[str, dict[str, Any]]:
    return {table["name"]: table for table in committed_source()["tables"]}


def declared_tests(table: str, column: str) -> list[Any]:
    [entry] = [c for c in tables_by_name()[table]["columns"] if c["name"] == column]
    tests: list[Any] = entry.get("data_tests", [])
    return tests


def test_committed_property_files_equal_the_rendered_ones() -> None:
    for path, text in dbt_yaml.rendered_files().items():
        assert path.read_text(encoding="utf-8") == text, (
            f"{path.name} is stale: run `python -m sources.opencx.dbt_yaml`"
        )


def test_every_declared_table_and_column_is_described_in_the_sources_file() -> None:
    tables = tables_by_name()
    for table in schema.TABLE_COLUMNS:
        assert tables[table]["description"] == schema.TABLE_DESCRIPTIONS[table]
        described = {c["name"]: c["description"] for c in tables[table]["columns"]}
        for column in schema.described_columns(table):
            assert described.get(column.name) == column.description, f"{table}.{column.name}"


def test_insights_reference_categories_teams_and_people() -> None:
    expected = {
        "category_id": ("categories", "id"),
        "team_id": ("teams", "id"),
        "resolved_by_key": ("people", "person_key"),
        "archived_by_key": ("people", "person_key"),
    }
    for column, (table, field) in expected.items():
        relationships = [t["relationships"]["arguments"] for t in declared_tests("insights", column)
                         if isinstance(t, dict) and "relationships" in t]  # fmt: skip
        assert relationships == [{"to": f"source('opencx', '{table}')", "field": field}], column


def test_status_and_sentiment_accept_only_the_documented_values() -> None:
    [status] = [t["accepted_values"] for t in declared_tests("insights", "status")]
    assert sorted(status["arguments"]["values"]) == ["archived", "resolved", "unresolved"]
    assert "config" not in status  # an unknown status is the connector's bug: the build fails
    [sentiment] = [t["accepted_values"] for t in declared_tests("insights", "sentiment")]
    assert sorted(sentiment["arguments"]["values"]) == ["angry", "happy", "neutral"]
    assert sentiment["config"] == {"severity": "warn"}  # a value the API adds is kept, and shown


def test_keys_are_unique_and_not_null() -> None:
    for table, key in (("insights", "id"), ("categories", "id"), ("teams", "id"),
                       ("people", "person_key")):  # fmt: skip
        assert {"unique", "not_null"} <= set(map(str, declared_tests(table, key))), table
    activity_tests = tables_by_name()["insight_activity"]["data_tests"]
    compound = {"unique_combination": {"arguments": {"columns": ["window_start", "insight_id"]}}}
    assert compound in activity_tests


def test_freshness_is_measured_on_completed_loads_with_the_projects_thresholds() -> None:
    source = committed_source()
    thresholds = source["config"]["freshness"]
    assert thresholds["warn_after"]["count"] == "{{ var('opencx_freshness_warn_hours') }}"
    assert thresholds["error_after"]["count"] == "{{ var('opencx_freshness_error_hours') }}"
    tables = tables_by_name()
    loads = tables["_dlt_loads"]["config"]
    completed = "status = 0 and schema_name = 'opencx'"
    assert loads == {"loaded_at_field": "inserted_at", "freshness": {"filter": completed}}
    for fact in ("insights", "insight_history", "insight_activity"):
        query = tables[fact]["config"]["loaded_at_query"]
        assert "{{ this }}" in query, fact
        assert "loads.load_id = loaded._dlt_load_id" in query, fact
        assert "loads.status = 0" in query, fact
    for dimension in ("categories", "teams", "people"):
        assert tables[dimension]["config"] == {"freshness": None}, dimension


def committed_models() -> dict[str, dict[str, Any]]:
    document = yaml.safe_load(dbt_yaml.MODELS_FILE.read_text(encoding="utf-8"))
    return {model["name"]: model for model in document["models"]}


def test_every_dashboard_view_is_a_described_model_whose_key_is_tested() -> None:
    models = committed_models()
    assert list(models) == list(views.VIEW_NAMES)
    for view in views.VIEWS:
        model = models[view.name]
        assert view.meaning in model["description"]
        assert view.grain in model["description"]
        columns = {c["name"]: c for c in model["columns"]}
        assert list(columns) == [c.name for c in view.columns]
        if len(view.key) == 1:
            assert "unique" in columns[view.key[0]]["data_tests"], view.name
        if len(view.key) > 1:
            key_test = {"unique_combination": {"arguments": {"columns": list(view.key)}}}
            assert key_test in model["data_tests"], view.name
        for column in view.columns:
            if column.name in view.key and not column.nullable:
                assert "not_null" in columns[column.name]["data_tests"], (view.name, column.name)


def test_the_models_are_the_connectors_view_files() -> None:
    """model-paths names the folder the connector reads each view's SQL from: one text."""
    project = yaml.safe_load((dbt_yaml.PACKAGE_DIR / "dbt_project.yml").read_text())
    folders = {(dbt_yaml.PACKAGE_DIR / path).resolve() for path in project["model-paths"]}
    assert views.SQL_FOLDER.resolve() in folders
    models_sql = [path for folder in folders for path in folder.rglob("*.sql")]
    assert sorted(path.stem for path in models_sql) == sorted(views.VIEW_NAMES)
