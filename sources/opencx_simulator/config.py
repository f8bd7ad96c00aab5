"""Configuration of the OpenCX API simulator.

The published API reference leaves several behaviours open (see NOTES.md in the shared API
folder). Each open question is a switch here, so the connector can be tested against every
plausible reading instead of the one we happened to guess.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

DEFAULT_API_KEY = "ocx_test_key"
FULL_ACCESS = "*"
INSIGHTS_READ = "insights:read"


def _default_keys() -> dict[str, tuple[str, ...]]:
    return {DEFAULT_API_KEY: (FULL_ACCESS,)}


@dataclass(slots=True)
class SimulatorConfig:
    """Everything that shapes the simulated API.

    Data-shaping fields (seed .. session_to_inclusive) are read when the data is generated or a
    query is evaluated. The operational knobs (rate limit, latency, faults, extra fields, keys)
    are read on every request, so tests may flip them on a running simulator by plain attribute
    assignment.
    """

    seed: int = 42
    n_insights: int = 3000
    days: int = 180
    now: datetime | None = None
    page_size: int = 50
    api_keys: dict[str, tuple[str, ...]] = field(default_factory=_default_keys)
    status_all_includes_archived: bool = True
    window_scoped_counts: bool = False
    session_to_inclusive: bool = True
    rate_limit_per_minute: int | None = None
    retry_after: float | None = None
    latency_s: float = 0.0
    extra_fields: bool = False
    fault_rate: float = 0.0
    drop_rate: float = 0.0
    fault_seed: int = 0

    def __post_init__(self) -> None:
        """Reject settings that would make the simulator silently lie about the API."""
        if self.n_insights < 0:
            raise ValueError("n_insights must be >= 0")
        if self.days < 1:
            raise ValueError("days must be >= 1")
        if self.page_size < 1:
            raise ValueError("page_size must be >= 1")
        if self.now is not None and self.now.tzinfo is None:
            raise ValueError("now must be timezone-aware (UTC)")
        for name in ("fault_rate", "drop_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")

    def start_time(self) -> datetime:
        """Pick the clock start: the configured instant, else now truncated to whole seconds."""
        if self.now is not None:
            return self.now.astimezone(timezone.utc)
        return datetime.now(timezone.utc).replace(microsecond=0)
