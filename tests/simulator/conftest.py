"""Fixtures for the simulator's own tests: small, fast simulators on ephemeral ports."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # pytest's rootdir is not importable unless installed
    sys.path.insert(0, str(ROOT))

from sources.opencx_simulator import Simulator, SimulatorConfig  # noqa: E402

NOW = datetime(2026, 3, 7, 12, 0, tzinfo=timezone.utc)
KEY = "ocx_test_key"
READ_KEY = "ocx_read_only"
NO_SCOPE_KEY = "ocx_teams_only"
AUTH = {"Authorization": f"Bearer {KEY}"}


def make_config(**overrides: Any) -> SimulatorConfig:
    """Build a small deterministic config; tests override only what they exercise."""
    settings: dict[str, Any] = {
        "seed": 7,
        "n_insights": 200,
        "now": NOW,
        "api_keys": {KEY: ("*",), READ_KEY: ("insights:read",), NO_SCOPE_KEY: ("teams:read",)},
    }
    settings.update(overrides)
    return SimulatorConfig(**settings)


def fetch_all(client: httpx.Client, body: dict[str, Any]) -> list[dict[str, Any]]:
    """Page through POST /insights the way a careful client does, returning all items."""
    items: list[dict[str, Any]] = []
    page = 1
    while True:
        response = client.post("/insights", json={**body, "page": page})
        assert response.status_code == 200, response.text
        payload = response.json()
        items.extend(payload["data"])
        if page >= payload["totalPages"]:
            return items
        page += 1


@pytest.fixture
def sim() -> Iterator[Simulator]:
    """Give each test its own simulator, free to mutate."""
    with Simulator(make_config()) as simulator:
        yield simulator


@pytest.fixture
def client(sim: Simulator) -> Iterator[httpx.Client]:
    """Give an authenticated client for the per-test simulator."""
    with httpx.Client(base_url=sim.base_url, headers=AUTH, timeout=10) as http:
        yield http


@pytest.fixture(scope="module")
def shared_sim() -> Iterator[Simulator]:
    """Share a larger read-only simulator per module; tests must not mutate it."""
    with Simulator(make_config(n_insights=600, seed=11)) as simulator:
        yield simulator


@pytest.fixture(scope="module")
def shared_client(shared_sim: Simulator) -> Iterator[httpx.Client]:
    """Give an authenticated client for the shared simulator."""
    with httpx.Client(base_url=shared_sim.base_url, headers=AUTH, timeout=10) as http:
        yield http


@pytest.fixture(scope="session")
def anon() -> Iterator[httpx.Client]:
    """Give a client with no credentials and no base URL; building clients is slow (TLS setup)."""
    with httpx.Client(timeout=10) as http:
        yield http
