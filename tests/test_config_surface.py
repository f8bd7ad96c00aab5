"""One definition of the configuration surface, and tests that fail when a copy drifts from it.

The nineteen body fields live in one table (`sources/opencx_filter_table.py`); the request
body, the known-filter list and the CLI flags are derived from it. The two lists Python cannot
derive, the `opencx` source signature (dlt's configuration surface) and the typed
`InsightFilters` dataclass, are held to the table here. `config.toml` is rendered from the
signature and the table (`sources.opencx.config_template`) and checked against both, and the
documented settings (docs/configuration.md, "Settings") must name every parameter.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import tomllib
import typing
from pathlib import Path
from typing import Any

import pytest

from pipelines.command.cli import build_parser, parse_request
from sources.opencx import opencx
from sources.opencx.config_template import render
from sources.opencx.filters import _ENUMS, FILTER_FIELDS, InsightFilters, build_filters
from sources.opencx_filter_table import FILTERS
from sources.opencx_simulator.validation import BODY_FIELDS
from tests.docs_support import section

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
    request = parse_request([flag, "some value"])
    assert request.source.arguments() == {field.name: "some value"}
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


# ---------------------------------------------------------------------------- config.toml

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config.toml"
NOT_CONFIG = {"api_key", "stats"}
COMMENTED_SETTING = re.compile(r"# [a-z_]+ = ")


def commented_settings() -> dict[str, Any]:
    """The commented-out keys of `[sources.opencx]` in config.toml, uncommented and read as TOML."""
    text = CONFIG.read_text(encoding="utf-8")
    after = text.split("\n[sources.opencx]\n", 1)[1]
    section = re.split(r"\n(?:# )?\[", after, maxsplit=1)[0]  # up to the next (commented) table
    lines = [line[2:] for line in section.splitlines() if COMMENTED_SETTING.match(line)]
    return tomllib.loads("\n".join(lines))


def test_config_toml_is_what_the_template_renders() -> None:
    assert CONFIG.read_text(encoding="utf-8") == render(), (
        "config.toml is stale: python -m sources.opencx.config_template > config.toml"
    )


def test_config_toml_sets_nothing_itself() -> None:
    assert tomllib.loads(CONFIG.read_text(encoding="utf-8")) == {"sources": {"opencx": {}}}


def test_config_toml_lists_every_source_parameter_but_the_secret_and_stats() -> None:
    assert sorted(commented_settings()) == sorted(set(SOURCE_PARAMETERS) - NOT_CONFIG)


def test_config_toml_shows_the_source_defaults() -> None:
    for name, value in commented_settings().items():
        default = SOURCE_PARAMETERS[name].default
        if default is not None:
            assert value == default, name
            assert isinstance(value, bool) == isinstance(default, bool), name


def test_config_toml_uncommented_whole_is_a_valid_configuration() -> None:
    # the examples shown for unset keys (filters, since, until) must be accepted as they are
    source = opencx(api_key="ocx_example", **commented_settings())
    assert source.resources


def test_documented_settings_name_every_source_parameter() -> None:
    documented = set(re.findall(r"`([a-z_]+)`", section("configuration", "Settings")))
    assert set(SOURCE_PARAMETERS) - {"stats"} <= documented
