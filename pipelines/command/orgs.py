"""Several OpenCX organisations in one command: one dlt pipeline, dataset and key per org.

An OpenCX key belongs to one organisation, and the tables have no org column, so each org is
its own pipeline (`opencx_insights_<org>`: own state, cursor and lock) loading its own dataset
(`opencx_<org>`) and, on DuckDB, by default its own file (`data/opencx_insights_<org>.duckdb`).
Nothing an org does can move another org's cursor or mix rows across orgs.

Configuration, in dlt's usual places:

    [sources.opencx]
    orgs = ["acme", "globex"]        # or --orgs acme,globex, or SOURCES__OPENCX__ORGS

    [sources.opencx.acme]            # .dlt/secrets.toml
    api_key = "ocx_live_..."         # SOURCES__OPENCX__ACME__API_KEY

Every other source key can be set per org in the same section (`[sources.opencx.acme]
lookback_hours = 48`); it falls back to `[sources.opencx]`, and command-line options win over
both. The key never falls back: a shared key would load one org's insights into another's
dataset.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Final

import dlt
from dlt.common.configuration import get_fun_spec, resolve_configuration

from pipelines.command.request import RunRequest
from pipelines.failures import org_api_key
from sources.opencx import opencx, settings
from sources.opencx.errors import ConfigValueError

ORGS_KEY: Final = "sources.opencx.orgs"
ORG_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
# `[sources.opencx.<org>]` must not collide with a key of `[sources.opencx]` (or the section
# dlt looks up as the source's own, `sources.opencx.opencx`)
RESERVED: Final = frozenset({settings.SOURCE_SECTION, "orgs", "stats"})


def configured_orgs(request: RunRequest) -> list[str]:
    """The orgs to load (`--orgs`, else `sources.opencx.orgs`); empty for a one-org run."""
    raw: Any = request.orgs if request.orgs is not None else dlt.config.get(ORGS_KEY)
    if raw is None:
        return []
    names = _split(raw)
    if not names:
        raise ConfigValueError(f"{ORGS_KEY} (--orgs) names no organisation", "orgs")
    for name in names:
        check_org_name(name)
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ConfigValueError(f"{ORGS_KEY} (--orgs) names {duplicates[0]} twice", "orgs")
    if request.demo:
        raise ConfigValueError("--demo loads the bundled simulator; run it without --orgs", "orgs")
    return names


def _split(raw: Any) -> list[str]:
    """A TOML list, or text as an env var gives it: `acme,globex` or `["acme", "globex"]`."""
    if isinstance(raw, str):
        text = raw.strip().removeprefix("[").removesuffix("]")
        return [part.strip().strip("\"'").strip() for part in text.split(",") if part.strip()]
    if isinstance(raw, Sequence):
        return [str(part).strip() for part in raw]
    raise ConfigValueError(
        f"{ORGS_KEY} (--orgs) must be a list of organisation names, got {raw!r:.60}", "orgs"
    )


def check_org_name(name: str) -> None:
    """Org names become pipeline, dataset, file and config section names: keep them plain."""
    parameters = set(get_fun_spec(opencx)().keys())
    if not ORG_NAME.fullmatch(name):
        raise ConfigValueError(
            f"organisation name {name!r:.60} in {ORGS_KEY} (--orgs) must be lowercase letters, "
            "digits and underscores, starting with a letter (at most 40)",
            "orgs",
        )
    if name in RESERVED or name in parameters:
        raise ConfigValueError(
            f"organisation name {name!r} in {ORGS_KEY} (--orgs) is also a key of "
            "[sources.opencx]; choose another name",
            "orgs",
        )


def pipeline_name(org: str) -> str:
    """`opencx_insights_<org>`: the org's dlt pipeline (state, cursor, lock)."""
    return f"{settings.PIPELINE_NAME}_{org}"


def dataset_name(dataset: str | None, org: str) -> str:
    """`<dataset>_<org>`, `opencx_<org>` by default: one dataset per org."""
    return f"{dataset or settings.DATASET_NAME}_{org}"


def org_source_args(org: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """Every `opencx` argument for `org`.

    Options win, then `[sources.opencx.<org>]`, then `[sources.opencx]`: dlt's own lookup,
    typed and checked like the one-org run's. The key comes only from the org's section.
    """
    key: Any = dlt.secrets.get(org_api_key(org))
    if key is None or not str(key).strip():
        env = org_api_key(org).upper().replace(".", "__")
        raise ConfigValueError(
            f"no API key for organisation {org}: set {env} or api_key under "
            f"[sources.opencx.{org}] in .dlt/secrets.toml",
            f"{org}.api_key",
        )
    config = resolve_configuration(
        get_fun_spec(opencx)(),
        sections=("sources", settings.SOURCE_SECTION, org),
        explicit_value={**overrides, "api_key": key},
    )
    return {name: config[name] for name in config if name != "stats"}
