"""Every setting of one pipeline's run, resolved as the run resolves it and checked in one place.

The run and `--dry-run` both call `check_settings` (through `runner.checked_settings`) before
anything else of the pipeline happens: no lock, no dlt pipeline folder, no DuckDB file, no
request. A setting the run refuses is therefore refused by the dry run with the same line and
exit status, and a bad setting found "late" (inside the source, after the destination had been
opened) can no longer leave an empty database behind.

Checked: the key (missing, still the example's placeholder, pasted with invisible characters),
every filter, the backfill bounds and their order, every number, `base_url`, the destination
(and SQL for a reconciliation), and a DuckDB file named like the dataset. The organisations
(`--orgs`) are checked by `orgs.configured_orgs`, which both paths call first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlt.common.configuration import resolve_configuration
from dlt.common.configuration.inject import get_fun_spec

from pipelines import orgs
from pipelines.duckdb_file import check_file_name
from pipelines.preflight import check_destination
from pipelines.request import RunRequest
from sources.opencx import opencx, settings
from sources.opencx.arguments import SourceArguments, check_arguments


@dataclass(frozen=True)
class CheckedSettings:
    """One pipeline's settings, checked.

    `source_args` is what the run hands to `opencx` (for the one-org run only the options given,
    so dlt resolves the rest inside the pipeline as it always did); `config` holds every `opencx`
    argument as resolved here; `key_name` is the config key of the API key (never the key).
    """

    source_args: dict[str, Any]
    config: dict[str, Any]
    arguments: SourceArguments
    key_name: str


def check_settings(
    request: RunRequest,
    org: str | None,
    *,
    duckdb_path: Path | None,
    dataset: str,
    fixed: Mapping[str, Any] | None = None,
) -> CheckedSettings:
    """Resolve and check every setting of the pipeline of `org` (None: the one-org run).

    `fixed` are values the command sets itself whatever the configuration (the demo's key and
    pacing). Raises the error the run would end with: a missing key as dlt's
    ConfigFieldMissingException, a value that cannot be read as dlt's coercion error, anything
    else as ConfigValueError.
    """
    overrides = {**request.source.arguments(), **(fixed or {})}
    if org is None:
        config = _resolved(overrides)
        source_args, key_name = overrides, orgs.ONE_ORG_KEY
    else:
        config = orgs.org_source_args(org, overrides)
        source_args, key_name = config, orgs.api_key_key(org)
    arguments = check_arguments(config)
    check_destination(request.destination, reconciling=arguments.full_refresh)
    if duckdb_path is not None:
        check_file_name(duckdb_path, dataset)
    return CheckedSettings(source_args, config, arguments, key_name)


def _resolved(overrides: dict[str, Any]) -> dict[str, Any]:
    """Every `opencx` argument from the options, the environment and the config files.

    The sections are the ones dlt looks the source's arguments up in, so the values are the
    ones the source will receive.
    """
    sections = ("sources", settings.SOURCE_SECTION, settings.SOURCE_SECTION)
    config = resolve_configuration(
        get_fun_spec(opencx)(), sections=sections, explicit_value=overrides
    )
    return {name: config[name] for name in config if name != "stats"}
