"""Skip re-loading insights that did not change since the last run.

Every scheduled run re-reads the lookback window (a day of active insights, mostly unchanged).
Loading them again would rewrite the same rows, create a load package and run merges every
hour for nothing. Instead the fingerprint of each insight read by a recent-first scan is kept in
dlt resource state, which commits with the load: an insight whose fingerprint matches the last
*loaded* one is not yielded again. A run where nothing changed then loads nothing at all.

A change to how fingerprints are computed makes every stored one differ once: the first run
after the upgrade merges its lookback window again (the same rows, and no new history version,
since history compares its own version hash), and stores the new fingerprints.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, MutableMapping
from datetime import datetime, timedelta
from typing import Any

import orjson

STATE_KEY = "fingerprints"
# Beyond this many insights in the lookback window the state would grow too large to be worth
# it; such runs simply load everything they read.
MAX_TRACKED = 50_000


def fingerprint(record: dict[str, Any]) -> str:
    """Hash of everything the API said about an insight (parsed values, canonical order).

    orjson writes the canonical text about 7x faster than `json` (a scheduled run hashes its
    whole lookback window). A value orjson cannot write, an integer over 64 bits that
    `client.decode_json` let through, falls back to `json`; the same record always takes the
    same path, so its fingerprint is stable from run to run.
    """
    try:
        text = orjson.dumps(record, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    except orjson.JSONEncodeError:
        text = json.dumps(record, sort_keys=True, default=str, ensure_ascii=False).encode()
    return hashlib.blake2b(text, digest_size=12).hexdigest()


class ChangedOnly:
    """Filters batches down to insights whose fingerprint differs from the stored one."""

    def __init__(self, state: MutableMapping[str, Any], floor: datetime) -> None:
        self._state = state
        self._floor = floor
        self._previous: dict[str, str] = dict(state.get(STATE_KEY) or {})
        self._current: dict[str, str] = {}
        self.unchanged = 0

    def filter(self, pages: Iterator[list[dict[str, Any]]]) -> Iterator[list[dict[str, Any]]]:
        """Yield only new or changed insights; remember every fingerprint seen."""
        for records in pages:
            changed = []
            for record in records:
                seen_at = record["last_seen_at"]
                if seen_at is None or seen_at < self._floor:
                    changed.append(record)  # dlt's cursor filters it; never remember it
                    continue
                digest = fingerprint(record)
                self._current[record["id"]] = digest
                if self._previous.get(record["id"]) == digest:
                    self.unchanged += 1
                else:
                    changed.append(record)
            if changed:
                yield changed

    def commit(self) -> None:
        """Store this run's fingerprints (dlt persists them only if the load commits)."""
        if len(self._current) > MAX_TRACKED:
            self._state.pop(STATE_KEY, None)
        elif self._current != self._previous:
            self._state[STATE_KEY] = self._current


class FirstRunRecorder:
    """During a first full scan, remember what the next scheduled run will re-read.

    The next run re-reads everything last seen within the lookback below the new cursor (the
    highest `last_seen_at` of this scan). Fingerprinting exactly those rows here means that run
    skips them instead of merging a day of unchanged insights again. Rows are yielded unchanged.
    """

    def __init__(self, state: MutableMapping[str, Any], lookback_seconds: float) -> None:
        self._state = state
        self._lookback = timedelta(seconds=lookback_seconds)
        self._newest: datetime | None = None
        self._candidates: dict[str, tuple[str, datetime]] = {}

    def record(self, pages: Iterator[list[dict[str, Any]]]) -> Iterator[list[dict[str, Any]]]:
        """Pass pages through, fingerprinting rows that may fall inside the next lookback."""
        for records in pages:
            for record in records:
                seen_at = record["last_seen_at"]
                if seen_at is None:
                    continue
                if self._newest is None or seen_at > self._newest:
                    self._newest = seen_at
                if seen_at >= self._newest - self._lookback:
                    self._candidates[record["id"]] = (fingerprint(record), seen_at)
            yield records

    def commit(self) -> None:
        """Keep the rows inside the final lookback window and store them as fingerprints."""
        if self._newest is None:
            return
        floor = self._newest - self._lookback
        kept = {
            key: digest for key, (digest, seen_at) in self._candidates.items() if seen_at >= floor
        }
        if 0 < len(kept) <= MAX_TRACKED:
            self._state[STATE_KEY] = kept
