"""`--demo`: the bundled API simulator instead of api.open.cx, with data to show all day.

The demo never talks to the real API: it starts the simulator on 127.0.0.1 and points the
source at it, with a key the simulator accepts and the activity table on.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

from sources.opencx.clock import utc_now

DEMO_API_KEY: Final = "ocx_demo_key"
# what the demo sets whatever the configuration (the simulator adds its base URL)
DEMO_SETTINGS: Final[dict[str, Any]] = {
    "api_key": DEMO_API_KEY,
    "requests_per_minute": 0,
    "activity": True,
    "activity_initial_days": 60,  # top_insights_30d and the 30 days before
}


@dataclass(frozen=True)
class DemoData:
    """How many insights the simulator makes, from which seed."""

    insights: int
    seed: int


@contextlib.contextmanager
def demo_simulator(data: DemoData) -> Iterator[dict[str, Any]]:
    """Start the bundled simulator; yields the source arguments that point at it."""
    from sources.opencx_simulator import Simulator, SimulatorConfig  # noqa: PLC0415

    # Anchored to today's midnight so repeated demo runs see the same data all day: the
    # second run then shows what a scheduled run with nothing new does.
    today = utc_now().replace(hour=0, minute=0, second=0, microsecond=0)
    config = SimulatorConfig(
        seed=data.seed,
        n_insights=data.insights,
        now=today,
        api_keys={DEMO_API_KEY: ("*",)},
        # per-day session counts, so the dashboard views and the report have sessions to show
        window_scoped_counts=True,
    )
    with Simulator(config) as sim:
        print(f"demo: simulator with {data.insights} insights at {sim.base_url}")
        yield {"base_url": sim.base_url, **DEMO_SETTINGS}
