"""Progress for long loads only: dlt's log collector, minus the chatter on short runs.

A scheduled run that takes two seconds should print its summary and nothing else; a backfill
that takes minutes should show it is alive every few seconds.
"""

from __future__ import annotations

from dlt.common.runtime.collector import LogCollector


class LongLoadProgress(LogCollector):
    """Logs a step's counters every `log_period` seconds, never for steps shorter than that."""

    def _start(self, step: str) -> None:
        super()._start(step)
        self.last_log_time = self._clock()
        self._step_started = self.last_log_time

    def _stop(self) -> None:
        if self._clock() - self._step_started >= self.log_period:
            self.on_log()
        self.counters = None  # type: ignore[assignment]
        self.counter_info = None  # type: ignore[assignment]
        self.messages = None  # type: ignore[assignment]
        self.last_log_time = None  # type: ignore[assignment]
