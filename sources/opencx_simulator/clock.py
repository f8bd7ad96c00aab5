"""The simulator's wall clock.

Mutations made by tests (resolving, new sessions, ...) need timestamps that move forward like a
real server's, yet tests must also be able to jump hours ahead to exercise lookback windows
without waiting. The clock therefore runs in real time from a chosen start and can be shifted,
set or frozen.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def to_ms(moment: datetime) -> int:
    """Convert to epoch milliseconds, the resolution the API serialises timestamps with."""
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return (moment - EPOCH) // timedelta(milliseconds=1)


def from_ms(ms: int) -> datetime:
    """Convert epoch milliseconds back to an aware UTC datetime."""
    return EPOCH + timedelta(milliseconds=ms)


class Clock:
    """A settable clock that runs in real time unless frozen."""

    def __init__(self, start: datetime) -> None:
        self._lock = threading.Lock()
        self._base_ms = to_ms(start)
        self._mono = time.monotonic()
        self._frozen = False

    def now_ms(self) -> int:
        """Read the clock in epoch milliseconds; all stored timestamps use this unit."""
        with self._lock:
            if self._frozen:
                return self._base_ms
            return self._base_ms + int((time.monotonic() - self._mono) * 1000)

    def now(self) -> datetime:
        """Read the clock; millisecond precision so values round-trip through the API."""
        return from_ms(self.now_ms())

    def advance(
        self, *, days: float = 0, hours: float = 0, minutes: float = 0, seconds: float = 0
    ) -> datetime:
        """Jump forward (or back, with negative values) without waiting in real time."""
        delta = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
        with self._lock:
            self._base_ms += delta // timedelta(milliseconds=1)
        return self.now()

    def set(self, moment: datetime) -> None:
        """Make the clock read `moment` now and keep running from there."""
        with self._lock:
            self._base_ms = to_ms(moment)
            self._mono = time.monotonic()

    def freeze(self) -> None:
        """Stop the clock so that mutation timestamps become exactly predictable."""
        current = self.now_ms()
        with self._lock:
            self._base_ms = current
            self._frozen = True

    def resume(self) -> None:
        """Let a frozen clock run again from the instant it shows."""
        with self._lock:
            self._frozen = False
            self._mono = time.monotonic()
