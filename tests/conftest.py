"""Fixtures: simulators on ephemeral ports and isolated dlt workspaces."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from sources.opencx_simulator import Simulator, SimulatorConfig
from tests.helpers import SCOPELESS_KEY, TEST_KEY, Workspace

# CI must be reproducible: the same examples every run (locally hypothesis keeps exploring).
# Built on hypothesis' own "ci" profile (no deadline: CI machines are slow and shared).
CI_PROFILE = "ci"
settings.register_profile(
    CI_PROFILE, parent=settings.get_profile(CI_PROFILE), derandomize=True, print_blob=True
)


def ci_requested() -> bool:
    """CI sets CI (`.ci/run` runs `make test` with CI=true); any non-empty value counts."""
    return bool(os.environ.get("CI"))


if ci_requested():
    settings.load_profile(CI_PROFILE)


def pytest_report_header() -> str:
    """Say in the log which profile ran, so a CI log shows the examples were derandomized."""
    return f"hypothesis profile: {settings.get_current_profile_name()}"


SIM_NOW = datetime(2026, 11, 20, 12, 0, 0, tzinfo=timezone.utc)
SimFactory = Callable[..., Simulator]


@pytest.fixture(autouse=True)
def isolated_dlt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep dlt's global dirs and any user config out of the tests."""
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt_data"))
    monkeypatch.setenv("RUNTIME__LOG_LEVEL", "WARNING")
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")
    for name in list(os.environ):
        if name.startswith(("SOURCES__", "DESTINATION__")):
            monkeypatch.delenv(name)


@pytest.fixture
def make_sim() -> Iterator[SimFactory]:
    started: list[Simulator] = []

    def make(**overrides: Any) -> Simulator:
        config: dict[str, Any] = {
            "seed": 7,
            "n_insights": 240,
            "page_size": 7,
            "now": SIM_NOW,
            "api_keys": {TEST_KEY: ("*",), SCOPELESS_KEY: ("teams:read",)},
            **overrides,
        }
        sim = Simulator(SimulatorConfig(**config))
        sim.start()
        started.append(sim)
        return sim

    yield make
    for sim in started:
        sim.stop()


@pytest.fixture
def sim(make_sim: SimFactory) -> Simulator:
    return make_sim()


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path)
