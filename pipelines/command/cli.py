"""Command-line arguments of ``pipelines/insights.py``, parsed once into a `RunRequest`.

The loader's one module that knows argparse: `parse_request` turns the command line into the
typed, frozen request everything below takes. Kept free of heavy imports (no dlt, no pyarrow)
so ``--help`` and argument errors are instant and work without credentials.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from pipelines.command.request import (
    DEFAULT_DEMO_INSIGHTS,
    DEFAULT_DEMO_SEED,
    DEFAULT_DESTINATION,
    DEFAULT_PROGRESS_SECONDS,
    RunRequest,
    SourceOverrides,
)
from sources.opencx_filter_table import FILTERS

# CLI flag -> help, for every POST /insights body field; the flag's dest is the source parameter.
# Derived from the one table of body fields (which imports nothing heavy).
FILTER_FLAGS: dict[str, str] = {field.name: field.help for field in FILTERS}


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse, but a wrong option ends in one line (exit 2) like every other user error.

    The default prints the whole usage block first, which in a cron mail buries the cause.
    """

    def error(self, message: str) -> NoReturn:
        """Print `error: <message>` and exit with the configuration status."""
        self.exit(2, f"error: {message} (python pipelines/insights.py --help lists options)\n")


def build_parser() -> argparse.ArgumentParser:
    """The parser; every option maps to a dlt config key so cron jobs can use env vars."""
    parser = OneLineErrorParser(
        prog="python pipelines/insights.py",
        description=(
            "Load OpenCX insights into DuckDB (default) or any dlt destination. Configuration "
            "comes from config.toml, .dlt/ and SOURCES__OPENCX__* environment variables; "
            "options given here win."
        ),
    )
    mode = parser.add_argument_group("mode")
    mode.add_argument(
        "--demo",
        action="store_true",
        help="run against the bundled API simulator into a separate demo database",
    )
    mode.add_argument(
        "--full-refresh",
        "--reconcile",
        dest="full_refresh",
        action="store_true",
        help="read every insight (sorted by creation) and merge; keeps the cursor",
    )
    mode.add_argument(
        "--activity",
        action="store_true",
        help="also load insight_activity, per session-date window (sources.opencx.activity)",
    )
    mode.add_argument(
        "--dry-run",
        action="store_true",
        help="print what a run would request and where it would load; no request, no load, "
        "no state change",
    )
    mode.add_argument(
        "--check-freshness",
        metavar="BOUND",
        help="for monitoring: no request, no load; print one line and exit 0 (OK) when the "
        "pipeline's newest successful run is at most BOUND old (90s, 15m, 2h, 1d), 2 "
        "(CRITICAL) when older or never loaded, 3 (UNKNOWN) when it cannot tell; reads where "
        "the pipeline loads (--destination, --dataset, --duckdb-path, --orgs), needs no key",
    )
    mode.add_argument("--since", help="backfill insights last seen at or after this ISO 8601 time")
    mode.add_argument("--until", help="backfill insights last seen before this ISO 8601 time")
    mode.add_argument(
        "--lookback-hours",
        type=float,
        help="re-read this many hours below the stored cursor (default 24)",
    )
    target = parser.add_argument_group("destination")
    target.add_argument("--destination", help="dlt destination name (default duckdb)")
    target.add_argument("--dataset", help="dataset / schema name (default opencx)")
    target.add_argument(
        "--duckdb-path",
        help="DuckDB file (default data/opencx_insights.duckdb in the "
        "project; or DESTINATION__DUCKDB__CREDENTIALS)",
    )
    api = parser.add_argument_group("API")
    api.add_argument(
        "--orgs",
        metavar="ORG,ORG",
        help="load several OpenCX organisations, each with its own key "
        "(sources.opencx.<org>.api_key), pipeline and dataset (config: sources.opencx.orgs)",
    )
    api.add_argument("--base-url", help="API base URL (default https://api.open.cx)")
    api.add_argument(
        "--requests-per-minute",
        type=float,
        help="client-side pacing (default 90, the API allows 100)",
    )
    demo = parser.add_argument_group("demo")
    demo.add_argument(
        "--demo-insights",
        type=int,
        default=DEFAULT_DEMO_INSIGHTS,
        help="insights the simulator makes",
    )
    demo.add_argument(
        "--demo-seed", type=int, default=DEFAULT_DEMO_SEED, help="seed of the simulator's data"
    )
    filters = parser.add_argument_group("filters (POST /insights body fields)")
    for name, help_text in FILTER_FLAGS.items():
        filters.add_argument("--" + name.replace("_", "-"), dest=name, help=help_text)
    add_output_options(parser)
    return parser


def add_output_options(parser: argparse.ArgumentParser) -> None:
    """What the command writes where: cron mails every byte, operators want a log file."""
    output = parser.add_argument_group("output")
    loudness = output.add_mutually_exclusive_group()
    loudness.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="log retries and show tracebacks of unexpected errors",
    )
    loudness.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="print nothing on success (for cron); failures still print their one line",
    )
    output.add_argument(
        "--log-file",
        metavar="PATH",
        help="append a timestamped log (retries, progress, summary, errors) to this file",
    )
    output.add_argument(
        "--report-json",
        metavar="PATH",
        help="write a machine-readable report of the run to this file (also on failure), "
        "atomically",
    )
    output.add_argument(
        "--progress-every",
        metavar="SECONDS",
        type=_positive_seconds,
        default=DEFAULT_PROGRESS_SECONDS,
        help="when stderr is not a terminal, log a progress line this often "
        f"(default {DEFAULT_PROGRESS_SECONDS:g}); on a terminal a progress bar is shown",
    )


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def parse_request(argv: Sequence[str] | None = None) -> RunRequest:
    """The run the command line asks for (`sys.argv` when `argv` is None).

    A wrong option ends the process with one line and exit status 2, before anything runs.
    """
    return request_from(build_parser().parse_args(argv))


def request_from(args: argparse.Namespace) -> RunRequest:
    """The typed request of a parsed command line; an empty text counts as not given."""
    return RunRequest(
        demo=args.demo,
        dry_run=args.dry_run,
        check_freshness=args.check_freshness,
        destination=args.destination or DEFAULT_DESTINATION,
        dataset=args.dataset or None,
        duckdb_path=_path(args.duckdb_path),
        orgs=args.orgs,
        demo_insights=args.demo_insights,
        demo_seed=args.demo_seed,
        verbose=args.verbose,
        quiet=args.quiet,
        log_file=_path(args.log_file),
        report_json=_path(args.report_json),
        progress_every=args.progress_every,
        source=SourceOverrides(
            full_refresh=args.full_refresh,
            activity=args.activity,
            since=args.since,
            until=args.until,
            lookback_hours=args.lookback_hours,
            base_url=args.base_url,
            requests_per_minute=args.requests_per_minute,
            filters=tuple(
                (name, getattr(args, name))
                for name in FILTER_FLAGS
                if getattr(args, name) is not None
            ),
        ),
    )


def _path(text: str | None) -> Path | None:
    return Path(text) if text else None
