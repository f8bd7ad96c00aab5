"""Evaluation of a validated `Query` against the data: filters, session windows and sorting.

Kept free of locking and caching (the store does both) so the semantics can be read in one
place. Session filters work on whole columns: each filter yields a byte mask over all sessions
and the masks are AND-ed as big integers, which keeps a 400k-session scan in tens of
milliseconds.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .data import CHANNELS, LANGUAGES, SENTIMENTS, SESSION_STATUSES, Category, Insight, SessionTable
from .serialise import Stats
from .validation import Query

Predicate = Callable[[Insight], bool]


@dataclass(frozen=True, slots=True)
class Semantics:
    """The readings of the open questions in the API docs that a result depends on."""

    status_all_includes_archived: bool = True
    window_scoped_counts: bool = False
    session_to_inclusive: bool = True


@dataclass(frozen=True, slots=True)
class Result:
    """Matching insights in served order; `scoped` holds window-scoped figures by insight id."""

    insights: list[Insight]
    scoped: dict[str, Stats] | None


def _status_predicate(status: str, all_includes_archived: bool) -> Predicate | None:
    if status == "unresolved":
        return lambda i: i.resolved_ms is None and i.archived_ms is None
    if status == "resolved":
        return lambda i: i.resolved_ms is not None and i.archived_ms is None
    if status == "archived":
        return lambda i: i.archived_ms is not None
    if all_includes_archived:
        return None
    return lambda i: i.archived_ms is None


def _insight_predicates(
    q: Query, categories: Iterable[Category], sem: Semantics
) -> list[Predicate]:
    """Collect the filters that look only at the insight row."""
    preds: list[Predicate] = []
    status = _status_predicate(q.status, sem.status_all_includes_archived)
    if status is not None:
        preds.append(status)
    if q.category is not None:
        wanted = {c.id for c in categories if c.name.lower() == q.category}
        preds.append(lambda i: i.category_id in wanted)
    if q.sentiment is not None:
        preds.append(lambda i: i.sentiment == q.sentiment)
    if q.search is not None:
        needle = q.search
        preds.append(lambda i: needle in i.content.lower())
    if q.team_id == "none":
        preds.append(lambda i: i.team_id is None)
    elif q.team_id is not None:
        preds.append(lambda i: i.team_id is not None and i.team_id.lower() == q.team_id)
    if q.insight_number is not None:
        preds.append(lambda i: i.number == q.insight_number)
    return preds


def _eq_mask(column: bytearray, code: int) -> bytes:
    """Mask sessions whose enum column equals `code`, at C speed via a translate table."""
    table = bytearray(256)
    table[code] = 1
    return bytes(column.translate(table))


def json_equal(left: object, right: object) -> bool:
    """Compare JSON values the way JavaScript would: 1 == 1.0, but true != 1 and "1" != 1."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if isinstance(left, (int, float)) and isinstance(right, (int, float)):
        return left == right
    return type(left) is type(right) and left == right


def _custom_matches(data: dict[str, Any], filters: Sequence[dict[str, Any]]) -> bool:
    """OR between filter objects, AND between the pairs inside one object (as documented)."""
    return any(
        all(key in data and json_equal(data[key], value) for key, value in wanted.items())
        for wanted in filters
    )


def _custom_mask(column: Sequence[int], pool: list[dict[str, Any]], spec: tuple[str, ...]) -> bytes:
    filters = [json.loads(item) for item in spec]
    ok = {index for index, data in enumerate(pool) if _custom_matches(data, filters)}
    return bytes(value in ok for value in column)


def _window(q: Query, to_inclusive: bool) -> tuple[int, int]:
    """Turn the microsecond bounds into an inclusive millisecond range over session times."""
    low = -(2**62) if q.session_from_us is None else -(-q.session_from_us // 1000)
    if q.session_to_us is None:
        return low, 2**62
    if to_inclusive:
        return low, q.session_to_us // 1000
    return low, -(-q.session_to_us // 1000) - 1


def session_mask(q: Query, sessions: SessionTable, to_inclusive: bool) -> bytes:
    """Mark every session that matches ALL of the query's session filters together."""
    masks: list[bytes] = []
    for column, options, value in (
        (sessions.language, LANGUAGES, q.session_language),
        (sessions.channel, CHANNELS, q.channel),
        (sessions.status, SESSION_STATUSES, q.session_status),
        (sessions.ticket_sentiment, SENTIMENTS, q.ticket_sentiment),
    ):
        if value is not None:
            masks.append(_eq_mask(column, options.index(value)))
    if q.session_contact_id is not None:
        wanted = sessions.contact_ids.get(q.session_contact_id, -1)
        masks.append(bytes(value == wanted for value in sessions.contact))
    if q.session_from_us is not None or q.session_to_us is not None:
        low, high = _window(q, to_inclusive)
        masks.append(bytes(low <= value <= high for value in sessions.created_ms))
    custom_columns: tuple[tuple[Sequence[int], tuple[str, ...] | None], ...] = (
        (sessions.ticket_data, q.ticket_custom_data),
        (sessions.contact_data, q.contact_custom_data),
    )
    for custom_column, spec in custom_columns:
        if spec is not None:
            masks.append(_custom_mask(custom_column, sessions.custom, spec))
    return _and_masks(masks, len(sessions))


def _and_masks(masks: list[bytes], size: int) -> bytes:
    if not masks:
        return b"\x01" * size
    combined = int.from_bytes(masks[0], "little")
    for mask in masks[1:]:
        combined &= int.from_bytes(mask, "little")
    return combined.to_bytes(size, "little")


def _windowed(
    candidates: list[Insight], q: Query, sessions: SessionTable, sem: Semantics
) -> tuple[list[Insight], dict[str, Stats]]:
    """Keep insights with at least one matching session, noting the matching sessions' figures."""
    mask = session_mask(q, sessions, sem.session_to_inclusive)
    created = sessions.created_ms
    kept: list[Insight] = []
    stats: dict[str, Stats] = {}
    for ins in candidates:
        hits = [created[s] for s in ins.sessions if mask[s]]
        if hits:
            kept.append(ins)
            stats[ins.id] = Stats(len(hits), min(hits), max(hits))
    return kept, stats


def _sort_value(ins: Insight, sort_by: str, stats: Stats | None) -> int | None:
    if sort_by == "created_at":
        return ins.created_ms
    if stats is None:
        stats = Stats(ins.count, ins.first_ms, ins.last_ms)
    if sort_by == "occurrence_count":
        return stats.count
    return stats.first_ms if sort_by == "first_seen_at" else stats.last_ms


def _sorted(items: list[Insight], q: Query, scoped: dict[str, Stats] | None) -> list[Insight]:
    """Order by the sort key, nulls last in both directions, ties by insight number ascending."""
    sign = -1 if q.sort_order == "desc" else 1

    def key(ins: Insight) -> tuple[bool, int, int]:
        value = _sort_value(ins, q.sort_by, None if scoped is None else scoped[ins.id])
        return (value is None, 0 if value is None else sign * value, ins.number)

    return sorted(items, key=key)


def evaluate(
    q: Query,
    insights: Iterable[Insight],
    categories: Iterable[Category],
    sessions: SessionTable,
    sem: Semantics,
) -> Result:
    """Compute the full, ordered result of a query."""
    preds = _insight_predicates(q, categories, sem)
    items = [ins for ins in insights if all(pred(ins) for pred in preds)]
    scoped: dict[str, Stats] | None = None
    if q.has_session_filters:
        items, window_stats = _windowed(items, q, sessions, sem)
        if sem.window_scoped_counts:
            scoped = window_stats
    if q.min_sessions is not None:
        minimum = q.min_sessions
        if scoped is None:
            items = [ins for ins in items if ins.count >= minimum]
        else:
            items = [ins for ins in items if scoped[ins.id].count >= minimum]
    return Result(_sorted(items, q, scoped), scoped)
