"""What one run of ``pipelines/insights.py`` was asked to do: typed, built once, never changed.

The command line is parsed at the edge (`pipelines.command.cli.parse_request`) into one
`RunRequest`; everything below takes the request, or the few of its fields it needs, and no
module below the command line sees argparse. A field the user did not give holds the
command's default, or None where the configuration (dlt's config files and environment
variables) decides.

Imports nothing heavy, so ``--help`` and a wrong option stay instant.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

DEFAULT_DESTINATION: Final = "duckdb"
DEFAULT_PROGRESS_SECONDS: Final = 30.0
DEFAULT_DEMO_INSIGHTS: Final = 3000
DEFAULT_DEMO_SEED: Final = 42


@dataclass(frozen=True)
class SourceOverrides:
    """Arguments of the `opencx` source given on the command line; None (False): not given.

    Only what was given overrides the configuration, so config files and environment variables
    fill in the rest, as dlt resolves them.
    """

    full_refresh: bool = False
    activity: bool = False
    since: str | None = None
    until: str | None = None
    lookback_hours: float | None = None
    base_url: str | None = None
    requests_per_minute: float | None = None
    # (source parameter, value) of each POST /insights body field given as a flag
    filters: tuple[tuple[str, str], ...] = ()

    def arguments(self) -> dict[str, Any]:
        """The given options as `opencx` arguments (a flag not given is absent, not None)."""
        given: dict[str, Any] = dict(self.filters)
        optional = {
            "since": self.since,
            "until": self.until,
            "lookback_hours": self.lookback_hours,
            "base_url": self.base_url,
            "requests_per_minute": self.requests_per_minute,
        }
        given.update({name: value for name, value in optional.items() if value is not None})
        for name, on in (("full_refresh", self.full_refresh), ("activity", self.activity)):
            if on:
                given[name] = True
        return given


@dataclass(frozen=True)
class RunRequest:
    """One run of the command as asked for on the command line.

    `dataset` None is the source's default dataset (`opencx`); `duckdb_path` None leaves the
    DuckDB file to `destination.duckdb.credentials` or the project's default; `orgs` None
    leaves the organisations to `sources.opencx.orgs`. `check_freshness` is the bound of
    `--check-freshness` as given (`2h`): the command then checks and loads nothing.
    """

    demo: bool = False
    dry_run: bool = False
    check_freshness: str | None = None
    destination: str = DEFAULT_DESTINATION
    dataset: str | None = None
    duckdb_path: Path | None = None
    orgs: str | None = None
    demo_insights: int = DEFAULT_DEMO_INSIGHTS
    demo_seed: int = DEFAULT_DEMO_SEED
    verbose: bool = False
    quiet: bool = False
    log_file: Path | None = None
    report_json: Path | None = None
    progress_every: float = DEFAULT_PROGRESS_SECONDS
    source: SourceOverrides = field(default_factory=SourceOverrides)
