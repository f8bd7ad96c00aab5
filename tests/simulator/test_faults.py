"""Scripted faults, random faults, rate limiting, latency and undocumented extras."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from sources.opencx_simulator import FaultKind, Simulator
from sources.opencx_simulator.server import Incoming

from .conftest import AUTH, fetch_all, make_config
from .test_endpoints import DOCUMENTED_KEYS

THROTTLED = {
    "statusCode": 429,
    "message": "ThrottlerException: Too Many Requests",
    "error": "Too Many Requests",
}


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_scripted_json_5xx_then_normal_service(
    sim: Simulator, client: httpx.Client, status: int
) -> None:
    sim.faults.enqueue(str(status))
    response = client.post("/insights", json={})
    assert response.status_code == status
    assert response.json()["statusCode"] == status
    assert set(response.json()) == {"statusCode", "message", "error"}
    assert client.post("/insights", json={}).status_code == 200
    assert [r.status for r in sim.requests] == [status, 200]


@pytest.mark.parametrize("status", [520, 521, 522, 523, 524])
def test_scripted_cloudflare_html_errors(sim: Simulator, client: httpx.Client, status: int) -> None:
    sim.faults.enqueue(f"html_{status}")
    response = client.post("/insights", json={})
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert f"Error code {status}" in response.text
    assert "cloudflare" in response.text.lower()


def test_scripted_faults_come_before_auth(sim: Simulator, anon: httpx.Client) -> None:
    sim.faults.enqueue("503")
    assert anon.post(sim.base_url + "/insights", json={}).status_code == 503
    assert anon.post(sim.base_url + "/insights", json={}).status_code == 401


def test_drop_closes_the_connection_without_a_response(
    sim: Simulator, client: httpx.Client
) -> None:
    sim.faults.enqueue(FaultKind.DROP)
    with pytest.raises(httpx.RemoteProtocolError):
        client.post("/insights", json={})
    assert client.post("/insights", json={}).status_code == 200
    assert [r.status for r in sim.requests] == [0, 200]


def test_truncated_body_is_half_the_real_json(sim: Simulator, client: httpx.Client) -> None:
    real = client.post("/insights", json={}).content
    sim.faults.enqueue("truncated")
    response = client.post("/insights", json={})
    assert response.status_code == 200
    assert response.content == real[: len(real) // 2]
    assert int(response.headers["content-length"]) == len(response.content)
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)


def test_missing_data_keeps_only_the_counters(sim: Simulator, client: httpx.Client) -> None:
    sim.faults.enqueue("missing_data")
    payload = client.post("/insights", json={"page": 2}).json()
    assert payload == {"page": 2, "total": 200, "totalPages": 4}


def test_empty_page_keeps_real_counters(sim: Simulator, client: httpx.Client) -> None:
    sim.faults.enqueue("empty_page")
    payload = client.post("/insights", json={"page": 2}).json()
    assert payload == {"data": [], "page": 2, "total": 200, "totalPages": 4}


def test_duplicate_page_serves_previous_items(sim: Simulator, client: httpx.Client) -> None:
    first = client.post("/insights", json={"page": 1}).json()
    sim.faults.enqueue("duplicate_page")
    second = client.post("/insights", json={"page": 2}).json()
    assert second["data"] == first["data"]
    assert second["page"] == 2


def test_null_objects_blanks_nested_objects_only(sim: Simulator, client: httpx.Client) -> None:
    real = client.post("/insights", json={}).json()["data"]
    sim.faults.enqueue("null_objects")
    blanked = client.post("/insights", json={}).json()["data"]
    nested = ("category", "team", "resolved_by", "archived_by")
    assert all(item[key] is None for item in blanked for key in nested)
    assert [{k: v for k, v in item.items() if k not in nested} for item in blanked] == [
        {k: v for k, v in item.items() if k not in nested} for item in real
    ]


def test_slow_fault_delays_a_normal_answer(sim: Simulator, client: httpx.Client) -> None:
    sim.faults.enqueue("slow:0.3")
    started = time.monotonic()
    response = client.post("/insights", json={})
    assert time.monotonic() - started >= 0.3
    assert response.status_code == 200
    assert response.json()["data"]


def test_faults_are_consumed_in_order_one_per_request(sim: Simulator, client: httpx.Client) -> None:
    sim.faults.enqueue("502", "429", "empty_page")
    assert sim.faults.pending() == ["502", "429", "empty_page"]
    statuses = [client.post("/insights", json={}).status_code for _ in range(4)]
    assert statuses == [502, 429, 200, 200]
    assert sim.faults.pending() == []
    sim.faults.enqueue("slow:1.5", "503")
    sim.faults.clear()
    assert sim.faults.pending() == []


@pytest.mark.parametrize("spec", ["404", "slow", "slow:-1", "html_599", "timeout"])
def test_unknown_fault_is_rejected(sim: Simulator, spec: str) -> None:
    with pytest.raises(ValueError, match=r"fault|slow"):
        sim.faults.enqueue("503", spec)
    assert sim.faults.pending() == []


def test_rate_limit_answers_429_without_retry_after_by_default(
    sim: Simulator, client: httpx.Client
) -> None:
    sim.config.rate_limit_per_minute = 3
    statuses = [client.post("/insights", json={}).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    limited = client.post("/insights", json={})
    assert limited.json() == THROTTLED
    assert "retry-after" not in limited.headers
    sim.config.rate_limit_per_minute = None
    assert client.post("/insights", json={}).status_code == 200


def test_rate_limit_sends_retry_after_rounded_up_when_configured(
    sim: Simulator, client: httpx.Client
) -> None:
    sim.config.rate_limit_per_minute = 1
    sim.config.retry_after = 1.2
    client.get("/insights/categories")
    limited = client.post("/insights", json={})
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "2"
    sim.faults.enqueue("429")
    sim.config.rate_limit_per_minute = None
    assert client.post("/insights", json={}).headers["retry-after"] == "2"


def test_rate_limit_window_slides(sim: Simulator) -> None:
    sim.config.rate_limit_per_minute = 2

    def status_at(at: float) -> int:
        headers = {"authorization": "Bearer ocx_test_key"}
        return sim.handle(Incoming("POST", "/insights", {}, headers, b"{}", at)).status

    assert [status_at(1000.0), status_at(1010.0), status_at(1020.0)] == [200, 200, 429]
    assert status_at(1061.0) == 429  # 1010, 1020 (the rejected one counts) and 1061
    assert status_at(1081.0) == 200  # 1061 and 1081 remain


def test_latency_is_added_to_every_response(sim: Simulator, client: httpx.Client) -> None:
    sim.config.latency_s = 0.2
    started = time.monotonic()
    client.get("/insights/unknown")
    assert time.monotonic() - started >= 0.2


def _statuses(sim: Simulator, count: int) -> list[int]:
    statuses = []
    with httpx.Client(base_url=sim.base_url, headers=AUTH) as client:
        for _ in range(count):
            try:
                statuses.append(client.post("/insights", json={}).status_code)
            except httpx.RemoteProtocolError:
                statuses.append(0)
    return statuses


def test_random_faults_are_reproducible_from_fault_seed() -> None:
    runs = []
    for _ in range(2):
        with Simulator(make_config(n_insights=20, fault_rate=0.4, drop_rate=0.2)) as sim:
            runs.append(_statuses(sim, 30))
    assert runs[0] == runs[1]
    assert {0, 200} <= set(runs[0])
    assert {status for status in runs[0] if status not in (0, 200)} <= {
        500, 502, 503, 504, 520, 521, 522, 523, 524,
    }  # fmt: skip
    assert any(status >= 500 for status in runs[0])


def test_fault_rate_one_fails_every_request(sim: Simulator) -> None:
    sim.config.fault_rate = 1.0
    assert all(status >= 500 for status in _statuses(sim, 10))


def test_drop_rate_one_drops_every_request(sim: Simulator) -> None:
    sim.config.drop_rate = 1.0
    assert _statuses(sim, 3) == [0, 0, 0]


def test_extra_fields_add_unknown_fields_and_enum_values(
    sim: Simulator, client: httpx.Client
) -> None:
    sim.config.extra_fields = True
    items = fetch_all(client, {"sortBy": "created_at", "sortOrder": "asc"})
    assert items == sim.store.ground_truth(with_extras=True)
    assert all({"priority_score", "tags", "source_channel"} <= set(item) for item in items)
    assert any(item["sentiment"] == "frustrated" for item in items)
    assert any(item["category"] and "color" in item["category"] for item in items)
    assert any(item["team"] and "slack_channel" in item["team"] for item in items)
    assert any(item["resolved_by"] and "email" in item["resolved_by"] for item in items)
    assert client.get(f"/insights/{items[0]['id']}").json() == items[0]


def test_ground_truth_stays_documented_while_extras_are_on(sim: Simulator) -> None:
    sim.config.extra_fields = True
    truth = sim.store.ground_truth()
    assert all(list(item) == DOCUMENTED_KEYS for item in truth)
    assert {item["sentiment"] for item in truth} <= {"angry", "happy", "neutral"}


def test_extra_fields_can_be_switched_off_again(sim: Simulator, client: httpx.Client) -> None:
    sim.config.extra_fields = True
    assert "tags" in client.post("/insights", json={}).json()["data"][0]
    sim.config.extra_fields = False
    assert "tags" not in client.post("/insights", json={}).json()["data"][0]
