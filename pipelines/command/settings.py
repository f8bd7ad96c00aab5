"""Every setting of one pipeline's run, resolved as the run resolves it and checked in one place.

The run and `--dry-run` both call `check_settings` before anything else of the pipeline
happens: no lock, no dlt pipeline folder, no DuckDB file, no request. A setting the run refuses
is therefore refused by the dry run with the same line and exit status, and a bad setting found
"late" (inside the source, after the destination had been opened) can no longer leave an empty
database behind.

Resolved: where the pipeline loads (`Target`: pipeline name, destination, dataset, DuckDB file)
and every `opencx` argument, from the request, the environment and the config files (the
project's root `config.toml` among them, `register_root_config`). Checked: the key (missing,
still the example's placeholder, pasted with invisible characters), every filter, the backfill
bounds and their order, every number, `base_url`, the destination (and SQL for a
reconciliation), and a DuckDB file named like the dataset. The organisations (`--orgs`) are
checked by `orgs.configured_orgs`, which both paths call first.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import dlt
from dlt.common.configuration import resolve_configuration
from dlt.common.configuration.inject import get_fun_spec
from dlt.common.configuration.providers import SettingsTomlProvider

from pipelines.command import orgs
from pipelines.command.request import RunRequest
from pipelines.destination import duckdb_file
from pipelines.destination.preflight import check_destination
from pipelines.failures import ONE_ORG_KEY, org_api_key
from pipelines.load.demo import DEMO_SETTINGS
from pipelines.load.target import Target
from sources.opencx import opencx, settings
from sources.opencx.arguments import SourceArguments, check_arguments

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ROOT_CONFIG_PROVIDER: Final = "opencx_root_config.toml"


@dataclass(frozen=True)
class PipelineSettings:
    """One pipeline's settings, checked.

    `source_args` is what the run hands to `opencx` (for the one-org run only the options given,
    so dlt resolves the rest inside the pipeline as it always did); `config` holds every `opencx`
    argument as resolved here; `key_name` is the config key of the API key (never the key).
    """

    target: Target
    source_args: dict[str, Any]
    config: dict[str, Any]
    arguments: SourceArguments
    key_name: str


def register_root_config() -> None:
    """Read the project's root ``config.toml`` after env vars and ``.dlt/`` (those win)."""
    providers = dlt.config.config_providers
    if any(p.name == ROOT_CONFIG_PROVIDER for p in providers):
        return
    provider = SettingsTomlProvider(ROOT_CONFIG_PROVIDER, False, "config.toml", [str(PROJECT_ROOT)])
    dlt.config.register_provider(provider)


def check_settings(request: RunRequest, org: str | None) -> PipelineSettings:
    """Resolve and check every setting of the pipeline of `org` (None: the one-org run).

    The demo's key and pacing are set whatever the configuration. Raises the error the run
    would end with: a missing key as dlt's ConfigFieldMissingException, a value that cannot be
    read as dlt's coercion error, anything else as ConfigValueError.
    """
    target = pipeline_target(request, org)
    overrides = {**request.source.arguments(), **(DEMO_SETTINGS if request.demo else {})}
    if org is None:
        config = _resolved(overrides)
        source_args, key_name = overrides, ONE_ORG_KEY
    else:
        config = orgs.org_source_args(org, overrides)
        source_args, key_name = config, org_api_key(org)
    arguments = check_arguments(config)
    check_destination(target.destination, reconciling=arguments.full_refresh)
    if target.duckdb_path is not None:
        duckdb_file.check_file_name(target.duckdb_path, target.dataset)
    return PipelineSettings(target, source_args, config, arguments, key_name)


def pipeline_target(request: RunRequest, org: str | None) -> Target:
    """Where the pipeline of `org` (None: the one-org run) loads, and under which name."""
    on_duckdb = request.destination == "duckdb"
    return Target(
        pipeline_name=pipeline_name(request.demo, org),
        destination=request.destination,
        dataset=dataset_name(request, org),
        duckdb_path=duckdb_path(request, org) if on_duckdb else None,
        org=org,
    )


def pipeline_name(demo: bool, org: str | None = None) -> str:
    """The dlt pipeline (state, cursor, lock) of the demo, of `org`, or of the one-org run."""
    if org is not None:
        return orgs.pipeline_name(org)
    return settings.DEMO_PIPELINE_NAME if demo else settings.PIPELINE_NAME


def dataset_name(request: RunRequest, org: str | None = None) -> str:
    """`--dataset` (default `opencx`), suffixed with `_<org>` for an org."""
    if org is not None:
        return orgs.dataset_name(request.dataset, org)
    return request.dataset or settings.DATASET_NAME


def duckdb_path(request: RunRequest, org: str | None = None) -> Path:
    """DuckDB file, absolute: flag, then dlt config/env, then the default in the project.

    Relative paths are taken from the project, like the default, so cron and a shell started
    anywhere write the same file. Each org (`--orgs`) has its own default file; a configured
    file is shared by the orgs, each in its own dataset.
    """
    if request.duckdb_path:
        return duckdb_file.project_path(request.duckdb_path)
    if request.demo:
        return duckdb_file.DEMO_DUCKDB
    configured = duckdb_file.configured_location()
    if configured:
        return duckdb_file.project_path(configured)
    default = duckdb_file.DEFAULT_DUCKDB
    return default if org is None else default.with_stem(orgs.pipeline_name(org))


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
