"""Run the OpenCX simulator in the foreground: ``python -m sources.opencx_simulator --help``.

The first stdout line is machine-readable (``OPENCX_SIMULATOR_URL=...``) so scripts can start
it on port 0 and read back where it listens.
"""

from __future__ import annotations

import argparse
import ipaddress
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from .config import FULL_ACCESS, SimulatorConfig
from .server import Simulator

DEMO_KEY = "ocx_demo_key"


def build_parser() -> argparse.ArgumentParser:
    """Describe the command line; every knob of SimulatorConfig has a flag."""
    parser = argparse.ArgumentParser(
        prog="python -m sources.opencx_simulator",
        description="Serve a simulated OpenCX insights API (POST /insights) for tests and demos.",
    )
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="address to bind (loopback only by default)")
    add("--port", type=int, default=0, help="port to bind; 0 picks a free one")
    add("--allow-non-loopback", action="store_true", help="permit binding a non-loopback host")
    add("--seed", type=int, default=42, help="data seed (same seed, same data)")
    add("--insights", type=int, default=3000, help="number of insights to generate")
    add("--days", type=int, default=180, help="sessions spread over this many past days")
    add("--page-size", type=int, default=50, help="server-side page size")
    add(
        "--api-key",
        action="append",
        dest="api_keys",
        metavar="KEY",
        help=f"accepted API key with full access (repeatable; default {DEMO_KEY})",
    )
    add("--rate-limit", type=int, default=None, metavar="N", help="requests per sliding minute")
    add("--retry-after", type=float, default=None, metavar="S", help="Retry-After on 429s")
    add("--latency-ms", type=float, default=0.0, metavar="MS", help="added to every response")
    add("--fault-rate", type=float, default=0.0, metavar="P", help="probability of a random 5xx")
    add("--drop-rate", type=float, default=0.0, metavar="P", help="probability of a dropped call")
    add("--fault-seed", type=int, default=0, help="seed for random faults")
    add("--extra-fields", action="store_true", help="serve undocumented fields and enum values")
    add(
        "--status-all-excludes-archived",
        action="store_true",
        help='make status "all" leave archived insights out',
    )
    add(
        "--window-scoped-counts",
        action="store_true",
        help="compute counts over the sessions matching session filters only",
    )
    add("--session-to-exclusive", action="store_true", help="treat sessionToDate as exclusive")
    return parser


def is_loopback(host: str) -> bool:
    """Tell whether binding `host` keeps the simulator private to this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def config_from_args(args: argparse.Namespace) -> SimulatorConfig:
    """Translate parsed flags into a SimulatorConfig."""
    keys = args.api_keys or [DEMO_KEY]
    return SimulatorConfig(
        seed=args.seed,
        n_insights=args.insights,
        days=args.days,
        page_size=args.page_size,
        api_keys=dict.fromkeys(keys, (FULL_ACCESS,)),
        status_all_includes_archived=not args.status_all_excludes_archived,
        window_scoped_counts=args.window_scoped_counts,
        session_to_inclusive=not args.session_to_exclusive,
        rate_limit_per_minute=args.rate_limit,
        retry_after=args.retry_after,
        latency_s=args.latency_ms / 1000,
        extra_fields=args.extra_fields,
        fault_rate=args.fault_rate,
        drop_rate=args.drop_rate,
        fault_seed=args.fault_seed,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until SIGINT or SIGTERM, then exit 0."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not is_loopback(args.host) and not args.allow_non_loopback:
        parser.error(f"refusing non-loopback host {args.host!r} without --allow-non-loopback")
    try:
        config = config_from_args(args)
    except ValueError as problem:
        parser.error(str(problem))
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    with Simulator(config, host=args.host, port=args.port) as sim:
        print(f"OPENCX_SIMULATOR_URL={sim.base_url}", flush=True)
        keys = ", ".join(config.api_keys)
        summary = (
            f"OpenCX simulator: {config.n_insights} insights (seed {config.seed}), "
            f"page size {config.page_size}, API key(s): {keys}. Ctrl-C to stop."
        )
        print(summary, flush=True)
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
