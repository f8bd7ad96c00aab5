"""API insight objects as the connector reads them: parsed, checked, marked.

Kept apart from `rows` (which builds Arrow tables) so the scan, which runs on every scheduled
run, does not import pyarrow when there is nothing to load.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sources.opencx.errors import ApiResponseError

TIMESTAMP_FIELDS = (
    "resolved_at",
    "archived_at",
    "deep_research_completed_at",
    "first_seen_at",
    "last_seen_at",
    "created_at",
    "updated_at",
)
TOMBSTONE = "_opencx_tombstone"
"""Marks a record that is not from the API but an `insights` row found missing from it."""
_INT_FIELDS = ("insight_number", "occurrence_count")


def parse_insight(item: Mapping[str, Any]) -> dict[str, Any]:
    """Copy of an API item with timestamps parsed, so cursors compare as instants, not text."""
    record = dict(item)
    for name in TIMESTAMP_FIELDS:
        record[name] = parse_api_timestamp(item.get(name), name, item)
    for name in _INT_FIELDS:
        record[name] = parse_api_int(item.get(name), name, item)
    return record


def parse_api_timestamp(value: Any, name: str, item: Mapping[str, Any]) -> datetime | None:
    """Timestamps from the API; an unparseable one stops the load rather than loading null."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise ApiResponseError(
            f"insight {item.get('id')}: {name} {value!r:.60} is not an ISO 8601 timestamp"
        ) from None
    if parsed.tzinfo is None:
        raise ApiResponseError(f"insight {item.get('id')}: {name} {value!r} has no time zone")
    return parsed


def parse_api_int(value: Any, name: str, item: Mapping[str, Any]) -> int | None:
    """Counts as integers; integral floats are accepted, anything else stops the load."""
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise ApiResponseError(f"insight {item.get('id')}: {name} {value!r:.60} is not an integer")
