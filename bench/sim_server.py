"""Bench-only launcher of the OpenCX simulator, in its own process, with a stdin admin channel.

``python -m bench.sim_server [simulator flags] [--inject-429-rate P --inject-seed S]``

Starts ``sources.opencx_simulator.Simulator`` exactly as ``python -m sources.opencx_simulator``
does (same flags, same config), prints ``OPENCX_SIMULATOR_URL=...`` as its first stdout line, then
answers one JSON command per stdin line with one JSON line on stdout. It stops on ``{"cmd":
"stop"}`` or when stdin closes, so a crashed harness never leaves it running.

Commands: ``mark`` (index of the next recorded request), ``stats`` (POST /insights received
since a mark, by status), ``snapshot`` (newest ``last_seen_at`` and total), ``count_since``
(insights with ``last_seen_at`` at or after a time), ``bump`` (``store.bump_counts``: K insights
get 1-5 new sessions now), ``ids`` (every live insight id).

``--inject-429-rate`` answers that share of requests with the simulator's own 429 reply (and its
``Retry-After``), drawn from a seeded RNG independent of the simulator's random 5xx/drops. The
simulator's real limiter counts a sliding 60 s window, so provoking 429s with it costs at least a
minute per run; injected ones keep the faults case to seconds, on the same schedule for every
client (request n gets the same answer whoever sends it).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import threading
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any

from sources.opencx_simulator import FaultQueue, Simulator
from sources.opencx_simulator.__main__ import build_parser, config_from_args, is_loopback
from sources.opencx_simulator.faults import Fault, FaultKind


class Injected429s(FaultQueue):
    """Scripted faults first; otherwise a seeded share of requests gets a 429."""

    def __init__(self, rate: float, seed: int) -> None:
        super().__init__()
        self._rate = rate
        self._rng = random.Random(seed)
        self._rng_lock = threading.Lock()

    def pop(self) -> Fault | None:
        """Draw for every request (so the schedule only depends on the request's index)."""
        with self._rng_lock:
            hit = self._rng.random() < self._rate
        scripted = super().pop()
        if scripted is not None:
            return scripted
        return Fault(FaultKind.RATE_LIMITED) if hit else None


def _parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _fmt(moment: datetime) -> str:
    moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _last_seen(sim: Simulator) -> list[str]:
    return [str(i["last_seen_at"]) for i in sim.store.ground_truth() if i.get("last_seen_at")]


def handle(sim: Simulator, command: dict[str, Any]) -> dict[str, Any]:
    """Answer one admin command."""
    name = command.get("cmd")
    if name == "mark":
        return {"index": len(sim.requests)}
    if name == "stats":
        since = int(command.get("since", 0))
        posts = [r for r in sim.requests[since:] if r.method == "POST" and r.path == "/insights"]
        statuses = Counter(str(r.status) for r in posts)
        span = max(r.at for r in posts) - min(r.at for r in posts) if posts else 0.0
        return {
            "posts": len(posts),
            "by_status": dict(statuses),
            "span_s": round(span, 3),
            "errors": len(sim.errors),
        }
    if name == "snapshot":
        seen = _last_seen(sim)
        return {"max_last_seen": max(seen) if seen else None, "total": len(sim.store.insight_ids())}
    if name == "count_since":
        hours = timedelta(hours=float(command.get("hours", 0)))
        threshold = _fmt(_parse_iso(str(command["since"])) - hours)
        seen = _last_seen(sim)
        return {"threshold": threshold, "count": sum(1 for s in seen if s >= threshold)}
    if name == "bump":
        ids = sim.store.bump_counts(int(command["k"]), int(command.get("seed", 0)))
        return {"ids": ids}
    if name == "ids":
        return {"ids": sim.store.insight_ids()}
    raise ValueError(f"unknown command {name!r}")


def main(argv: list[str] | None = None) -> int:
    """Serve until `stop` or end of stdin."""
    parser = build_parser()
    parser.prog = "python -m bench.sim_server"
    parser.add_argument("--inject-429-rate", type=float, default=0.0)
    parser.add_argument("--inject-seed", type=int, default=0)
    args: argparse.Namespace = parser.parse_args(argv)
    if not is_loopback(args.host):
        parser.error("the bench simulator only binds loopback addresses")
    sim = Simulator(config_from_args(args), host=args.host, port=args.port)
    if args.inject_429_rate > 0:
        sim.faults = Injected429s(args.inject_429_rate, args.inject_seed)
    with sim:
        print(f"OPENCX_SIMULATOR_URL={sim.base_url}", flush=True)
        for line in sys.stdin:
            if not line.strip():
                continue
            try:
                command = json.loads(line)
                if command.get("cmd") == "stop":
                    print(json.dumps({"ok": True}), flush=True)
                    break
                reply = {"ok": True, **handle(sim, command)}
            except Exception as error:
                reply = {"ok": False, "error": repr(error)}
            print(json.dumps(reply), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
