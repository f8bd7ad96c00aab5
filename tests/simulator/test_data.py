"""Properties of the generated data set and its determinism."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest

from sources.opencx_simulator import Simulator

from .conftest import NOW, make_config
from .reference import parse_time


@pytest.fixture(scope="module")
def truth() -> list[dict[str, Any]]:
    return Simulator(make_config(n_insights=1500, seed=3)).store.ground_truth()


def test_same_seed_and_now_give_identical_data() -> None:
    first = Simulator(make_config(seed=5)).store
    second = Simulator(make_config(seed=5)).store
    assert first.ground_truth() == second.ground_truth()
    assert first.sessions(first.insight_ids()[7]) == second.sessions(second.insight_ids()[7])
    assert first.categories() == second.categories()


def test_different_seed_gives_different_data() -> None:
    first = Simulator(make_config(seed=5)).store.ground_truth()
    second = Simulator(make_config(seed=6)).store.ground_truth()
    assert [r["id"] for r in first] != [r["id"] for r in second]


def test_ground_truth_is_oldest_first(truth: list[dict[str, Any]]) -> None:
    keys = [(r["created_at"], r["id"]) for r in truth]
    assert keys == sorted(keys)


def test_insight_numbers_follow_creation(truth: list[dict[str, Any]]) -> None:
    assert [r["insight_number"] for r in truth] == list(range(1, 1501))


def test_timestamps_are_consistent_and_in_the_past(truth: list[dict[str, Any]]) -> None:
    earliest = NOW - timedelta(days=180)
    for row in truth:
        first, last = parse_time(row["first_seen_at"]), parse_time(row["last_seen_at"])
        created, updated = parse_time(row["created_at"]), parse_time(row["updated_at"])
        assert earliest <= first <= last <= NOW
        assert first < created <= first + timedelta(minutes=15)
        assert max(created, last) <= updated <= NOW
        for key in ("resolved_at", "archived_at", "deep_research_completed_at"):
            if row[key] is not None:
                assert created <= parse_time(row[key]) <= updated


def test_workflow_fields_have_realistic_shares(truth: list[dict[str, Any]]) -> None:
    def share(predicate: Any) -> float:
        return sum(1 for row in truth if predicate(row)) / len(truth)

    assert 0.25 < share(lambda r: r["resolved_at"] is not None) < 0.35
    assert 0.05 < share(lambda r: r["archived_at"] is not None) < 0.11
    assert 0.07 < share(lambda r: r["category"] is None) < 0.13
    assert 0.20 < share(lambda r: r["team"] is None) < 0.30
    assert 0.30 < share(lambda r: r["deep_research"] is not None) < 0.40
    assert all((r["resolved_by"] is None) == (r["resolved_at"] is None) for r in truth)
    assert {r["sentiment"] for r in truth} == {"angry", "happy", "neutral"}


def test_occurrence_counts_are_heavy_tailed(truth: list[dict[str, Any]]) -> None:
    counts = sorted(r["occurrence_count"] for r in truth)
    assert counts[0] >= 1
    assert counts[len(counts) // 2] <= 2
    assert sum(c <= 5 for c in counts) / len(counts) > 0.85
    assert counts[-1] >= 100
    assert 3.0 < sum(counts) / len(counts) < 5.0


def test_contents_include_unicode_rtl_emoji_and_huge_texts(truth: list[dict[str, Any]]) -> None:
    contents = [r["content"] for r in truth]
    assert any(re.search("[\u0590-\u06ff]", c) for c in contents)  # Hebrew / Arabic
    assert any(re.search("[\u3040-\u30ff\u4e00-\u9fff]", c) for c in contents)  # CJK
    assert any(re.search("[\U0001f300-\U0001faff]", c) for c in contents)  # emoji
    huge = [c for c in contents if len(c) >= 5000]
    assert huge
    assert all(len(c) <= 20_000 for c in huge)


def test_people_share_names_but_not_avatars() -> None:
    people = Simulator(make_config(n_insights=10)).store.people()
    assert len(people) == 25
    names = Counter(p["name"] for p in people)
    twins = [p for p in people if names[p["name"]] > 1]
    assert len(twins) == 2
    assert twins[0]["avatar_url"] != twins[1]["avatar_url"]
    assert {"Zoë Łukasiewicz", "山田 太郎"} <= set(names)


def test_catalogue_sizes() -> None:
    store = Simulator(make_config(n_insights=10)).store
    assert len(store.category_ids()) == 15
    assert len(store.team_ids()) == 8


def test_sessions_carry_every_attribute() -> None:
    store = Simulator(make_config(n_insights=300)).store
    sessions = [s for i in store.insight_ids() for s in store.sessions(i)]
    assert len(sessions) == sum(r["occurrence_count"] for r in store.ground_truth())
    assert {s["status"] for s in sessions} == {"closed_resolved", "closed_unresolved", "open"}
    assert len({s["channel"] for s in sessions}) == 10
    assert len({s["contact_id"] for s in sessions}) > 100
    assert all(isinstance(s["created_at"], datetime) for s in sessions)
    assert {"plan": "pro", "region": "eu"} in [s["ticket_custom_data"] for s in sessions]
    assert all(set(s["contact_custom_data"]) >= {"tier", "country"} for s in sessions)


def test_zero_insights_is_a_valid_empty_api() -> None:
    assert Simulator(make_config(n_insights=0)).store.ground_truth() == []


@pytest.mark.parametrize(
    "overrides",
    [{"n_insights": -1}, {"page_size": 0}, {"days": 0}, {"now": datetime(2026, 1, 1)},
     {"fault_rate": 1.5}],
    ids=["negative-insights", "zero-page-size", "zero-days", "naive-now", "rate-above-one"],
)  # fmt: skip
def test_invalid_config_is_rejected(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must"):
        make_config(**overrides)
