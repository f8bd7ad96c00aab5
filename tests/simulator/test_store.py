"""Mutations through InsightStore, the simulator clock and the on_request hook."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import httpx
import pytest

from sources.opencx_simulator import Simulator

from .conftest import AUTH, NOW, fetch_all
from .reference import stamp

CREATED_ASC = {"sortBy": "created_at", "sortOrder": "asc"}


def _row(sim: Simulator, insight_id: str) -> dict[str, Any]:
    row = sim.store.get(insight_id)
    assert row is not None
    return row


def _unresolved(sim: Simulator) -> str:
    return str(sim.store.query({"status": "unresolved"})[0]["id"])


def test_resolve_moves_status_and_bumps_updated_at_only(sim: Simulator) -> None:
    insight_id = _unresolved(sim)
    before = _row(sim, insight_id)
    sim.clock.freeze()
    sim.store.resolve(insight_id, person={"name": "Zoë Łukasiewicz", "avatar_url": None})
    after = _row(sim, insight_id)
    assert after["resolved_by"] == {"name": "Zoë Łukasiewicz", "avatar_url": None}
    assert after["resolved_at"] == after["updated_at"] == stamp(sim.clock.now())
    assert after["last_seen_at"] == before["last_seen_at"]
    assert insight_id in {row["id"] for row in sim.store.query({"status": "resolved"})}
    sim.store.unresolve(insight_id)
    assert _row(sim, insight_id)["resolved_at"] is None


def test_resolve_picks_a_generated_person_by_default(sim: Simulator) -> None:
    insight_id = _unresolved(sim)
    sim.store.resolve(insight_id, at=NOW - timedelta(days=1))
    row = _row(sim, insight_id)
    assert row["resolved_by"] in sim.store.people()
    assert row["resolved_at"] == stamp(NOW - timedelta(days=1))
    assert row["updated_at"] >= stamp(NOW)


def test_archive_and_unarchive(sim: Simulator) -> None:
    insight_id = _unresolved(sim)
    sim.store.archive(insight_id, reason="spam")
    row = _row(sim, insight_id)
    assert row["archived_by"] is not None
    assert row["archived_by"]["reason"] == "spam"
    assert insight_id in {r["id"] for r in sim.store.query({"status": "archived"})}
    assert insight_id not in {r["id"] for r in sim.store.query({"status": "unresolved"})}
    sim.store.unarchive(insight_id)
    assert _row(sim, insight_id)["archived_at"] is None


def test_reassign_and_recategorise(sim: Simulator, client: httpx.Client) -> None:
    insight_id = sim.store.insight_ids()[0]
    team_id, category_id = sim.store.team_ids()[5], sim.store.category_ids()[3]
    sim.store.reassign(insight_id, team_id)
    sim.store.set_category(insight_id, category_id)
    served = client.get(f"/insights/{insight_id}").json()
    assert (served["team"]["id"], served["category"]["id"]) == (team_id, category_id)
    assert insight_id in {r["id"] for r in fetch_all(client, {"teamId": team_id})}
    sim.store.reassign(insight_id, None)
    sim.store.set_category(insight_id, None)
    assert _row(sim, insight_id)["team"] is None
    assert insight_id in {r["id"] for r in fetch_all(client, {"teamId": "none"})}
    with pytest.raises(KeyError):
        sim.store.reassign(insight_id, "3c90c3cc-0d44-4b50-8888-8dd25736052a")


def test_delete_removes_from_every_endpoint(sim: Simulator, client: httpx.Client) -> None:
    insight_id = sim.store.insight_ids()[10]
    sim.store.delete(insight_id)
    assert client.get(f"/insights/{insight_id}").status_code == 404
    assert insight_id not in {r["id"] for r in fetch_all(client, {})}
    assert insight_id not in {r["id"] for r in sim.store.ground_truth()}
    assert sim.store.get(insight_id) is None
    with pytest.raises(KeyError):
        sim.store.delete(insight_id)


def test_rename_category_changes_items_but_not_their_updated_at(
    sim: Simulator, client: httpx.Client
) -> None:
    category_id = sim.store.category_ids()[0]
    before = [
        r for r in fetch_all(client, {}) if r["category"] and r["category"]["id"] == category_id
    ]
    sim.store.rename_category(category_id, "Invoices & Billing", "Renamed")
    after = {r["id"]: r for r in fetch_all(client, {"category": "invoices & billing"})}
    assert set(after) == {r["id"] for r in before}
    for row in before:
        assert after[row["id"]]["category"]["name"] == "Invoices & Billing"
        assert after[row["id"]]["category"]["description"] == "Renamed"
        assert after[row["id"]]["updated_at"] == row["updated_at"]
    assert fetch_all(client, {"category": "Billing"}) == []


def test_late_session_raises_count_but_not_last_seen(sim: Simulator) -> None:
    insight_id = sim.store.query({"sortBy": "last_seen_at", "sortOrder": "desc"})[0]["id"]
    before = _row(sim, insight_id)
    sim.store.add_sessions(insight_id, 2, created_at=NOW - timedelta(days=200), channel="sms")
    after = _row(sim, insight_id)
    assert after["occurrence_count"] == before["occurrence_count"] + 2
    assert after["last_seen_at"] == before["last_seen_at"]
    assert after["first_seen_at"] == stamp(NOW - timedelta(days=200))
    assert after["updated_at"] > before["updated_at"]
    channels = [s["channel"] for s in sim.store.sessions(insight_id)]
    assert channels.count("sms") >= 2


def test_new_session_now_moves_last_seen(sim: Simulator) -> None:
    insight_id = sim.store.query({"sortBy": "last_seen_at", "sortOrder": "asc"})[0]["id"]
    sim.clock.advance(hours=3)
    sim.clock.freeze()
    sim.store.add_sessions(insight_id)
    latest = sim.store.query({"sortBy": "last_seen_at", "sortOrder": "desc"})[0]
    assert latest["id"] == insight_id
    assert latest["last_seen_at"] == stamp(sim.clock.now())


def test_session_attributes_are_validated(sim: Simulator) -> None:
    insight_id = sim.store.insight_ids()[0]
    with pytest.raises(TypeError):
        sim.store.add_sessions(insight_id, colour="red")
    with pytest.raises(ValueError, match="channel"):
        sim.store.add_sessions(insight_id, channel="pigeon")


def test_add_insight_gets_next_number_and_is_served(sim: Simulator, client: httpx.Client) -> None:
    insight_id = sim.store.add_insight(
        content="Brand new 🚀 issue",
        category_id=None,
        team_id=sim.store.team_ids()[0],
        sentiment="happy",
        sessions=3,
        ticket_custom_data={"plan": "pro", "region": "us"},
    )
    row = client.get(f"/insights/{insight_id}").json()
    assert row["insight_number"] == 201
    assert (row["content"], row["sentiment"], row["occurrence_count"]) == (
        "Brand new 🚀 issue", "happy", 3,
    )  # fmt: skip
    assert row["category"] is None
    assert row["first_seen_at"] == row["last_seen_at"] == row["created_at"]
    found = fetch_all(client, {"ticketCustomData": [{"region": "us", "plan": "pro"}]})
    assert insight_id in {r["id"] for r in found}


def test_bump_counts_reorders_the_default_sort(sim: Simulator, client: httpx.Client) -> None:
    before = {r["id"]: r["occurrence_count"] for r in fetch_all(client, {})}
    order_before = list(before)
    bumped = sim.store.bump_counts(30, rng_seed=3)
    after = {r["id"]: r["occurrence_count"] for r in fetch_all(client, {})}
    assert len(bumped) == len(set(bumped)) == 30
    assert all(1 <= after[i] - before[i] <= 5 for i in bumped)
    assert all(after[i] == before[i] for i in before if i not in bumped)
    assert list(after) != order_before
    assert sim.store.bump_counts(30, rng_seed=3) == bumped


def test_clock_runs_and_can_be_moved(sim: Simulator) -> None:
    start = sim.clock.now()
    assert start - NOW < timedelta(seconds=30)
    assert sim.clock.advance(hours=2) - start >= timedelta(hours=2)
    sim.clock.set(NOW + timedelta(days=1))
    sim.clock.freeze()
    assert sim.clock.now() == NOW + timedelta(days=1)
    sim.clock.resume()
    assert sim.clock.now() >= NOW + timedelta(days=1)


def test_on_request_hook_sees_index_and_body_before_the_page(
    sim: Simulator, client: httpx.Client
) -> None:
    expected_pages = [r["id"] for r in sim.store.query(CREATED_ASC)]
    calls: list[tuple[int, dict[str, Any]]] = []

    def hook(index: int, body: dict[str, Any]) -> None:
        calls.append((index, body))
        if index == 1:  # while the client is between page 1 and page 2
            sim.store.delete(expected_pages[0])

    sim.on_request = hook
    served = [r["id"] for r in fetch_all(client, CREATED_ASC)]
    assert [index for index, _ in calls] == [0, 1, 2, 3]
    assert calls[1][1] == {**CREATED_ASC, "page": 2}
    # Deleting a row of page 1 shifts everything left: the client silently skips one row.
    assert expected_pages[50] not in served
    assert served == expected_pages[:50] + expected_pages[51:]


def test_on_request_index_counts_every_post_insights_since_start(
    sim: Simulator, client: httpx.Client
) -> None:
    seen: list[int] = []
    client.post("/insights", json={})
    sim.faults.enqueue("503")
    client.post("/insights", json={})
    sim.clear_requests()
    sim.on_request = lambda index, _body: seen.append(index)
    client.get("/insights/categories")
    client.post("/insights", json={})
    assert seen == [2]


def test_failing_hook_gives_500_and_is_recorded(sim: Simulator, client: httpx.Client) -> None:
    def hook(_index: int, _body: dict[str, Any]) -> None:
        raise RuntimeError("boom")

    sim.on_request = hook
    response = client.post("/insights", json={})
    assert response.status_code == 500
    assert "boom" in response.json()["message"]
    assert [type(error) for error in sim.errors] == [RuntimeError]


def test_concurrent_paging_and_mutation_stay_consistent(sim: Simulator) -> None:
    problems: list[str] = []

    def scan() -> None:
        with httpx.Client(base_url=sim.base_url, headers=AUTH) as c:
            for _ in range(5):
                for row in fetch_all(c, {}):
                    if row["id"] not in sim.store.insight_ids() and row["occurrence_count"] < 0:
                        problems.append(row["id"])

    threads = [threading.Thread(target=scan) for _ in range(3)]
    for thread in threads:
        thread.start()
    for seed in range(20):
        sim.store.bump_counts(5, rng_seed=seed)
        sim.store.add_insight()
    for thread in threads:
        thread.join()
    assert problems == []
    assert sim.errors == []
    assert len(sim.store.ground_truth()) == 220
