"""Sort orders, tie-breaks, nulls and page arithmetic of POST /insights."""

from __future__ import annotations

import http.client
import json
import math
from itertools import pairwise
from typing import Any

import httpx
import pytest

from sources.opencx_simulator import Simulator

from .conftest import AUTH, fetch_all, make_config
from .reference import expected

SORTS = [
    (sort_by, order)
    for sort_by in ("occurrence_count", "last_seen_at", "first_seen_at", "created_at")
    for order in ("asc", "desc")
]


@pytest.mark.parametrize(("sort_by", "order"), SORTS, ids=[f"{s}-{o}" for s, o in SORTS])
def test_sort_matches_reference_with_number_tie_break(
    shared_sim: Simulator, shared_client: httpx.Client, sort_by: str, order: str
) -> None:
    body = {"sortBy": sort_by, "sortOrder": order}
    served = fetch_all(shared_client, body)
    assert served == expected(shared_sim, body)
    keys = [row[sort_by] for row in served]
    assert keys == sorted(keys, reverse=order == "desc")
    for before, after in pairwise(served):
        if before[sort_by] == after[sort_by]:
            assert before["insight_number"] < after["insight_number"]


def test_default_sort_is_occurrence_count_desc(shared_client: httpx.Client) -> None:
    default = fetch_all(shared_client, {})
    explicit = fetch_all(shared_client, {"sortBy": "occurrence_count", "sortOrder": "desc"})
    assert default == explicit
    assert any(a["occurrence_count"] == b["occurrence_count"] for a, b in pairwise(default))


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_null_sort_keys_come_last_in_both_orders(sim: Simulator, order: str) -> None:
    never_seen = sim.store.add_insight(sessions=0)
    rows = sim.store.query({"sortBy": "last_seen_at", "sortOrder": order})
    assert rows[-1]["id"] == never_seen
    assert rows[-1]["last_seen_at"] is None
    assert rows[-1]["occurrence_count"] == 0


@pytest.mark.parametrize(
    "body",
    [{}, {"sortBy": "created_at", "sortOrder": "asc"}, {"status": "resolved"}, {"channel": "sms"}],
    ids=["default", "created-asc", "resolved", "channel"],
)
def test_paging_concatenation_equals_store_query(
    shared_sim: Simulator, shared_client: httpx.Client, body: dict[str, Any]
) -> None:
    assert fetch_all(shared_client, body) == shared_sim.store.query(body)


def test_envelope_reports_page_total_and_total_pages(
    shared_sim: Simulator, shared_client: httpx.Client
) -> None:
    total = len(shared_sim.store.insight_ids())
    payload = shared_client.post("/insights", json={"page": 3}).json()
    assert list(payload) == ["data", "page", "total", "totalPages"]
    assert payload["page"] == 3
    assert payload["total"] == total
    assert payload["totalPages"] == math.ceil(total / 50)
    assert len(payload["data"]) == 50


def test_missing_or_null_page_means_first_page(shared_client: httpx.Client) -> None:
    first = shared_client.post("/insights", json={"page": 1}).json()
    assert shared_client.post("/insights", json={}).json() == first
    assert shared_client.post("/insights", json={"page": None}).json() == first


def test_page_past_the_end_is_empty_with_real_totals(shared_client: httpx.Client) -> None:
    payload = shared_client.post("/insights", json={"page": 999}).json()
    assert payload["data"] == []
    assert payload["page"] == 999
    assert payload["total"] == 600
    assert payload["totalPages"] == 12


def test_no_match_gives_zero_total_pages(shared_client: httpx.Client) -> None:
    payload = shared_client.post("/insights", json={"search": "no such text anywhere"}).json()
    assert payload == {"data": [], "page": 1, "total": 0, "totalPages": 0}


def test_page_size_is_server_side_and_configurable() -> None:
    with (
        Simulator(make_config(page_size=7, n_insights=30)) as sim,
        httpx.Client(base_url=sim.base_url, headers=AUTH) as client,
    ):
        payload = client.post("/insights", json={"page": 5}).json()
        assert [len(payload["data"]), payload["totalPages"]] == [2, 5]
        assert fetch_all(client, {}) == sim.store.query({})


def test_keep_alive_reuses_one_connection(sim: Simulator) -> None:
    port = int(sim.base_url.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("POST", "/insights", body=json.dumps({}), headers=AUTH)
        first = conn.getresponse()
        first.read()
        sock = conn.sock
        conn.request("POST", "/insights", body=json.dumps({"page": 2}), headers=AUTH)
        second = conn.getresponse()
        assert json.loads(second.read())["page"] == 2
        assert sock is not None
        assert conn.sock is sock
        assert first.getheader("Content-Type") == "application/json; charset=utf-8"
    finally:
        conn.close()


def test_connection_close_request_is_honoured(sim: Simulator) -> None:
    response = httpx.post(
        f"{sim.base_url}/insights", json={}, headers={**AUTH, "Connection": "close"}
    )
    assert response.status_code == 200
    assert response.headers["connection"] == "close"
