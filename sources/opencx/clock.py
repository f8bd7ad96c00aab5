"""The connector's one clock: the real UTC time, unless `OPENCX_NOW` names another instant.

Everything the connector derives from "now" (activity windows, relative `since`/`until`, the
demo's data, the dry run's plan) reads it here, so a test can give the connector and the API
simulator the same instant, and a calendar case (a Monday, a month end, midnight UTC) runs at a
fixed date whatever day the suite runs on. An operator can use the same variable to replay a
run "as of" an instant. Timings (elapsed seconds, retry delays, `Retry-After` dates) keep the
real clock: they measure the world, not the data.
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
