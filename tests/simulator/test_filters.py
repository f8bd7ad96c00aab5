"""Every documented filter, checked over real HTTP against a brute-force reference."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest

from sources.opencx_simulator import Simulator

from .conftest import AUTH, NOW, fetch_all, make_config
from .reference import expected

BodyFactory = Callable[[Simulator], dict[str, Any]]


def _team(sim: Simulator) -> str:
    return sim.store.team_ids()[2]


def _busy_contact(sim: Simulator) -> str:
    counts: dict[str, int] = {}
    for insight_id in sim.store.insight_ids()[:100]:
        for session in sim.store.sessions(insight_id):
            counts[session["contact_id"]] = counts.get(session["contact_id"], 0) + 1
    return max(counts, key=lambda contact: counts[contact])


def _iso(days_ago: int) -> str:
    return (NOW - timedelta(days=days_ago)).isoformat().replace("+00:00", "Z")


CASES: dict[str, BodyFactory] = {
    "no-filter": lambda _: {},
    "all-null-fields-mean-unset": lambda _: {"status": None, "search": None, "teamId": None},
    "status-all": lambda _: {"status": "all"},
    "status-unresolved": lambda _: {"status": "unresolved"},
    "status-resolved": lambda _: {"status": "resolved"},
    "status-archived": lambda _: {"status": "archived"},
    "sentiment-angry": lambda _: {"sentiment": "angry"},
    "sentiment-happy": lambda _: {"sentiment": "happy"},
    "sentiment-neutral": lambda _: {"sentiment": "neutral"},
    "category-exact-name": lambda _: {"category": "Billing"},
    "category-case-insensitive": lambda _: {"category": "LOGIN & ACCESS"},
    "category-unicode-name": lambda _: {"category": "zahlung & rückerstattung"},
    "category-unknown-matches-nothing": lambda _: {"category": "Bill"},
    "search-substring": lambda _: {"search": "password"},
    "search-case-insensitive": lambda _: {"search": "PassWord"},
    "search-unicode": lambda _: {"search": "passwort"},
    "search-emoji": lambda _: {"search": "📦"},
    "team-uuid": lambda s: {"teamId": _team(s)},
    "team-uuid-upper-case": lambda s: {"teamId": _team(s).upper()},
    "team-none-means-unassigned": lambda _: {"teamId": "none"},
    "insight-number": lambda _: {"insightNumber": 17},
    "insight-number-unknown": lambda _: {"insightNumber": 10_000},
    "min-sessions-3": lambda _: {"minSessions": 3},
    "min-sessions-50": lambda _: {"minSessions": 50},
    "session-language": lambda _: {"sessionLanguage": "de"},
    "ticket-sentiment": lambda _: {"ticketSentiment": "happy"},
    "channel": lambda _: {"channel": "whatsapp"},
    "session-status": lambda _: {"sessionStatus": "open"},
    "session-contact": lambda s: {"sessionContactId": _busy_contact(s)},
    "session-from-date-only": lambda _: {
        "sessionFromDate": (NOW.date() - timedelta(7)).isoformat()
    },
    "session-from-datetime-z": lambda _: {"sessionFromDate": _iso(3)},
    "session-to-datetime": lambda _: {"sessionToDate": _iso(150)},
    "session-window": lambda _: {"sessionFromDate": _iso(40), "sessionToDate": _iso(30)},
    "session-window-with-offset": lambda _: {"sessionFromDate": "2026-02-01T00:00:00+02:00"},
    "ticket-data-one-pair": lambda _: {"ticketCustomData": [{"plan": "pro"}]},
    "ticket-data-and-within-object": lambda _: {
        "ticketCustomData": [{"plan": "pro", "region": "eu"}]
    },
    "ticket-data-or-between-objects": lambda _: {
        "ticketCustomData": [{"plan": "pro", "region": "eu"}, {"plan": "free"}]
    },
    "ticket-data-number-value": lambda _: {"ticketCustomData": [{"seats": 250}]},
    "ticket-data-empty-object-matches-all": lambda _: {"ticketCustomData": [{}]},
    "ticket-data-empty-list-is-no-filter": lambda _: {"ticketCustomData": []},
    "ticket-data-type-strict": lambda _: {"ticketCustomData": [{"seats": "250"}]},
    "contact-data-bool": lambda _: {"contactCustomData": [{"beta": True}]},
    "contact-data-pair": lambda _: {"contactCustomData": [{"tier": "gold", "country": "DE"}]},
    "session-filters-combine-on-one-session": lambda _: {
        "channel": "email",
        "sessionLanguage": "en",
        "sessionStatus": "closed_resolved",
    },
    "insight-and-session-filters": lambda _: {
        "status": "unresolved",
        "sentiment": "angry",
        "channel": "web",
        "minSessions": 2,
        "sortBy": "last_seen_at",
    },
}


@pytest.mark.parametrize("make_body", list(CASES.values()), ids=list(CASES))
def test_filter_matches_brute_force_reference(
    shared_sim: Simulator, shared_client: httpx.Client, make_body: BodyFactory
) -> None:
    body = make_body(shared_sim)
    served = fetch_all(shared_client, body)
    assert served == expected(shared_sim, body)
    assert served == shared_sim.store.query(body)


@pytest.mark.parametrize(
    "body",
    [{"status": "resolved"}, {"search": "customers"}, {"channel": "email"}, {"minSessions": 2}],
    ids=["resolved", "search", "channel", "min-sessions"],
)
def test_interesting_filters_are_neither_empty_nor_everything(
    shared_sim: Simulator, body: dict[str, Any]
) -> None:
    """Guard the reference comparison against vacuous passes."""
    matched = len(shared_sim.store.query(body))
    assert 0 < matched < len(shared_sim.store.insight_ids())


def test_status_all_excludes_archived_when_configured() -> None:
    with Simulator(make_config(status_all_includes_archived=False)) as sim:
        archived = {row["id"] for row in sim.store.query({"status": "archived"})}
        everything = {row["id"] for row in sim.store.query({"status": "all"})}
        assert archived
        assert not archived & everything
        assert len(everything) + len(archived) == len(sim.store.insight_ids())


def test_status_all_includes_archived_by_default(sim: Simulator) -> None:
    assert len(sim.store.query({"status": "all"})) == len(sim.store.insight_ids())


def _insight_with_session_at(sim: Simulator, when_days_ago: float) -> tuple[str, str]:
    at = NOW - timedelta(days=when_days_ago)
    insight_id = sim.store.add_insight(created_at=at, sessions=1, channel="slack")
    return insight_id, at.isoformat().replace("+00:00", "Z")


@pytest.mark.parametrize(("inclusive", "listed"), [(True, True), (False, False)])
def test_session_to_date_boundary_follows_config(inclusive: bool, listed: bool) -> None:
    with Simulator(make_config(session_to_inclusive=inclusive)) as sim:
        insight_id, at = _insight_with_session_at(sim, 400)
        ids = {row["id"] for row in sim.store.query({"sessionToDate": at})}
        assert (insight_id in ids) is listed


def test_session_from_date_is_inclusive(sim: Simulator) -> None:
    insight_id, at = _insight_with_session_at(sim, 400)
    assert insight_id in {row["id"] for row in sim.store.query({"sessionFromDate": at})}


def test_date_only_means_midnight_utc(sim: Simulator) -> None:
    insight_id, _ = _insight_with_session_at(sim, 400)
    day = (NOW - timedelta(days=400)).date()
    inside = {"sessionFromDate": day.isoformat(), "sessionToDate": f"{day}T23:59:59.999Z"}
    after = {"sessionFromDate": (day + timedelta(days=1)).isoformat()}
    assert insight_id in {row["id"] for row in sim.store.query(inside)}
    assert insight_id not in {row["id"] for row in sim.store.query(after)}


def test_global_counts_ignore_the_session_window_by_default(shared_sim: Simulator) -> None:
    body = {"sessionFromDate": _iso(20), "minSessions": 5}
    for row in shared_sim.store.query(body):
        assert row == shared_sim.store.get(row["id"])


@pytest.mark.parametrize(
    "body",
    [
        {"sessionFromDate": _iso(30)},
        {"sessionFromDate": _iso(60), "sessionToDate": _iso(20), "sortBy": "last_seen_at"},
        {"channel": "email", "minSessions": 2, "sortBy": "first_seen_at", "sortOrder": "asc"},
        {"ticketCustomData": [{"plan": "enterprise"}], "sortBy": "created_at"},
    ],
    ids=["from", "window-sorted-by-last-seen", "channel-min-sessions", "custom-data"],
)
def test_window_scoped_counts_use_matching_sessions_only(body: dict[str, Any]) -> None:
    with (
        Simulator(make_config(window_scoped_counts=True, n_insights=300)) as sim,
        httpx.Client(base_url=sim.base_url, headers=AUTH) as c,
    ):
        served = fetch_all(c, body)
        assert served == expected(sim, body)
        assert any(row != sim.store.get(row["id"]) for row in served)
