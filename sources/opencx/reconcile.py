"""Reconciliation: after a complete full scan, find the insights the API no longer returns.

Resolving, archiving or deleting an insight does not move `last_seen_at`, so only a full scan
sees them. Deletions are recorded, not applied: the `insights` row stays, with `deleted_at` set
to the time the scan found it missing, and its history gets a closing version. Nothing is marked
unless the scan finished and covered the whole population (no narrowing filters).

Absence from a scan is only a *candidate* deletion: offset paging skips a live row whenever an
earlier row is deleted while we page, and a creation at the same time keeps `total` unchanged,
so no scan-level check can tell. Each candidate is therefore asked for by id: 404 confirms the
deletion, 200 proves it alive (its answer is merged, which also repairs the skipped row), and
any other answer marks nothing at all. A warehouse that calls an open insight gone is worse
than one that learns of a deletion a day late.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import dlt

from sources.opencx import settings
from sources.opencx.batches import ScanStats
from sources.opencx.client import OpenCXClient
from sources.opencx.errors import OpenCXError
from sources.opencx.records import TOMBSTONE, parse_insight

LOOKUP_CHUNK = 500
# Filters that keep the population whole; any other filter makes absence meaningless.
NON_NARROWING = frozenset({"sortBy", "sortOrder"})
CONFIG_KEY = "sources.opencx.max_deletion_checks"


def covers_everything(filters_body: dict[str, Any], start_page: int) -> bool:
    """Whether a full scan with these filters sees every insight (so absence means deletion)."""
    narrowing = {k for k in filters_body if k not in NON_NARROWING}
    if filters_body.get("status") == "all":
        narrowing.discard("status")
    return not narrowing and start_page == 1


@dataclass
class Confirmation:
    """What `GET /insights/{id}` said about the candidates that were asked about."""

    gone: list[str] = field(default_factory=list)
    alive: list[dict[str, Any]] = field(default_factory=list)
    unexpected: str | None = None


def confirmed_changes(
    client: OpenCXClient,
    scan_stats: ScanStats,
    found_missing_at: datetime,
    max_checks: int,
) -> Iterator[list[dict[str, Any]]]:
    """Batches to load after a complete scan: insights found alive, then confirmed tombstones.

    Within `max_checks` candidates every one is asked about. Beyond it the scan itself is
    suspect (a real tenant does not lose thousands of insights in a day): a sample is asked,
    its live insights are merged, and nothing is marked; `deletions_withheld` says why.
    """
    candidates = sorted(_live_ids() - scan_stats.seen_ids)
    scan_stats.missing = len(candidates)
    if not candidates:
        return
    too_many = len(candidates) > max_checks
    asked = evenly_spaced(candidates, settings.DELETION_SAMPLE) if too_many else candidates
    outcome = confirm(client, asked)
    if outcome.alive:
        scan_stats.found_alive = len(outcome.alive)
        scan_stats.seen_ids.update(record["id"] for record in outcome.alive)
        yield outcome.alive
    scan_stats.deletions_withheld = withheld_reason(outcome, len(candidates), max_checks)
    if scan_stats.deletions_withheld is None:
        for batch in tombstones(outcome.gone, found_missing_at):
            scan_stats.deleted += len(batch)
            yield batch


def withheld_reason(outcome: Confirmation, candidates: int, max_checks: int) -> str | None:
    """Why no deletion may be marked this run, or None when every candidate was confirmed."""
    if outcome.unexpected is not None:
        return (
            f"{candidates} insights were missing from the reconciliation scan but checking them "
            f"gave an unexpected answer ({outcome.unexpected}); none were marked deleted"
        )
    if candidates > max_checks:
        asked = len(outcome.gone) + len(outcome.alive)
        return (
            f"{candidates} insights were missing from the reconciliation scan, more than "
            f"{CONFIG_KEY}={max_checks}; of a sample of {asked}, {len(outcome.gone)} were gone "
            f"and {len(outcome.alive)} still there; none were marked deleted (raise "
            f"{CONFIG_KEY} if that many deletions are expected)"
        )
    return None


def evenly_spaced(ids: Sequence[str], count: int) -> list[str]:
    """`count` ids spread over the sorted candidates: repeatable, and not just the oldest."""
    if len(ids) <= count:
        return list(ids)
    step = len(ids) / count
    return [ids[int(index * step)] for index in range(count)]


def confirm(client: OpenCXClient, ids: Sequence[str]) -> Confirmation:
    """Ask `GET /insights/{id}` for each id, with the client's connections and pacing."""
    outcome = Confirmation()
    workers = max(1, min(client.settings.max_connections, len(ids)))
    with ThreadPoolExecutor(workers, thread_name_prefix="opencx-confirm") as pool:
        for insight_id, answer in zip(ids, pool.map(lambda i: _ask(client, i), ids), strict=True):
            if isinstance(answer, str):
                outcome.unexpected = outcome.unexpected or answer
            elif answer is None:
                outcome.gone.append(insight_id)
            else:
                outcome.alive.append(answer)
    return outcome


def _ask(client: OpenCXClient, insight_id: str) -> dict[str, Any] | str | None:
    """The parsed insight, None for 404, or a description of an answer we cannot trust."""
    try:
        raw = client.get_insight(insight_id)
    except OpenCXError as exc:
        return f"GET /insights/{insight_id}: {exc}"
    if raw is None:
        return None
    answered = raw.get("id")
    if not isinstance(answered, str) or answered.lower() != insight_id.lower():
        return f"GET /insights/{insight_id} answered with another insight ({answered!r:.60})"
    return parse_insight(raw)


def tombstones(gone: Sequence[str], found_missing_at: datetime) -> Iterator[list[dict[str, Any]]]:
    """Current `insights` rows of confirmed deletions, with `deleted_at` set."""
    for start in range(0, len(gone), LOOKUP_CHUNK):
        rows = _rows_by_id(list(gone[start : start + LOOKUP_CHUNK]))
        for row in rows:
            row["deleted_at"] = found_missing_at
            row[TOMBSTONE] = True
        if rows:
            yield rows


def _live_ids() -> set[str]:
    # imported here, not at start-up: `stored` imports pyarrow.compute and builds an Arrow
    # table at import (which imports pandas); only a reconciliation reads the destination back
    from sources.opencx import stored  # noqa: PLC0415

    return stored.live_ids(dlt.current.pipeline())


def _rows_by_id(ids: list[str]) -> list[dict[str, Any]]:
    from sources.opencx import stored  # noqa: PLC0415 - see _live_ids

    return stored.rows_by_id(dlt.current.pipeline(), ids)
