"""The request pacer: at most N request starts in any 60 s, and no wait below that."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sources.opencx.client import RequestPacer


class FakeClock:
    """Monotonic time that moves only when a caller sleeps or the test advances it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def starts_of(pacer: RequestPacer, clock: FakeClock, gaps: list[float]) -> list[float]:
    """Each caller arrives `gap` after the previous one started; the times they start."""
    starts = []
    for gap in gaps:
        clock.now += gap
        pacer.wait()
        starts.append(clock.now)
    return starts


@given(
    rate=st.sampled_from([0.5, 1, 3, 7.5, 90, 590]),
    gaps=st.lists(st.floats(min_value=0, max_value=30), min_size=1, max_size=60),
)
def test_no_60_s_span_holds_more_starts_than_the_rate_allows(
    rate: float, gaps: list[float]
) -> None:
    clock = FakeClock()
    starts = starts_of(RequestPacer(rate, clock=clock, sleep=clock.sleep), clock, gaps)
    per_window = max(1, int(rate))
    window = 60 / min(rate, 1)
    for first, last in zip(starts, starts[per_window:], strict=False):
        assert last - first >= window - 1e-9
    assert max(sum(1 for t in starts if s <= t < s + 60) for s in starts) <= max(rate, 1)


def test_the_first_n_requests_of_a_minute_start_at_once_and_the_next_waits_for_the_window() -> None:
    clock = FakeClock()
    starts = starts_of(RequestPacer(90, clock=clock, sleep=clock.sleep), clock, [0.01] * 91)
    # only the 91st waited, until the 1st start was 60 s old
    assert clock.slept == [pytest.approx(60 - 0.01 * 90)]
    assert starts[-1] - starts[0] == pytest.approx(60)


def test_a_rate_of_zero_never_waits() -> None:
    clock = FakeClock()
    starts_of(RequestPacer(0, clock=clock, sleep=clock.sleep), clock, [0.0] * 1000)
    assert clock.slept == []
