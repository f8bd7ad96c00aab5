"""A deliberately naive re-implementation of the documented query semantics.

Works from the store's public ground truth and raw sessions, shares no code with the simulator's
filter engine, and favours obviousness over speed: if both agree, the engine is right.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sources.opencx_simulator import Simulator

SESSION_KEYS = (
    "sessionLanguage",
    "ticketSentiment",
    "channel",
    "sessionFromDate",
    "sessionToDate",
    "sessionStatus",
    "sessionContactId",
    "ticketCustomData",
    "contactCustomData",
)


def parse_time(text: str) -> datetime:
    """Read the few ISO 8601 forms the tests send, plus the API's own timestamps."""
    if len(text) == 10:
        return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def stamp(moment: datetime) -> str:
    """Format like the API does."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _status_ok(row: dict[str, Any], status: str, all_includes_archived: bool) -> bool:
    resolved, archived = row["resolved_at"] is not None, row["archived_at"] is not None
    return {
        "unresolved": not resolved and not archived,
        "resolved": resolved and not archived,
        "archived": archived,
        "all": all_includes_archived or not archived,
    }[status]


def insight_ok(row: dict[str, Any], body: dict[str, Any], sim: Simulator) -> bool:
    """Apply the filters that look at the insight alone (minSessions is applied later)."""
    if not _status_ok(row, body.get("status") or "all", sim.config.status_all_includes_archived):
        return False
    if body.get("category") is not None and (
        row["category"] is None or row["category"]["name"].lower() != body["category"].lower()
    ):
        return False
    if body.get("sentiment") is not None and row["sentiment"] != body["sentiment"]:
        return False
    if body.get("search") is not None and body["search"].lower() not in row["content"].lower():
        return False
    if body.get("insightNumber") is not None and row["insight_number"] != body["insightNumber"]:
        return False
    team = body.get("teamId")
    if team == "none":
        return row["team"] is None
    return team is None or (row["team"] is not None and row["team"]["id"] == team.lower())


def _custom_ok(data: dict[str, Any], filters: list[dict[str, Any]] | None) -> bool:
    if not filters:
        return True
    for wanted in filters:
        if all(
            key in data and type(data[key]) is type(value) and data[key] == value
            for key, value in wanted.items()
        ):
            return True
    return False


def session_ok(session: dict[str, Any], body: dict[str, Any], sim: Simulator) -> bool:
    """Check one session against all session filters together."""
    pairs = (
        ("sessionLanguage", "language"),
        ("ticketSentiment", "ticket_sentiment"),
        ("channel", "channel"),
        ("sessionStatus", "status"),
    )
    for key, attr in pairs:
        if body.get(key) is not None and session[attr] != body[key]:
            return False
    contact = body.get("sessionContactId")
    if contact is not None and session["contact_id"] != contact.lower():
        return False
    created: datetime = session["created_at"]
    if body.get("sessionFromDate") and created < parse_time(body["sessionFromDate"]):
        return False
    if body.get("sessionToDate"):
        end = parse_time(body["sessionToDate"])
        if created > end or (created == end and not sim.config.session_to_inclusive):
            return False
    return _custom_ok(session["ticket_custom_data"], body.get("ticketCustomData")) and _custom_ok(
        session["contact_custom_data"], body.get("contactCustomData")
    )


def _sorted(rows: list[dict[str, Any]], body: dict[str, Any]) -> list[dict[str, Any]]:
    key = body.get("sortBy") or "occurrence_count"
    descending = (body.get("sortOrder") or "desc") == "desc"
    by_number = sorted(rows, key=lambda r: r["insight_number"])
    present = [r for r in by_number if r[key] is not None]
    missing = [r for r in by_number if r[key] is None]
    # Timestamps share one fixed-width format, so string order is time order; sort is stable,
    # also with reverse=True, so equal keys stay in insight-number order.
    present.sort(key=lambda r: r[key], reverse=descending)
    return present + missing


def has_session_filters(body: dict[str, Any]) -> bool:
    """Tell whether the body restricts sessions (an empty custom-data list does not)."""
    return any(body.get(key) not in (None, []) for key in SESSION_KEYS)


def expected(sim: Simulator, body: dict[str, Any]) -> list[dict[str, Any]]:
    """Compute what paging POST /insights with `body` must return, the slow obvious way."""
    rows: list[dict[str, Any]] = []
    for row in sim.store.ground_truth():
        if not insight_ok(row, body, sim):
            continue
        if has_session_filters(body):
            hits = [
                s["created_at"] for s in sim.store.sessions(row["id"]) if session_ok(s, body, sim)
            ]
            if not hits:
                continue
            if sim.config.window_scoped_counts:
                row.update(
                    occurrence_count=len(hits),
                    first_seen_at=stamp(min(hits)),
                    last_seen_at=stamp(max(hits)),
                )
        if body.get("minSessions") is not None and row["occurrence_count"] < body["minSessions"]:
            continue
        rows.append(row)
    return _sorted(rows, body)
