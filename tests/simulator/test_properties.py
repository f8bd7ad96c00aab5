"""Property test: any valid combination of filters pages out exactly like the reference."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sources.opencx_simulator import Simulator

from .conftest import NOW, fetch_all
from .reference import expected

_DAYS = st.integers(min_value=0, max_value=200).map(
    lambda d: (NOW - timedelta(days=d)).strftime("%Y-%m-%dT%H:%M:%SZ")
)
_OPTIONAL: dict[str, st.SearchStrategy[Any]] = {
    "status": st.sampled_from(["all", "unresolved", "resolved", "archived"]),
    "sentiment": st.sampled_from(["angry", "happy", "neutral"]),
    "sortBy": st.sampled_from(["occurrence_count", "last_seen_at", "first_seen_at", "created_at"]),
    "sortOrder": st.sampled_from(["asc", "desc"]),
    "minSessions": st.integers(min_value=1, max_value=6),
    "search": st.sampled_from(["the", "PASS", "ü", "order", "x"]),
    "teamId": st.sampled_from(["none"]),
    "category": st.sampled_from(["billing", "Shipping", "Zahlung & Rückerstattung"]),
    "sessionLanguage": st.sampled_from(["en", "de", "fr", "ja"]),
    "ticketSentiment": st.sampled_from(["angry", "happy", "neutral"]),
    "channel": st.sampled_from(["web", "email", "phone_voice", "whatsapp"]),
    "sessionFromDate": _DAYS,
    "sessionToDate": _DAYS,
    "sessionStatus": st.sampled_from(["closed_resolved", "closed_unresolved", "open"]),
    "ticketCustomData": st.lists(
        st.fixed_dictionaries(
            {}, optional={"plan": st.sampled_from(["pro", "free"]), "region": st.just("eu")}
        ),
        max_size=2,
    ),
    "contactCustomData": st.lists(
        st.fixed_dictionaries({}, optional={"tier": st.just("gold"), "beta": st.booleans()}),
        max_size=2,
    ),
}
BODIES = st.fixed_dictionaries({}, optional=_OPTIONAL)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=BODIES)
def test_random_filter_combinations_match_reference(
    shared_sim: Simulator, shared_client: httpx.Client, body: dict[str, Any]
) -> None:
    assert fetch_all(shared_client, body) == expected(shared_sim, body)
