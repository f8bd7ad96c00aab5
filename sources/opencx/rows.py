"""Turns API insight objects into Arrow tables for the four public tables.

Arrow tables go through dlt's fast path (no per-row Python normalisation), which is what keeps a
100k-insight load close to the cost of the HTTP itself. Fields the API adds after this connector
was written are kept, as text columns named after the field (JSON text for objects and lists),
so an API change never drops data or breaks a load on a type clash.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import pyarrow as pa

from sources.opencx import schema
from sources.opencx.records import TIMESTAMP_FIELDS, TOMBSTONE

NESTED_FIELDS = ("category", "team", "resolved_by", "archived_by")
_DIRECT_FIELDS = ("id", "insight_number", "content", "sentiment", "occurrence_count",
                  "deep_research", *TIMESTAMP_FIELDS)  # fmt: skip
_KNOWN_INSIGHT_FIELDS = frozenset((*_DIRECT_FIELDS, *NESTED_FIELDS))


def person_key(person: Mapping[str, Any] | None) -> str | None:
    """Stable key for a person; the API gives people no id, only a name and an avatar."""
    if not isinstance(person, Mapping):
        return None
    name, avatar = person.get("name"), person.get("avatar_url")
    if name is None and avatar is None:
        return None
    return _hash_person(str(name or ""), str(avatar or ""))


@functools.lru_cache(maxsize=4096)
def _hash_person(name: str, avatar: str) -> str:
    """A tenant has few people and they repeat on every page: hash each pair once."""
    return hashlib.sha256(f"{name}\x1f{avatar}".encode()).hexdigest()[:32]


def derive_status(record: Mapping[str, Any]) -> str:
    """The status filter's meaning, as a column: archived wins over resolved."""
    if record.get("archived_at") is not None:
        return "archived"
    if record.get("resolved_at") is not None:
        return "resolved"
    return "unresolved"


def insights_table(records: Sequence[Mapping[str, Any]]) -> pa.Table:
    """One row per insight with foreign keys in place of nested objects."""
    return _insights_from_columns(records, _insight_columns(records))


def insight_and_history_tables(records: Sequence[Mapping[str, Any]]) -> tuple[pa.Table, pa.Table]:
    """`insights` and `insight_history` rows of one batch of API insights.

    The version hashes are computed from the Python values the insights table is built from:
    reading them back out of Arrow (`history_table`) costs four times as much per row.
    """
    columns = _insight_columns(records)
    table = _insights_from_columns(records, columns)
    tracked = (columns["id"], *(columns[name] for name in schema.HISTORY_TRACKED))
    return table, _history_from(table, version_hashes(tracked, _TRACKED_TIMESTAMPS))


def _insight_columns(records: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    columns: dict[str, list[Any]] = {
        name: [r.get(name) for r in records] for name in _DIRECT_FIELDS
    }
    archived_by = [_obj(r, "archived_by") for r in records]
    columns["status"] = [derive_status(r) for r in records]
    columns["category_id"] = [_obj(r, "category").get("id") for r in records]
    columns["team_id"] = [_obj(r, "team").get("id") for r in records]
    columns["resolved_by_key"] = [person_key(_obj(r, "resolved_by")) for r in records]
    columns["archived_by_key"] = [person_key(a) for a in archived_by]
    columns["archive_reason"] = [a.get("reason") for a in archived_by]
    columns["deleted_at"] = [None] * len(records)  # ours, set only by reconciliation
    return columns


def _insights_from_columns(
    records: Sequence[Mapping[str, Any]], columns: dict[str, list[Any]]
) -> pa.Table:
    table = pa.table(columns, schema=schema.arrow_schema(schema.INSIGHTS))
    return _with_extras(table, records, _KNOWN_INSIGHT_FIELDS)


def flat_insights_table(flat_rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    """`insights` rows read back from the destination (tombstones), extras kept as text."""
    known = schema.INSIGHT_COLUMNS
    table = pa.table(
        {col.name: [row.get(col.name) for row in flat_rows] for col in known},
        schema=schema.arrow_schema(schema.INSIGHTS),
    )
    names = frozenset(col.name for col in known) | {TOMBSTONE}
    return _with_extras(table, flat_rows, names)


def history_table(insights: pa.Table) -> pa.Table:
    """The tracked state of each insight, from an `insights` Arrow table (one version each)."""
    tracked = insights.select(["id", *schema.HISTORY_TRACKED])
    hashes = [
        version_hash(row) for row in zip(*(c.to_pylist() for c in tracked.columns), strict=True)
    ]
    return _history_from(insights, hashes)


def _history_from(insights: pa.Table, hashes: list[str]) -> pa.Table:
    tracked = insights.select(["id", *schema.HISTORY_TRACKED])
    tracked = tracked.append_column(schema.VERSION_HASH, pa.array(hashes, pa.string()))
    return tracked.rename_columns(
        ["insight_id", *schema.HISTORY_TRACKED, schema.VERSION_HASH]
    ).cast(schema.arrow_schema(schema.HISTORY))


def with_load_id_column(table: pa.Table) -> pa.Table:
    """`table` with dlt's `_dlt_load_id` column after its own, empty.

    dlt writes the load's id into it at extraction (`sources.opencx.table_hints` says when
    and why).
    """
    return table.append_column(
        pa.field(schema.LOAD_ID, pa.string()), pa.nulls(table.num_rows, pa.string())
    )


def with_open_validity(history: pa.Table, valid_from: datetime) -> pa.Table:
    """`history` rows as dlt's scd2 writes new versions: valid from `valid_from`, still open.

    Microseconds in UTC, the precision of dlt's boundary literal on the SQL destinations.
    """
    moment = pa.timestamp("us", tz="UTC")
    rows = history.num_rows
    start = pa.array([valid_from.astimezone(timezone.utc)] * rows, moment)
    return history.append_column(schema.VALID_FROM, start).append_column(
        schema.VALID_TO, pa.nulls(rows, moment)
    )


_ZERO = timedelta(0)
_IS_TIMESTAMP = {col.name: col.data_type == schema.TIMESTAMP for col in schema.INSIGHT_COLUMNS}
_TRACKED_TIMESTAMPS = (False, *(_IS_TIMESTAMP[name] for name in schema.HISTORY_TRACKED))  # id first


def version_hash(values: Sequence[Any]) -> str:
    """Stable hash of one version's values (the insight id included).

    Timestamps hash as their UTC ISO form, the form they have once stored, whatever offset the
    API wrote them with.
    """
    text = "\x1f".join(
        "" if v is None else (_utc_iso(v) if isinstance(v, datetime) else str(v)) for v in values
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def version_hashes(columns: Sequence[Sequence[Any]], timestamps: Sequence[bool]) -> list[str]:
    """`version_hash` of each row of `columns`, each column turned into text in one pass.

    `timestamps` says which columns hold `datetime`s (or None): parsed API timestamps do, and
    JSON never yields a `datetime` anywhere else, so the per-value type test is not needed.
    """
    texts = [
        ["" if v is None else _utc_iso(v) for v in column]
        if is_timestamp
        else ["" if v is None else str(v) for v in column]
        for column, is_timestamp in zip(columns, timestamps, strict=True)
    ]
    sha256 = hashlib.sha256
    return [
        sha256("\x1f".join(row).encode("utf-8")).hexdigest()[:32]
        for row in zip(*texts, strict=True)
    ]


def _utc_iso(moment: datetime) -> str:
    if moment.utcoffset() != _ZERO:
        moment = moment.astimezone(timezone.utc)
    return moment.isoformat()


def activity_table(
    records: Sequence[Mapping[str, Any]],
    window: tuple[datetime, datetime],
    count_scope: str,
    filters_json: str,
) -> pa.Table:
    """One row per insight returned for a session-date window."""
    size = len(records)
    return pa.table(
        {
            "window_start": [window[0]] * size,
            "insight_id": [r["id"] for r in records],
            "window_end": [window[1]] * size,
            "occurrence_count": [r.get("occurrence_count") for r in records],
            "count_scope": [count_scope] * size,
            "first_seen_at": [r.get("first_seen_at") for r in records],
            "last_seen_at": [r.get("last_seen_at") for r in records],
            "filters": [filters_json] * size,
        },
        schema=schema.arrow_schema(schema.ACTIVITY),
    )


def categories_table(records: Iterable[Mapping[str, Any]]) -> pa.Table | None:
    """Distinct categories referenced by a page (the last occurrence wins)."""
    return _entity_table(schema.CATEGORIES, (_obj(r, "category") for r in records), "id")


def teams_table(records: Iterable[Mapping[str, Any]]) -> pa.Table | None:
    """Distinct teams referenced by a page."""
    return _entity_table(schema.TEAMS, (_obj(r, "team") for r in records), "id")


def people_table(records: Iterable[Mapping[str, Any]]) -> pa.Table | None:
    """Distinct people who resolved or archived something on a page, keyed by `person_key`."""
    # by the text `person_key` hashes, so the key is computed once per person, not per mention;
    # the first mention fixes the order, the last one the values, as `_entity_table` does
    mentioned: dict[tuple[str, str], Mapping[str, Any]] = {}
    for record in records:
        for field in ("resolved_by", "archived_by"):
            person = _obj(record, field)
            name, avatar = person.get("name"), person.get("avatar_url")
            if name is not None or avatar is not None:
                mentioned[(str(name or ""), str(avatar or ""))] = person
    people = [
        {"person_key": _hash_person(*identity), **{k: v for k, v in p.items() if k != "reason"}}
        for identity, p in mentioned.items()
    ]
    return _entity_table(schema.PEOPLE, people, "person_key")


def _entity_table(
    table_name: str, entities: Iterable[Mapping[str, Any]], key: str
) -> pa.Table | None:
    distinct = {e[key]: e for e in entities if isinstance(e.get(key), str)}
    if not distinct:
        return None
    rows = list(distinct.values())
    cols = schema.TABLE_COLUMNS[table_name]
    table = pa.table(
        {col.name: [row.get(col.name) for row in rows] for col in cols},
        schema=schema.arrow_schema(table_name),
    )
    return _with_extras(table, rows, frozenset(col.name for col in cols))


_NO_OBJECT: Mapping[str, Any] = {}


def _obj(record: Mapping[str, Any], field: str) -> Mapping[str, Any]:
    value = record.get(field)
    return value if isinstance(value, dict) else _NO_OBJECT


def _with_extras(
    table: pa.Table, rows: Sequence[Mapping[str, Any]], known: frozenset[str]
) -> pa.Table:
    """Append undocumented fields as text columns (JSON for non-strings)."""
    extra_names = sorted(set().union(*rows) - known)  # every row's keys, gathered in C
    for name in extra_names:
        values = [_as_text(row.get(name)) for row in rows]
        column = f"api_{name}" if name in table.column_names else name
        table = table.append_column(pa.field(column, pa.string()), pa.array(values, pa.string()))
    return table


def _as_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
