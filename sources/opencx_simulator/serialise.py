"""How insights look on the wire.

One function builds the API shape for every consumer (the HTTP pages, `ground_truth()`,
`query()`), so the simulator cannot drift from its own notion of truth.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from .data import Category, Insight, Person, Team


@dataclass(frozen=True, slots=True)
class Stats:
    """Occurrence figures of an insight, global or restricted to a session window."""

    count: int
    first_ms: int | None
    last_ms: int | None


def fmt_ms(ms: int | None) -> str | None:
    """Format like the API: RFC 3339 UTC with milliseconds and a `Z`."""
    if ms is None:
        return None
    seconds, millis = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


def dumps(value: object) -> str:
    """Encode compactly and keep non-ASCII as is, the way a Node.js server answers."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _person(person: Person | None) -> dict[str, Any] | None:
    if person is None:
        return None
    return {"name": person.name, "avatar_url": person.avatar_url}


def _archived_by(ins: Insight) -> dict[str, Any] | None:
    if ins.archived_by is None:
        return None
    return {
        "name": ins.archived_by.name,
        "avatar_url": ins.archived_by.avatar_url,
        "reason": ins.archive_reason,
    }


def _category(category: Category | None) -> dict[str, Any] | None:
    if category is None:
        return None
    return {"id": category.id, "name": category.name, "description": category.description}


def insight_dict(
    ins: Insight,
    category: Category | None,
    team: Team | None,
    stats: Stats | None = None,
) -> dict[str, Any]:
    """Build the documented API shape; `stats` overrides the occurrence figures."""
    if stats is None:
        stats = Stats(ins.count, ins.first_ms, ins.last_ms)
    return {
        "id": ins.id,
        "insight_number": ins.number,
        "content": ins.content,
        "sentiment": ins.sentiment,
        "occurrence_count": stats.count,
        "category": _category(category),
        "team": None if team is None else {"id": team.id, "name": team.name},
        "resolved_by": _person(ins.resolved_by),
        "resolved_at": fmt_ms(ins.resolved_ms),
        "archived_by": _archived_by(ins),
        "archived_at": fmt_ms(ins.archived_ms),
        "deep_research": ins.deep_research,
        "deep_research_completed_at": fmt_ms(ins.deep_research_ms),
        "first_seen_at": fmt_ms(stats.first_ms),
        "last_seen_at": fmt_ms(stats.last_ms),
        "created_at": fmt_ms(ins.created_ms),
        "updated_at": fmt_ms(ins.updated_ms),
    }


_TAGS: tuple[list[str], ...] = (["vip"], [], ["churn-risk", "vip"], ["beta"])
_SOURCE_CHANNELS = ("web_voice", "tiktok", "google_business", "web")


def _email(name: str) -> str:
    local = "".join(ch for ch in name.lower() if ch.isascii() and ch.isalnum())
    return f"{local or 'agent'}@support.example.com"


def add_extras(item: dict[str, Any], number: int) -> dict[str, Any]:
    """Add undocumented fields and enum values, derived from the insight number.

    The API grows fields and enum values without a version bump; a connector must keep them
    and not crash. Deriving them from the number keeps them stable across requests.
    """
    item["priority_score"] = round(((number * 7919) % 1000) / 1000, 3)
    item["tags"] = list(_TAGS[number % len(_TAGS)])
    item["source_channel"] = _SOURCE_CHANNELS[number % len(_SOURCE_CHANNELS)]
    item["metadata"] = {"model": "insight-v3", "cluster": number % 97}
    if item["sentiment"] == "angry" and number % 4 == 0:
        item["sentiment"] = "frustrated"
    elif item["sentiment"] == "neutral" and number % 9 == 0:
        item["sentiment"] = "mixed"
    if item["category"] is not None:
        item["category"]["color"] = f"#{(number * 2654435761) % 0xFFFFFF:06x}"
    if item["team"] is not None:
        item["team"]["slack_channel"] = "#support-" + str(number % 8)
    if item["resolved_by"] is not None:
        item["resolved_by"]["email"] = _email(item["resolved_by"]["name"])
    return item


def null_objects(item: dict[str, Any]) -> dict[str, Any]:
    """Blank every nested object, as the API does when a join comes back empty."""
    for key in ("category", "team", "resolved_by", "archived_by"):
        item[key] = None
    return item
