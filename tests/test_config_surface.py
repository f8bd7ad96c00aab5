"""One definition of the configuration surface, and tests that fail when a copy drifts from it.

The nineteen body fields live in one table (`sources/opencx_filter_table.py`); the request
body, the known-filter list and the CLI flags are derived from it. The two lists Python cannot
derive, the `opencx` source signature (dlt's configuration surface) and the typed
`InsightFilters` dataclass, are held to the table here.
"""

from __future__ import annotations

import dataclasses
import inspect
import tomllib
import typing
from typing import Any

import pytest

from pipelines.cli import build_parser, source_overrides
from sources.opencx import opencx
from sources.opencx.filters import _ENUMS, FILTER_FIELDS, InsightFilters, build_filters
from sources.opencx_filter_table import FILTERS
from sources.opencx_simulator.validation import BODY_FIELDS

SOURCE_PARAMETERS = inspect.signature(opencx).parameters
SOURCE_TYPES = typing.get_type_hints(inspect.unwrap(opencx))
FILTER_TYPES = typing.get_type_hints(InsightFilters)


def test_the_table_holds_the_nineteen_body_fields_the_api_accepts() -> None:
    # the simulator's validator is an independent reading of the API reference
    assert len(FILTERS) == 19
    assert sorted(field.api_name for field in FILTERS) == sorted(BODY_FIELDS)
    assert len({field.name for field in FILTERS}) == 19


def test_known_filters_are_the_table_in_its_order() -> None:
    assert tuple(field.name for field in FILTERS) == FILTER_FIELDS


def test_source_signature_has_every_filter_in_table_order_unset_by_default() -> None:
    in_signature = [name for name in SOURCE_PARAMETERS if name in FILTER_FIELDS]
    assert in_signature == list(FILTER_FIELDS)
    assert all(SOURCE_PARAMETERS[name].default is None for name in FILTER_FIELDS)


def test_source_signature_and_dataclass_give_each_filter_the_same_type() -> None:
    assert {name: SOURCE_TYPES[name] for name in FILTER_FIELDS} == FILTER_TYPES


def test_dataclass_fields_are_the_table_in_its_order_unset_by_default() -> None:
    fields = dataclasses.fields(InsightFilters)
    assert tuple(field.name for field in fields) == FILTER_FIELDS
    assert all(field.default is None for field in fields)


@pytest.mark.parametrize("field", FILTERS, ids=lambda field: field.name)
def test_each_filter_is_a_cli_flag_that_reaches_the_source(field: Any) -> None:
    flag = "--" + field.name.replace("_", "-")
    args = build_parser().parse_args([flag, "some value"])
    assert source_overrides(args) == {field.name: "some value"}
    assert field.help in " ".join(build_parser().format_help().split())


LISTED_ENUMS = [field for field in FILTERS if field.name in _ENUMS and " | " in field.help]


@pytest.mark.parametrize("field", LISTED_ENUMS, ids=lambda field: field.name)
def test_help_listing_choices_names_only_allowed_values(field: Any) -> None:
    listed = [word.split(" (")[0] for word in field.help.split(" | ") if word != "..."]
    assert set(listed) <= set(_ENUMS[field.name])
    if "..." not in field.help:
        assert set(listed) == set(_ENUMS[field.name])


@pytest.mark.parametrize("field", FILTERS, ids=lambda field: field.name)
def test_each_example_is_valid_and_sent_under_its_api_name(field: Any) -> None:
    example = tomllib.loads(f"value = {field.example}")["value"]
    body = build_filters({field.name: example}).to_body()
    if field.name == "page":  # the first page to read, not a filter: each request sets it
        assert body == {}
    else:
        assert list(body) == [field.api_name]
