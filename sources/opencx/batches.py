"""Run-level bookkeeping of a scan: ids seen, entities emitted, counts, batching.

Kept apart from the paging in `scan` because it is about *this run's* output (what to hand to
dlt and what to report), not about how to talk to the API.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sources.opencx.client import RequestStats

if TYPE_CHECKING:
    import pyarrow as pa


@dataclass
class WindowProgress:
    """Activity windows planned and read in this run.

    The activity scan reads one session-date window after the other; on a long run the
    progress display (another thread) shows how many are done of how many planned.
    """

    planned: int = 0
    done: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def plan(self, windows: int) -> None:
        """Add windows to read."""
        with self._lock:
            self.planned += windows

    def window_done(self) -> None:
        """Count one window read completely."""
        with self._lock:
            self.done += 1

    def snapshot(self) -> tuple[int, int]:
        """(done, planned) at one instant."""
        with self._lock:
            return self.done, self.planned


@dataclass
class ScanStats:
    """What one run's scans did: ids seen (for reconciliation) and counts for the summary."""

    strategy: str = "not started"
    requests: RequestStats = field(default_factory=RequestStats)
    windows: WindowProgress = field(default_factory=WindowProgress)
    seen_ids: set[str] = field(default_factory=set)
    saw_archived: bool = False
    duplicates: int = 0
    deleted: int = 0
    unchanged: int = 0
    unstable: bool = False
    # reconciliation: insights the scan did not return, those a GET found alive (and merged),
    # and why no deletion was marked when candidates were left unconfirmed
    missing: int = 0
    found_alive: int = 0
    deletions_withheld: str | None = None
    # one-line remarks the run summary must show (e.g. why count_scope fell back to unknown)
    notes: list[str] = field(default_factory=list)

    def as_metrics(self) -> dict[str, Any]:
        """Plain values for dlt's custom resource metrics."""
        return {
            "strategy": self.strategy,
            "requests": self.requests.requests,
            "retries": self.requests.retries,
            "duplicates_skipped": self.duplicates,
            "marked_deleted": self.deleted,
            "unchanged_skipped": self.unchanged,
        }


class SeenEntities:
    """Categories, teams and people already emitted in this run.

    They repeat on almost every page; emitting each version once per run keeps the merge small
    and the row counts in the summary meaningful. A changed name is emitted again (latest wins).
    """

    def __init__(self) -> None:
        self._seen: dict[str, set[tuple[Any, ...]]] = {}

    def only_changed(self, table_name: str, table: pa.Table | None) -> pa.Table | None:
        """The rows of `table` not emitted before in this run, or None if there are none."""
        if table is None:
            return None
        seen = self._seen.setdefault(table_name, set())
        keep = []
        for index, row in enumerate(zip(*(col.to_pylist() for col in table.columns), strict=True)):
            if row not in seen:
                seen.add(row)
                keep.append(index)
        if not keep:
            return None
        return table if len(keep) == table.num_rows else table.take(keep)


def unique_records(
    pages: Iterator[list[dict[str, Any]]], scan_stats: ScanStats
) -> Iterator[list[dict[str, Any]]]:
    """Drop insights already seen in this run.

    Rows shift between pages while we page (a new session moves an insight up), so the same
    insight can come twice; one version per insight per load keeps merge and scd2 exact.
    """
    seen = scan_stats.seen_ids
    for records in pages:
        fresh = []
        for record in records:
            if record["id"] in seen:
                scan_stats.duplicates += 1
                continue
            seen.add(record["id"])
            if record.get("archived_at") is not None:
                scan_stats.saw_archived = True
            fresh.append(record)
        if fresh:
            yield fresh


def batched_records(
    pages: Iterator[list[dict[str, Any]]], batch_rows: int
) -> Iterator[list[dict[str, Any]]]:
    """Regroup pages into batches of at least `batch_rows` records (the last may be smaller)."""
    batch: list[dict[str, Any]] = []
    for records in pages:
        batch.extend(records)
        if len(batch) >= batch_rows:
            yield batch
            batch = []
    if batch:
        yield batch
