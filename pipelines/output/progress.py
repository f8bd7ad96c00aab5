"""Progress of a long run, in the units a rate-limited API imposes: pages, requests, 429s.

A backfill at 90 requests a minute takes minutes to hours; dlt's own counters show rows only
once a 2,000-row batch is extracted and never a total. The scans count pages into the run's
`RequestStats` (the first page of a scan tells how many there are), and a reporter thread turns
them into a rate and an ETA:

- on a terminal, a live tqdm bar on stderr (shown only once a run lasts a couple of seconds);
- elsewhere (cron, CI, a pipe), one timestamped log line every `period` seconds, so a run
  shorter than the period prints none;
- with ``--quiet``, nothing.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol

from pipelines.output.logs import TO_STDERR
from sources.opencx.batches import ScanStats
from sources.opencx.client import RequestCounts
from sources.opencx.internals import StepCollector

logger = logging.getLogger("pipelines.progress")
RATE_WINDOW_SECONDS = 60.0
BAR_TICK_SECONDS = 0.5
BAR_DELAY_SECONDS = 2.0


@dataclass(frozen=True)
class Snapshot:
    """Every counter the display needs, at one instant."""

    at: float
    counts: RequestCounts
    windows_done: int
    windows_planned: int
    step: str


class RateMeter:
    """Pages per minute over the last minute: the current rate, not the run's average."""

    def __init__(self, window_seconds: float = RATE_WINDOW_SECONDS) -> None:
        self._window = window_seconds
        self._samples: deque[tuple[float, int]] = deque()

    def add(self, at: float, pages: int) -> float | None:
        """Record a sample; the rate in pages/min, or None until there is a span to measure."""
        self._samples.append((at, pages))
        while len(self._samples) > 2 and self._samples[1][0] <= at - self._window:
            self._samples.popleft()
        first_at, first_pages = self._samples[0]
        if at - first_at < 1.0:
            return None
        return (pages - first_pages) * 60.0 / (at - first_at)


def describe(snapshot: Snapshot, pages_per_minute: float | None) -> str:
    """One line: what was read of what is planned, the requests behind it, rate and ETA."""
    c = snapshot.counts
    # ASCII only: cron's locale may not encode anything else
    if not c.pages_planned:
        pages = f"pages {c.pages}/?"
    elif c.pages_bounded:
        pages = f"pages {c.pages} of at most {c.pages_planned}"
    else:
        pages = f"pages {c.pages}/{c.pages_planned}"
    parts = [
        pages,
        f"insights {c.insights}",
        f"requests {c.requests} (retries {c.retries}, 429s {c.rate_limited})",
    ]
    if snapshot.windows_planned:
        parts.append(f"activity windows {snapshot.windows_done}/{snapshot.windows_planned}")
    if pages_per_minute is not None:
        parts.append(f"{pages_per_minute:.1f} pages/min")
        remaining = c.pages_planned - c.pages
        if remaining > 0 and pages_per_minute > 0:
            eta = format_duration(remaining * 60.0 / pages_per_minute)
            parts.append(f"ETA {'at most ' if c.pages_bounded else ''}{eta}")
    line = ", ".join(parts)
    return f"{snapshot.step}: {line}" if snapshot.step else line


def format_duration(seconds: float) -> str:
    """`42 s`, `3 min 05 s`, `2 h 07 min`."""
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class Display(Protocol):
    """Where the reporter shows a snapshot."""

    tick: float

    def show(self, snapshot: Snapshot) -> None:
        """Show the counters (or not yet, at the display's own pace)."""

    def close(self) -> None:
        """Release the screen or stream."""


class LogLines:
    """A log line every `tick` seconds; nothing for a run shorter than that."""

    def __init__(self, period: float) -> None:
        self.tick = period
        self._rate = RateMeter()

    def show(self, snapshot: Snapshot) -> None:
        """Log the line (to stderr even without -v, and to the log file)."""
        rate = self._rate.add(snapshot.at, snapshot.counts.pages)
        logger.info("%s", describe(snapshot, rate), extra=TO_STDERR)

    def close(self) -> None:
        """Nothing to release."""


class Bar:
    """A tqdm bar of pages on a terminal; tqdm measures the rate and the ETA itself."""

    tick = BAR_TICK_SECONDS

    def __init__(self, stream: Any) -> None:
        from tqdm import tqdm  # noqa: PLC0415 - only terminals need it

        self._bar = tqdm(
            total=None, unit="page", file=stream, leave=False, dynamic_ncols=True,
            delay=BAR_DELAY_SECONDS, desc="pages",
        )  # fmt: skip

    def show(self, snapshot: Snapshot) -> None:
        """Move the bar to the page count and put the other counters after it."""
        c = snapshot.counts
        if c.pages_planned and self._bar.total != c.pages_planned:
            self._bar.total = c.pages_planned
        extra = [f"insights {c.insights}", f"requests {c.requests}",
                 f"retries {c.retries}", f"429s {c.rate_limited}"]  # fmt: skip
        if snapshot.windows_planned:
            extra.append(f"windows {snapshot.windows_done}/{snapshot.windows_planned}")
        if snapshot.step:
            extra.insert(0, snapshot.step)
        self._bar.set_postfix_str(", ".join(extra), refresh=False)
        self._bar.update(c.pages - self._bar.n)

    def close(self) -> None:
        """Remove the bar; the summary follows on stdout."""
        self._bar.close()


class ProgressReporter:
    """A daemon thread that samples the run's counters and hands them to a display.

    Sampling (rather than reporting from inside the scan) keeps the scan code to counting, and
    keeps showing a step that reads no pages (normalize, load) alive.
    """

    def __init__(
        self,
        stats: ScanStats,
        steps: StepCollector,
        display: Display,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stats = stats
        self._steps = steps
        self._display = display
        self._clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="opencx-progress", daemon=True)

    def snapshot(self) -> Snapshot:
        """The counters now."""
        done, planned = self._stats.windows.snapshot()
        return Snapshot(self._clock(), self._stats.requests.snapshot(), done, planned,
                        self._steps.current)  # fmt: skip

    def __enter__(self) -> ProgressReporter:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
        self._display.close()

    def _loop(self) -> None:
        while not self._stop.wait(self._display.tick):
            self._display.show(self.snapshot())


def progress_reporter(
    stats: ScanStats, steps: StepCollector, *, quiet: bool, period: float
) -> contextlib.AbstractContextManager[object]:
    """The display for this run: none when quiet, a bar on a terminal, else log lines."""
    if quiet:
        return contextlib.nullcontext()
    display: Display = Bar(sys.stderr) if sys.stderr.isatty() else LogLines(period)
    return ProgressReporter(stats, steps, display)
