"""Each view's SQL file and its declaration agree, without a warehouse.

The files are the dbt package's models too, so they may use only dbt's two reference forms,
and only for relations that exist when the connector creates the view.
"""

from __future__ import annotations

import re

import pytest

from sources.opencx import internals, schema, views


@pytest.mark.parametrize("view", views.VIEWS, ids=views.VIEW_NAMES)
def test_a_view_reads_only_loaded_tables_and_views_created_before_it(view: views.View) -> None:
    earlier = views.VIEW_NAMES[: views.VIEW_NAMES.index(view.name)]
    readable = {*schema.TABLE_COLUMNS, views.LOADS, *earlier}
    assert view.references, view.name
    assert set(view.references) <= readable


@pytest.mark.parametrize("view", views.VIEWS, ids=views.VIEW_NAMES)
def test_rendering_leaves_no_template_syntax(view: views.View) -> None:
    rendered = views.render(view, {name: f"ds.{name}" for name in view.references})
    assert "{{" not in rendered
    assert "{%" not in rendered
    assert all(f"ds.{name}" in rendered for name in view.references)


def test_every_sql_file_is_a_declared_view() -> None:
    files = {path.stem for path in views.SQL_FOLDER.glob("*.sql")}
    assert files == set(views.VIEW_NAMES)


@pytest.mark.parametrize("view", views.VIEWS, ids=views.VIEW_NAMES)
def test_each_view_declares_a_described_key_and_described_columns(view: views.View) -> None:
    names = [column.name for column in view.columns]
    assert len(names) == len(set(names))
    assert set(view.key) <= set(names)
    assert all(column.description.strip() for column in view.columns)
    assert view.meaning.strip()
    assert view.grain.strip()


def test_the_as_of_day_counts_only_completed_loads() -> None:
    """dlt marks a completed load with status 0 (a contract test holds dlt to it)."""
    sql = views.AS_OF_DAY.sql
    status = re.search(rf"\.{internals.LOADS_STATUS_COLUMN} = (\d+)", sql)
    assert status
    assert int(status.group(1)) == internals.COMPLETED_LOAD_STATUS
