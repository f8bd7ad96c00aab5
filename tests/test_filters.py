"""Filter validation: bad values stop before any request with one line naming the field;
valid values reach the request body exactly."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sources.opencx import settings
from sources.opencx.clock import format_timestamp
from sources.opencx.errors import ConfigValueError
from sources.opencx.filters import FILTER_FIELDS, build_filters
from sources.opencx_simulator import Simulator
from tests.helpers import Workspace, insight_requests

ENUM_FIELDS = {
    "status": ("statuses", settings.STATUSES, "status"),
    "sentiment": ("sentiment", settings.SENTIMENTS, "sentiment"),
    "sort_by": ("sort", settings.SORT_FIELDS, "sortBy"),
    "sort_order": ("order", settings.SORT_ORDERS, "sortOrder"),
    "session_language": ("lang", settings.LANGUAGES, "sessionLanguage"),
    "ticket_sentiment": ("ticket", settings.SENTIMENTS, "ticketSentiment"),
    "channel": ("channel", settings.CHANNELS, "channel"),
    "session_status": ("session", settings.SESSION_STATUSES, "sessionStatus"),
}

BAD_VALUES = [
    pytest.param("status", "open", id="status-not-in-enum"),
    pytest.param("sentiment", "ANGRY", id="sentiment-is-case-sensitive"),
    pytest.param("sort_by", "updated_at", id="sort-by-undocumented-field"),
    pytest.param("sort_order", "up", id="sort-order"),
    pytest.param("min_sessions", 0, id="min-sessions-zero"),
    pytest.param("min_sessions", -3, id="min-sessions-negative"),
    pytest.param("min_sessions", 2**53, id="min-sessions-above-max-safe-integer"),
    pytest.param("min_sessions", True, id="min-sessions-bool"),
    pytest.param("min_sessions", "3.5", id="min-sessions-fraction"),
    pytest.param("insight_number", "abc", id="insight-number-text"),
    pytest.param("page", 0, id="page-zero"),
    pytest.param("team_id", "payments", id="team-id-not-uuid"),
    pytest.param("team_id", "None", id="team-id-none-is-lowercase"),
    pytest.param("session_contact_id", "42", id="contact-id-not-uuid"),
    pytest.param("session_language", "xx", id="language-unknown"),
    pytest.param("channel", "fax", id="channel-unknown"),
    pytest.param("session_status", "closed", id="session-status"),
    pytest.param("session_from_date", "last tuesday", id="from-date-neither-iso-nor-relative"),
    pytest.param("session_to_date", "2026-02-30", id="to-date-impossible"),
    pytest.param("ticket_custom_data", "{not json", id="custom-data-bad-json"),
    pytest.param("ticket_custom_data", [], id="custom-data-empty-list"),
    pytest.param("contact_custom_data", ["tier"], id="custom-data-list-of-strings"),
    pytest.param("contact_custom_data", [{"tier": {"a": 1}}], id="custom-data-nested-value"),
    pytest.param("category", "  ", id="category-blank"),
    pytest.param("search", 5, id="search-not-text"),
]


@pytest.mark.parametrize(("field", "value"), BAD_VALUES)
def test_bad_value_is_rejected_naming_the_field(field: str, value: Any) -> None:
    with pytest.raises(ConfigValueError) as err:
        build_filters({field: value})
    message = str(err.value)
    assert "\n" not in message
    assert f"sources.opencx.{field}" in message


def test_unknown_filter_is_rejected() -> None:
    with pytest.raises(ConfigValueError, match="unknown filter 'team'"):
        build_filters({"team": "x"})


def test_from_date_after_to_date_is_rejected() -> None:
    with pytest.raises(ConfigValueError, match="after"):
        build_filters({"session_from_date": "2026-02-01", "session_to_date": "2026-01-01"})


@pytest.mark.parametrize("field", sorted(ENUM_FIELDS))
def test_every_enum_value_reaches_the_body(field: str) -> None:
    _, allowed, api_name = ENUM_FIELDS[field]
    for value in allowed:
        assert build_filters({field: value}).to_body() == {api_name: value}


@given(st.integers(min_value=1, max_value=settings.MAX_SAFE_INTEGER))
def test_valid_counts_reach_the_body_as_integers(number: int) -> None:
    body = build_filters({"min_sessions": number, "insight_number": str(number)}).to_body()
    assert body == {"minSessions": number, "insightNumber": number}


@given(st.integers().filter(lambda n: not 1 <= n <= settings.MAX_SAFE_INTEGER))
def test_out_of_range_counts_are_rejected(number: int) -> None:
    with pytest.raises(ConfigValueError, match="min_sessions"):
        build_filters({"min_sessions": number})


@given(
    st.datetimes(
        min_value=datetime(1971, 1, 1),
        max_value=datetime(9998, 1, 1),
        timezones=st.just(timezone.utc),
    )
)
def test_dates_are_sent_as_rfc3339_utc(moment: datetime) -> None:
    body = build_filters({"session_from_date": moment.isoformat()}).to_body()
    sent = body["sessionFromDate"]
    assert sent == format_timestamp(moment)
    assert sent.endswith("Z")
    assert abs(datetime.fromisoformat(sent) - moment).total_seconds() < 0.001


@given(st.text(min_size=1).filter(lambda s: s.strip() != ""))
def test_free_text_is_sent_unchanged(text: str) -> None:
    assert build_filters({"search": text, "category": text}).to_body() == {
        "search": text,
        "category": text,
    }


@given(st.uuids())
def test_uuids_are_sent_canonical(value: uuid.UUID) -> None:
    body = build_filters(
        {"team_id": str(value).upper(), "session_contact_id": str(value)}
    ).to_body()
    assert body == {"teamId": str(value), "sessionContactId": str(value)}


@given(st.text().filter(lambda s: s != "none"))
def test_team_id_accepts_only_uuid_or_none(text: str) -> None:
    try:
        uuid.UUID(text)
    except ValueError:
        with pytest.raises(ConfigValueError, match="team_id"):
            build_filters({"team_id": text})


@given(
    st.lists(
        st.dictionaries(
            st.text(min_size=1), st.one_of(st.text(), st.integers(), st.booleans()), min_size=1
        ),
        min_size=1,
        max_size=4,
    )
)
def test_custom_data_lists_reach_the_body_unchanged(objects: list[dict[str, Any]]) -> None:
    body = build_filters({"ticket_custom_data": objects, "contact_custom_data": objects}).to_body()
    assert body == {"ticketCustomData": objects, "contactCustomData": objects}


def test_team_none_is_accepted() -> None:
    assert build_filters({"team_id": "none"}).to_body() == {"teamId": "none"}


def test_all_nineteen_body_fields_are_filters() -> None:
    assert len(FILTER_FIELDS) == 19


def test_configured_filters_arrive_exactly_in_every_request(ws: Workspace, sim: Simulator) -> None:
    team = sim.store.team_ids()[0]
    filters: dict[str, Any] = {
        "category": "Billing",
        "status": "unresolved",
        "sentiment": "angry",
        "min_sessions": 1,
        "search": "e",
        "team_id": team,
        "session_language": "en",
        "ticket_sentiment": "angry",
        "channel": "web",
        "session_from_date": "2026-01-01",
        "session_to_date": "2026-12-31T23:00:00+01:00",
        "session_status": "closed_resolved",
        "ticket_custom_data": [{"plan": "pro"}],
        "contact_custom_data": [{"tier": "gold"}, {"country": "DE"}],
    }
    ws.load(sim, **filters)
    expected = {
        "category": "Billing",
        "status": "unresolved",
        "sentiment": "angry",
        "minSessions": 1,
        "search": "e",
        "teamId": team,
        "sessionLanguage": "en",
        "ticketSentiment": "angry",
        "channel": "web",
        "sessionFromDate": "2026-01-01T00:00:00.000Z",
        "sessionToDate": "2026-12-31T22:00:00.000Z",
        "sessionStatus": "closed_resolved",
        "ticketCustomData": [{"plan": "pro"}],
        "contactCustomData": [{"tier": "gold"}, {"country": "DE"}],
        "sortBy": "created_at",
        "sortOrder": "asc",
    }
    requests = insight_requests(sim)
    assert requests
    bodies = sorted((r.body for r in requests), key=lambda body: body["page"])
    for number, body in enumerate(bodies, start=1):
        assert body == {**expected, "page": number}


def test_user_sort_and_start_page_are_honoured(ws: Workspace, sim: Simulator) -> None:
    ws.load(sim, sort_by="occurrence_count", sort_order="desc", page=3)
    requests = insight_requests(sim)
    assert requests[0].body == {"sortBy": "occurrence_count", "sortOrder": "desc", "page": 3}


def test_bad_filter_makes_no_request(ws: Workspace, sim: Simulator) -> None:
    with pytest.raises(ConfigValueError):
        ws.load(sim, channel="carrier_pigeon")
    assert sim.requests == []
