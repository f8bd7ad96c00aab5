"""400 answers for malformed POST /insights bodies, one message per problem."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sources.opencx_simulator import Simulator, ValidationError

SAFE = 9007199254740991
ENUM = "{} must be one of the following values: {}"

BAD_BODIES: dict[str, tuple[Any, str]] = {
    "body-is-array": ([], "body must be a JSON object"),
    "body-is-string": ("x", "body must be a JSON object"),
    "unknown-field-limit": ({"limit": 10}, "property limit should not exist"),
    "unknown-field-updated-after": (
        {"updatedAfter": "2026-01-01"},
        "property updatedAfter should not exist",
    ),
    "status-old-enum": (
        {"status": "open"},
        ENUM.format("status", "all, unresolved, resolved, archived"),
    ),
    "sentiment-old-enum": (
        {"sentiment": "NEGATIVE"},
        ENUM.format("sentiment", "angry, happy, neutral"),
    ),
    "sort-by-updated-at": (
        {"sortBy": "updated_at"},
        ENUM.format("sortBy", "occurrence_count, last_seen_at, first_seen_at, created_at"),
    ),
    "sort-order-upper-case": ({"sortOrder": "ASC"}, ENUM.format("sortOrder", "asc, desc")),
    "session-language": ({"sessionLanguage": "english"}, "sessionLanguage must be one of"),
    "channel-unknown": ({"channel": "telegram"}, "channel must be one of the following values"),
    "session-status": ({"sessionStatus": "closed"}, "sessionStatus must be one of"),
    "ticket-sentiment-number": ({"ticketSentiment": 1}, "ticketSentiment must be one of"),
    "min-sessions-zero": ({"minSessions": 0}, "minSessions must not be less than 1"),
    "min-sessions-negative": ({"minSessions": -4}, "minSessions must not be less than 1"),
    "min-sessions-fraction": ({"minSessions": 1.5}, "minSessions must be an integer number"),
    "min-sessions-string": ({"minSessions": "3"}, "minSessions must be an integer number"),
    "min-sessions-boolean": ({"minSessions": True}, "minSessions must be an integer number"),
    "min-sessions-too-big": (
        {"minSessions": SAFE + 1},
        f"minSessions must not be greater than {SAFE}",
    ),
    "insight-number-zero": ({"insightNumber": 0}, "insightNumber must not be less than 1"),
    "page-zero": ({"page": 0}, "page must not be less than 1"),
    "page-string": ({"page": "2"}, "page must be an integer number"),
    "page-boolean": ({"page": False}, "page must be an integer number"),
    "page-too-big": ({"page": SAFE + 1}, f"page must not be greater than {SAFE}"),
    "team-id-not-uuid": ({"teamId": "team-1"}, 'teamId must be a UUID or "none"'),
    "team-id-number": ({"teamId": 5}, 'teamId must be a UUID or "none"'),
    "contact-id-not-uuid": ({"sessionContactId": "abc"}, "sessionContactId must be a UUID"),
    "from-date-words": (
        {"sessionFromDate": "yesterday"},
        "sessionFromDate must be a valid ISO 8601 date string",
    ),
    "from-date-month-13": (
        {"sessionFromDate": "2026-13-01"},
        "sessionFromDate must be a valid ISO 8601 date string",
    ),
    "to-date-number": (
        {"sessionToDate": 20260101},
        "sessionToDate must be a valid ISO 8601 date string",
    ),
    "to-date-bad-offset": (
        {"sessionToDate": "2026-01-01T00:00:00+25:00"},
        "sessionToDate must be a valid ISO 8601 date string",
    ),
    "ticket-data-object": (
        {"ticketCustomData": {"plan": "pro"}},
        "ticketCustomData must be an array",
    ),
    "ticket-data-strings": (
        {"ticketCustomData": ["pro"]},
        "each value in ticketCustomData must be an object",
    ),
    "contact-data-nested-list": (
        {"contactCustomData": [[{"tier": "gold"}]]},
        "each value in contactCustomData must be an object",
    ),
    "category-number": ({"category": 5}, "category must be a string"),
    "search-list": ({"search": ["x"]}, "search must be a string"),
}


@pytest.mark.parametrize(("body", "message"), list(BAD_BODIES.values()), ids=list(BAD_BODIES))
def test_invalid_body_is_rejected_with_400_naming_the_field(
    shared_client: httpx.Client, body: Any, message: str
) -> None:
    response = shared_client.post("/insights", json=body)
    assert response.status_code == 400
    payload = response.json()
    assert payload["statusCode"] == 400
    assert payload["error"] == "Bad Request"
    assert isinstance(payload["message"], list)
    assert any(text.startswith(message) for text in payload["message"]), payload


def test_body_that_is_not_json_is_rejected(shared_client: httpx.Client) -> None:
    response = shared_client.post(
        "/insights", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["message"] == ["body must be valid JSON"]


def test_every_problem_gets_its_own_message(shared_client: httpx.Client) -> None:
    body = {"status": "x", "page": 0, "foo": 1, "teamId": "abc", "sessionFromDate": "nope"}
    messages = shared_client.post("/insights", json=body).json()["message"]
    assert len(messages) == 5
    fields = ("foo", "status", "teamId", "sessionFromDate", "page")
    assert all(any(name in text for text in messages) for name in fields)


@pytest.mark.parametrize(
    "body",
    [
        {"minSessions": SAFE, "insightNumber": SAFE, "page": SAFE},
        {"page": 2.0},
        {"teamId": "none"},
        {"teamId": "3C90C3CC-0D44-4B50-8888-8DD25736052A"},
        {"sessionFromDate": "2026-03-07"},
        {"sessionFromDate": "2026-03-07T05:31:56Z"},
        {"sessionFromDate": "2026-03-07T05:31:56.123456789+01:00"},
        {"sessionToDate": "2026-03-07T05:31"},
        {"ticketCustomData": [{}], "contactCustomData": []},
        {"category": "", "search": ""},
    ],
    ids=[
        "max-safe-integers",
        "integral-float-like-javascript",
        "team-none",
        "upper-case-uuid",
        "date-only",
        "date-time-z",
        "nanoseconds-and-offset",
        "minutes-precision",
        "empty-custom-data",
        "empty-strings",
    ],
)
def test_edge_values_that_are_valid_are_accepted(
    shared_client: httpx.Client, body: dict[str, Any]
) -> None:
    assert shared_client.post("/insights", json=body).status_code == 200


def test_empty_request_body_counts_as_empty_object(shared_client: httpx.Client) -> None:
    response = shared_client.post("/insights")
    assert response.status_code == 200
    assert response.json()["total"] == 600


def test_store_query_raises_value_error_with_the_same_messages(shared_sim: Simulator) -> None:
    with pytest.raises(ValueError, match="must not be less than 1") as caught:
        shared_sim.store.query({"minSessions": 0, "bogus": 1})
    assert isinstance(caught.value, ValidationError)
    assert caught.value.messages == [
        "property bogus should not exist",
        "minSessions must not be less than 1",
    ]
