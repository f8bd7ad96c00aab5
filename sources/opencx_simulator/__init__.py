"""A standard-library-only simulator of OpenCX's `POST /insights` API, for tests and demos.

Start one with ``with Simulator(SimulatorConfig(seed=42)) as sim: ...`` and point a client at
``sim.base_url``; or run ``python -m sources.opencx_simulator``.
"""

from .clock import Clock
from .config import SimulatorConfig
from .faults import FaultKind, FaultQueue
from .server import RecordedRequest, Simulator
from .store import InsightStore
from .validation import ValidationError

__all__ = [
    "Clock",
    "FaultKind",
    "FaultQueue",
    "InsightStore",
    "RecordedRequest",
    "Simulator",
    "SimulatorConfig",
    "ValidationError",
]
