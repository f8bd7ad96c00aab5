"""`--check-freshness BOUND`: one line and a Nagios status for the pipeline's newest successful run.

For monitors that run a plugin (Nagios, Icinga, Sensu, ...) and for a scheduler's alert on a
failed task: is the newest successful run of the pipeline at most BOUND old? The newest
successful run is the newer of the destination's newest completed load (dlt's `_dlt_loads`,
whoever ran it: `pipelines.destination.newest_load`) and this machine's record of the last
run that ended successfully, which a run with nothing new leaves too although it loads nothing
(`pipelines.load.last_success`). A destination with no load at all is never loaded, whatever
a record says. A record speaks only for the destination, dataset and DuckDB file it names.

The check sends no request and needs no API key; it creates no DuckDB file, no pipeline folder
and no dlt pipeline. A DuckDB file is opened read-only for a few milliseconds, under the
pipeline's run lock taken without waiting: while a run holds the lock (and the file) the check
judges by the record alone, and a run that starts during those milliseconds stops at the lock
(exit 8) having done nothing, where any other reader of the file would make it fail with 7.

The statuses are the Nagios plugin convention, which monitors read, not the run's table (the
README's "Exit statuses"): 0 OK, 2 CRITICAL (stale or never loaded), 3 UNKNOWN (the check
cannot tell: a bad bound or setting, an unreadable destination). The line, on stdout, starts
with the status word. With several orgs the line holds one part per org and the status is
the worst: CRITICAL before UNKNOWN before OK.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from pipelines.command.orgs import configured_orgs
from pipelines.command.request import RunRequest
from pipelines.command.settings import pipeline_target, register_root_config
from pipelines.destination.duckdb_file import in_use_error
from pipelines.destination.newest_load import newest_duckdb_load, newest_load
from pipelines.destination.preflight import check_destination
from pipelines.failures import describe_failure
from pipelines.load.last_success import LastSuccess, read_last_success
from pipelines.load.runlock import unless_running
from pipelines.load.target import Target
from sources.opencx.clock import format_timestamp, utc_now
from sources.opencx.errors import ConfigValueError
from sources.opencx.internals import pipelines_dir

FRESH: Final = 0
STALE: Final = 2
UNKNOWN: Final = 3
# status -> the word the line starts with, as docs/operations.md's table says it
CHECK_STATUSES: Final[dict[int, str]] = {FRESH: "OK", STALE: "CRITICAL", UNKNOWN: "UNKNOWN"}
_WORST_FIRST: Final = (STALE, UNKNOWN, FRESH)

FLAG: Final = "--check-freshness"
BOUND_FORMS: Final = "a whole number and a unit s, m, h or d: 90s, 15m, 2h, 1d, 1h30m"
_BOUND = re.compile(r"(?:\d{1,9}[smhd])+")
_BOUND_PART = re.compile(r"(\d+)([smhd])")
_UNIT_SECONDS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Bound:
    """The age a fresh pipeline's newest successful run may have, and how the user wrote it."""

    span: timedelta
    text: str


@dataclass(frozen=True)
class Verdict:
    """One pipeline's status and its part of the line (without the status word)."""

    status: int
    text: str


@dataclass(frozen=True)
class DestinationSeen:
    """The destination's newest completed load (None: none), unless a run holds its file."""

    newest: datetime | None
    run_going: bool = False


def check_freshness(request: RunRequest) -> int:
    """Print the check's one line (nothing when fresh with `--quiet`); its Nagios status."""
    try:
        verdicts = judge_request(request)
    except KeyboardInterrupt:
        verdicts = [Verdict(UNKNOWN, "interrupted")]
    except Exception as exc:
        verdicts = [Verdict(UNKNOWN, describe_failure(exc)[0])]
    status = worst(verdicts)
    if not (request.quiet and status == FRESH):
        print(f"{CHECK_STATUSES[status]}: {'; '.join(v.text for v in verdicts)}", flush=True)
    return status


def judge_request(request: RunRequest) -> list[Verdict]:
    """A verdict per pipeline the run would load (one, or one per org)."""
    bound = parse_bound(request.check_freshness or "")
    register_root_config()
    now = utc_now()
    orgs: list[str | None] = [*configured_orgs(request)] or [None]  # None: the one-org run
    return [judge(pipeline_target(request, org), bound, now) for org in orgs]


def parse_bound(text: str) -> Bound:
    """`90s`, `15m`, `2h`, `1d` or a sum such as `1h30m`: a positive span."""
    word = text.strip().lower()
    if not _BOUND.fullmatch(word):
        raise ConfigValueError(f"{FLAG} {text!r} is not a duration: use {BOUND_FORMS}")
    seconds = sum(int(n) * _UNIT_SECONDS[unit] for n, unit in _BOUND_PART.findall(word))
    try:
        span = timedelta(seconds=seconds)
    except OverflowError:
        raise ConfigValueError(f"{FLAG} {text!r} is longer than a calendar holds") from None
    if not span:
        raise ConfigValueError(f"{FLAG} {text!r} is no time at all: use {BOUND_FORMS}")
    return Bound(span, word)


def judge(target: Target, bound: Bound, now: datetime) -> Verdict:
    """The verdict on `target`'s pipeline: fresh, stale, never loaded, or unknown."""
    name = target.pipeline_name
    try:
        check_destination(target.destination, reconciling=False)
        record = _record_for(target)
        seen = destination_seen(target)
    except Exception as exc:
        return Verdict(UNKNOWN, f"{name}: {describe_failure(exc)[0]}")
    if seen.run_going:
        if record is None:
            return Verdict(
                UNKNOWN,
                f"{name}: a run holds its DuckDB file {target.duckdb_path} and this machine has "
                "no record of the pipeline's last successful run; check again after the run",
            )
        return by_age(name, record.at, bound, now, note="; a run is going")
    if seen.newest is None:
        where = target.destination if target.duckdb_path is None else f"duckdb {target.duckdb_path}"
        return Verdict(STALE, f"{name} never loaded into {where}, dataset {target.dataset}")
    newest = seen.newest if record is None else max(seen.newest, record.at)
    return by_age(name, newest, bound, now)


def _record_for(target: Target) -> LastSuccess | None:
    """The record on this machine of the pipeline's last successful run, if it is for `target`."""
    record = read_last_success(pipelines_dir() / target.pipeline_name)
    return record if record is not None and record.is_for(target) else None


def destination_seen(target: Target) -> DestinationSeen:
    """The destination's newest completed load; a DuckDB file read-only, under the run lock.

    The lock is taken without waiting and held for the read alone (milliseconds): a run that
    holds it holds the file too, and is left alone.
    """
    path = target.duckdb_path
    if path is None:
        return DestinationSeen(newest_load(target.destination, target.dataset))
    with unless_running(pipelines_dir(), target.pipeline_name) as idle:
        if not idle:
            return DestinationSeen(None, run_going=True)
        try:
            return DestinationSeen(newest_duckdb_load(path, target.dataset))
        except Exception as exc:
            in_use = in_use_error(exc)  # another reader, or a run started outside the command
            if in_use is None:
                raise
            raise in_use from None


def by_age(name: str, newest: datetime, bound: Bound, now: datetime, note: str = "") -> Verdict:
    """Fresh when `newest` is at most `bound` before `now`, else stale."""
    age = now - newest
    when = f"{format_timestamp(newest)} ({format_age(age)} ago, bound {bound.text}{note})"
    if age <= bound.span:
        return Verdict(FRESH, f"{name} last successful run {when}")
    return Verdict(STALE, f"{name} is stale: last successful run {when}")


def format_age(age: timedelta) -> str:
    """`3h 41m`: the two largest non-zero units, truncated; `0s` for no time or less."""
    seconds = max(int(age.total_seconds()), 0)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    units = ((days, "d"), (hours, "h"), (minutes, "m"), (secs, "s"))
    return " ".join([f"{value}{unit}" for value, unit in units if value][:2]) or "0s"


def worst(verdicts: list[Verdict]) -> int:
    """The status of the whole line: CRITICAL before UNKNOWN before OK."""
    statuses = {verdict.status for verdict in verdicts}
    return next(status for status in _WORST_FIRST if status in statuses)
