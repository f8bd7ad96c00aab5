"""The physical floor of the local side: httpx fetching every page, DuckDB bulk-loading raw JSON.

``python -m bench.baseline_floor --base-url URL --api-key KEY --duckdb-path PATH
[--connections 4] [--retries] [--sort created_at]``

No dlt, no parsing in Python beyond page 1's ``totalPages``: each page body is appended as one
line to an NDJSON file, then one DuckDB transaction unnests ``data`` from all lines into a table.
With ``--connections N > 1`` pages 2..totalPages are fetched by N threads over N pooled
connections. ``--retries`` retries 429 / 5xx / connection errors with the connector's policy
(``Retry-After`` when given, else full-jitter exponential backoff 0.5 s x 2^(attempt-1), at most
8 attempts), so the faults case compares like with like.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import httpx

RETRYABLE = {408, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524}


class Fetcher:
    """POST /insights pages with an optional simple retry policy."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.client = httpx.Client(
            base_url=args.base_url,
            headers={"Authorization": f"Bearer {args.api_key}"},
            timeout=30.0,
            limits=httpx.Limits(
                max_connections=args.connections, max_keepalive_connections=args.connections
            ),
        )
        self.body = {"sortBy": args.sort, "sortOrder": "asc"}
        self.attempts = args.max_attempts if args.retries else 1
        self.backoff = args.backoff_base
        self.rng = random.Random(0)
        self.requests = 0
        self.retries = 0
        self._lock = threading.Lock()

    def page(self, number: int) -> bytes:
        """One page's raw body; retries per the policy, raises when out of attempts."""
        for attempt in range(1, self.attempts + 1):
            with self._lock:
                self.requests += 1
            wait: float | None = None
            try:
                response = self.client.post("/insights", json={**self.body, "page": number})
            except httpx.TransportError:
                if attempt == self.attempts:
                    raise
            else:
                if response.status_code == 200:
                    return response.content
                if response.status_code not in RETRYABLE or attempt == self.attempts:
                    response.raise_for_status()
                    raise RuntimeError(f"unexpected status {response.status_code}")
                header = response.headers.get("Retry-After")
                wait = float(header) if header else None
            with self._lock:
                self.retries += 1
                jitter = self.rng.uniform(0, 1)
            if wait is None:
                wait = jitter * min(60.0, self.backoff * 2 ** (attempt - 1))
            time.sleep(wait)
        raise RuntimeError("unreachable")


def fetch_all(fetcher: Fetcher, connections: int) -> Iterator[bytes]:
    """Every page body, page 1 first; the rest sequentially or over `connections` threads."""
    first = fetcher.page(1)
    yield first
    total_pages = int(json.loads(first)["totalPages"])
    rest = range(2, total_pages + 1)
    if connections <= 1:
        for number in rest:
            yield fetcher.page(number)
        return
    with ThreadPoolExecutor(max_workers=connections) as pool:
        yield from pool.map(fetcher.page, rest)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.baseline_floor")
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--duckdb-path", required=True)
    parser.add_argument("--connections", type=int, default=1)
    parser.add_argument("--retries", action="store_true")
    parser.add_argument("--max-attempts", type=int, default=8)
    parser.add_argument("--backoff-base", type=float, default=0.5)
    parser.add_argument("--sort", default="created_at")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    fetcher = Fetcher(args)
    with tempfile.TemporaryDirectory(dir=Path(args.duckdb_path).parent) as tmp:
        raw = Path(tmp) / "pages.ndjson"
        with raw.open("wb") as out:
            for body in fetch_all(fetcher, args.connections):
                out.write(body.rstrip(b"\n") + b"\n")
        fetcher.client.close()
        fetched = time.perf_counter()
        con = duckdb.connect(args.duckdb_path)
        try:
            con.execute("BEGIN")
            con.execute(
                "CREATE TABLE insights AS SELECT unnest(data, max_depth := 2) "
                "FROM read_json(?, format = 'newline_delimited', "
                "maximum_object_size = 67108864)",
                [str(raw)],
            )
            con.execute("COMMIT")
            row = con.execute("SELECT count(*) FROM insights").fetchone()
        finally:
            con.close()
    rows = int(row[0]) if row else 0
    print(
        f"floor: rows {rows}, requests {fetcher.requests} (retries {fetcher.retries}), "
        f"fetch {fetched - started:.2f} s, load {time.perf_counter() - fetched:.2f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
