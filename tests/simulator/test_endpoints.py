"""Auth, the single-insight and categories endpoints, routing and the wire format."""

from __future__ import annotations

import re

import httpx
import pytest

from sources.opencx_simulator import Simulator

from .conftest import AUTH, NO_SCOPE_KEY, READ_KEY

UNAUTHORIZED = {"statusCode": 401, "message": "Unauthorized", "error": "Unauthorized"}
FORBIDDEN = {"statusCode": 403, "message": "Forbidden resource", "error": "Forbidden"}
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")
DOCUMENTED_KEYS = [
    "id", "insight_number", "content", "sentiment", "occurrence_count", "category", "team",
    "resolved_by", "resolved_at", "archived_by", "archived_at", "deep_research",
    "deep_research_completed_at", "first_seen_at", "last_seen_at", "created_at", "updated_at",
]  # fmt: skip


def _endpoints(sim: Simulator) -> list[tuple[str, str]]:
    return [
        ("POST", "/insights"),
        ("GET", f"/insights/{sim.store.insight_ids()[0]}"),
        ("GET", "/insights/categories"),
    ]


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic ocx_test_key"},
     {"Authorization": "ocx_test_key"}, {"Authorization": "Bearer"}],
    ids=["missing", "unknown-key", "basic-scheme", "no-scheme", "empty-key"],
)  # fmt: skip
def test_requests_without_a_valid_key_get_401(
    shared_sim: Simulator, anon: httpx.Client, headers: dict[str, str]
) -> None:
    for method, path in _endpoints(shared_sim):
        response = anon.request(method, shared_sim.base_url + path, headers=headers, json={})
        assert response.status_code == 401
        assert response.json() == UNAUTHORIZED


def test_key_without_insights_scope_gets_403(shared_sim: Simulator, anon: httpx.Client) -> None:
    for method, path in _endpoints(shared_sim):
        headers = {"Authorization": f"Bearer {NO_SCOPE_KEY}"}
        response = anon.request(method, shared_sim.base_url + path, headers=headers, json={})
        assert response.status_code == 403
        assert response.json() == FORBIDDEN


def test_insights_read_scope_and_lower_case_bearer_are_accepted(
    shared_sim: Simulator, anon: httpx.Client
) -> None:
    for header in (f"Bearer {READ_KEY}", "bearer ocx_test_key"):
        for method, path in _endpoints(shared_sim):
            response = anon.request(
                method, shared_sim.base_url + path, headers={"Authorization": header}, json={}
            )
            assert response.status_code == 200


def test_keys_can_be_revoked_at_runtime(sim: Simulator, client: httpx.Client) -> None:
    sim.config.api_keys = {"ocx_new": ("*",)}
    assert client.post("/insights", json={}).status_code == 401


def test_get_insight_returns_the_list_item(
    shared_sim: Simulator, shared_client: httpx.Client
) -> None:
    item = shared_client.post("/insights", json={}).json()["data"][4]
    response = shared_client.get(f"/insights/{item['id']}")
    assert response.status_code == 200
    assert response.json() == item == shared_sim.store.get(item["id"])


@pytest.mark.parametrize(
    "insight_id", ["3c90c3cc-0d44-4b50-8888-8dd25736052a", "not-a-uuid"], ids=["unknown", "junk"]
)
def test_unknown_insight_is_404(shared_client: httpx.Client, insight_id: str) -> None:
    response = shared_client.get(f"/insights/{insight_id}")
    assert response.status_code == 404
    assert response.json() == {
        "statusCode": 404,
        "message": "Insight not found",
        "error": "Not Found",
    }


def test_categories_list_has_types_and_unicode(shared_client: httpx.Client) -> None:
    data = shared_client.get("/insights/categories").json()["data"]
    assert len(data) == 15
    assert {tuple(item) for item in data} == {("id", "name", "description", "type")}
    assert {item["type"] for item in data} == {"base", "suggested", "user_defined"}
    assert "Zahlung & Rückerstattung" in {item["name"] for item in data}
    assert any(item["description"] is None for item in data)


@pytest.mark.parametrize("kind", ["base", "suggested", "user_defined"])
def test_categories_filter_by_type(shared_client: httpx.Client, kind: str) -> None:
    data = shared_client.get("/insights/categories", params={"type": kind}).json()["data"]
    assert data
    assert {item["type"] for item in data} == {kind}


def test_categories_search_is_case_insensitive(shared_client: httpx.Client) -> None:
    data = shared_client.get("/insights/categories", params={"search": "BILL"}).json()["data"]
    assert [item["name"] for item in data] == ["Billing"]


def test_categories_reject_unknown_type(shared_client: httpx.Client) -> None:
    response = shared_client.get("/insights/categories", params={"type": "custom"})
    assert response.status_code == 400
    assert response.json()["message"] == [
        "type must be one of the following values: base, suggested, user_defined"
    ]


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/insights"), ("GET", "/"), ("POST", "/insights/categories"),
     ("GET", "/chat/sessions"), ("DELETE", "/insights/x"), ("GET", "/insights/a/b")],
    ids=["get-list", "root", "post-categories", "other-api", "delete", "nested"],
)  # fmt: skip
def test_unknown_routes_get_404_json(
    shared_sim: Simulator, anon: httpx.Client, method: str, path: str
) -> None:
    response = anon.request(method, shared_sim.base_url + path, headers=AUTH)
    assert response.status_code == 404
    assert response.json() == {
        "statusCode": 404,
        "message": f"Cannot {method} {path}",
        "error": "Not Found",
    }


def test_items_have_the_documented_shape(shared_client: httpx.Client) -> None:
    response = shared_client.post("/insights", json={"sortBy": "created_at"})
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert int(response.headers["content-length"]) == len(response.content)
    for item in response.json()["data"]:
        assert list(item) == DOCUMENTED_KEYS
        for key in DOCUMENTED_KEYS:
            if key.endswith("_at") and item[key] is not None:
                assert TIMESTAMP.fullmatch(item[key]), (key, item[key])
        assert item["category"] is None or list(item["category"]) == ["id", "name", "description"]
        assert item["team"] is None or list(item["team"]) == ["id", "name"]
        assert item["resolved_by"] is None or list(item["resolved_by"]) == ["name", "avatar_url"]
        if item["archived_by"] is not None:
            assert list(item["archived_by"]) == ["name", "avatar_url", "reason"]


def test_non_ascii_is_sent_as_utf8_not_escaped(shared_client: httpx.Client) -> None:
    raw = shared_client.post("/insights", json={"search": "ü"}).content
    assert "ü".encode() in raw
    assert b"\\u00fc" not in raw


def test_requests_are_recorded_with_status(
    sim: Simulator, client: httpx.Client, anon: httpx.Client
) -> None:
    sim.clear_requests()
    client.post("/insights?trace=1", json={"page": 2})
    anon.get(sim.base_url + "/insights/categories")
    client.post("/insights", content=b"not json")
    first, second, third = sim.requests
    assert (first.method, first.path, first.query, first.status) == (
        "POST", "/insights", {"trace": "1"}, 200,
    )  # fmt: skip
    assert first.body == {"page": 2}
    assert first.headers["authorization"] == "Bearer ocx_test_key"
    assert (second.method, second.status, second.body) == ("GET", 401, None)
    assert (third.status, third.body) == (400, "not json")
    assert first.at <= second.at <= third.at
