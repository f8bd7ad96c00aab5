"""The connector's one clock, and the one way it writes an instant.

The clock: the real UTC time, unless `OPENCX_NOW` names another instant.

Everything the connector derives from "now" (activity windows, relative `since`/`until`, the
demo's data, the dry run's plan) reads it here, so a test can give the connector and the API
simulator the same instant, and a calendar case (a Monday, a month end, midnight UTC) runs at a
fixed date whatever day the suite runs on. An operator can use the same variable to replay a
run "as of" an instant. Timings (elapsed seconds, retry delays, `Retry-After` dates) keep the
real clock: they measure the world, not the data.

The writing: `format_timestamp`, ISO 8601 in UTC with milliseconds and `Z`
(`2026-12-07T18:00:00.000Z`), the format the API itself emits. The request body, the run's
summary, the dry run and the JSON report all write instants with it, so a cursor read in one
can be compared with, or pasted as `--since` into, another.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

from sources.opencx.errors import ConfigValueError

NOW_VARIABLE = "OPENCX_NOW"


def utc_now() -> datetime:
    """The instant the connector takes as now (aware, UTC)."""
    given = os.environ.get(NOW_VARIABLE, "").strip()
    if not given:
        return datetime.now(UTC)
    return parse_now(given)


def parse_now(text: str) -> datetime:
    """`OPENCX_NOW`'s value as an aware UTC instant; naive means UTC, as for `since`."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigValueError(
            f"the environment variable {NOW_VARIABLE}: {text!r} is not an ISO 8601 date-time "
            "(e.g. 2026-12-07T09:00:00Z); unset it to use the real clock"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def format_timestamp(moment: datetime | str) -> str:
    """`moment` as ISO 8601 in UTC with milliseconds and `Z`: `2026-12-07T18:00:00.000Z`.

    Text is read as ISO 8601 first (a cursor as a state file keeps it); a moment without a
    time zone is taken as UTC, as `OPENCX_NOW` and `since` take it. Finer digits are cut, not
    rounded, so an instant is never written later than it was.
    """
    utc = as_utc(moment)
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:"
        f"{utc.second:02d}.{utc.microsecond // 1000:03d}Z"
    )


def as_utc(moment: datetime | str) -> datetime:
    """An aware UTC datetime of `moment` (ISO 8601 text, or a datetime; naive means UTC)."""
    value = moment if isinstance(moment, datetime) else datetime.fromisoformat(moment)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
