"""Validation of the nineteen ``POST /insights`` body fields, done before the first request.

A bad value must stop the run with one line naming the field and what is allowed, instead of a
400 from the API halfway through a backfill. Validation also normalises: dates become RFC 3339
UTC strings, so the body we send is exactly reproducible and testable.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from typing import Any

import pendulum

from sources.opencx import settings
from sources.opencx.clock import format_timestamp, utc_now
from sources.opencx.errors import ConfigValueError
from sources.opencx_filter_table import FILTERS

CustomData = list[dict[str, Any]]


@dataclass(frozen=True)
class InsightFilters:
    """The validated request body fields, named as in ``config.toml`` (snake_case).

    Spelled out (not generated from `FILTERS`) so type checkers see each field's type;
    tests/test_config_surface.py holds it to the table.
    """

    category: str | None = None
    status: str | None = None
    sentiment: str | None = None
    sort_by: str | None = None
    sort_order: str | None = None
    min_sessions: int | None = None
    search: str | None = None
    team_id: str | None = None
    insight_number: int | None = None
    session_language: str | None = None
    ticket_sentiment: str | None = None
    channel: str | None = None
    session_from_date: str | None = None
    session_to_date: str | None = None
    session_status: str | None = None
    session_contact_id: str | None = None
    ticket_custom_data: CustomData | None = None
    contact_custom_data: CustomData | None = None
    page: int | None = None

    def to_body(self) -> dict[str, Any]:
        """The API body: camelCase keys, unset fields omitted (the API treats absent as null)."""
        return {
            _API_NAMES[name]: value
            for name, value in asdict(self).items()
            if value is not None and name != "page"
        }


_API_NAMES = {field.name: field.api_name for field in FILTERS}
FILTER_FIELDS: tuple[str, ...] = tuple(_API_NAMES)

_ENUMS: dict[str, Sequence[str]] = {
    "status": settings.STATUSES,
    "sentiment": settings.SENTIMENTS,
    "sort_by": settings.SORT_FIELDS,
    "sort_order": settings.SORT_ORDERS,
    "session_language": settings.LANGUAGES,
    "ticket_sentiment": settings.SENTIMENTS,
    "channel": settings.CHANNELS,
    "session_status": settings.SESSION_STATUSES,
}
_POSITIVE_INTS = ("min_sessions", "insight_number", "page")
_TEXTS = ("category", "search")
_DATES = ("session_from_date", "session_to_date")
_CUSTOM_DATA = ("ticket_custom_data", "contact_custom_data")


def build_filters(values: Mapping[str, Any]) -> InsightFilters:
    """Validate raw values (from config, env or the command line) into `InsightFilters`."""
    unknown = sorted(set(values) - set(FILTER_FIELDS))
    if unknown:
        raise ConfigValueError(f"unknown filter {unknown[0]!r}; known: {', '.join(FILTER_FIELDS)}")
    clean = {name: validate_field(name, value) for name, value in values.items()}
    filters = InsightFilters(**clean)
    _check_date_order(filters)
    return filters


def validate_field(name: str, value: Any) -> Any:
    """Validate and normalise one field; None always means "not set"."""
    if value is None:
        return None
    if name in _ENUMS:
        return _enum(name, value, _ENUMS[name])
    if name in _POSITIVE_INTS:
        return _positive_int(name, value)
    if name in _TEXTS:
        return _text(name, value)
    if name in _DATES:
        return normalise_timestamp(name, value)
    if name in _CUSTOM_DATA:
        return _custom_data(name, value)
    if name == "team_id":
        return _team_id(value)
    if name == "session_contact_id":
        return _uuid(name, value)
    raise ConfigValueError(f"unknown filter {name!r}")


def _enum(name: str, value: Any, allowed: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise ConfigValueError(
            f"{name}: {value!r} is not allowed; use one of {', '.join(allowed)}", name
        )
    return value


def _positive_int(name: str, value: Any) -> int:
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        number = int(value.strip())
    if number is None or not 1 <= number <= settings.MAX_SAFE_INTEGER:
        raise ConfigValueError(
            f"{name}: {value!r} is not allowed; use a whole number from 1 to "
            f"{settings.MAX_SAFE_INTEGER}",
            name,
        )
    return number


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigValueError(f"{name}: {value!r} is not allowed; use a non-empty string", name)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ConfigValueError(
            f"{name}: contains bytes that are not UTF-8 text (check the shell's locale)", name
        ) from None
    return value


def _uuid(name: str, value: Any) -> str:
    try:
        if not isinstance(value, str):
            raise ValueError(value)
        return str(uuid.UUID(value))
    except ValueError:
        raise ConfigValueError(
            f"{name}: {value!r} is not allowed; use a UUID such as "
            "3c90c3cc-0d44-4b50-8888-8dd25736052a",
            name,
        ) from None


def _team_id(value: Any) -> str:
    if value == settings.TEAM_NONE:
        return settings.TEAM_NONE
    try:
        return _uuid("team_id", value)
    except ConfigValueError:
        raise ConfigValueError(
            f'team_id: {value!r} is not allowed; use a team UUID or "none" for insights '
            "without a team",
            "team_id",
        ) from None


def normalise_timestamp(name: str, value: Any) -> str:
    """A configured time in (`parse_timestamp`), RFC 3339 UTC with milliseconds out."""
    return format_timestamp(parse_timestamp(name, value))


TIME_FORMS = "2026-01-31, 2026-01-31T08:00:00Z, 7d, 12h, 2w, P7D, PT6H, today, yesterday or now"
_DAY_NAMES = ("now", "today", "yesterday")
_SHORTHAND = re.compile(r"(\d{1,9})\s*([hdw])")
_SHORTHAND_AS_ISO = {"h": "PT{}H", "d": "P{}D", "w": "P{}W"}
# Checked before pendulum sees it: pendulum also takes "PT" and "P1DT" and fails oddly on
# intervals ("P1D/P2D"); a scheduler's typo must end in the one-line error instead.
_ISO_DURATION = re.compile(
    r"P(?=\d|T\d)(?:\d+Y)?(?:\d+M)?(?:\d+W)?(?:\d+D)?(?:T(?=\d)(?:\d+H)?(?:\d+M)?(?:\d+S)?)?"
)


def parse_timestamp(name: str, value: Any) -> datetime:
    """Parse a configured time into an aware UTC datetime.

    Accepted: an ISO 8601 date or date-time (str, date or datetime; naive means UTC) or, as a
    string, a relative time (`relative_timestamp`) counted back from now.
    """
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        parsed = _parse_time_text(name, value)
    else:
        raise _not_a_time(name, value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        raise _out_of_range(name, value) from None


def _parse_time_text(name: str, value: str) -> datetime:
    try:
        relative = relative_timestamp(value, utc_now())
    except OverflowError:
        raise _out_of_range(name, value) from None
    if relative is not None:
        return relative
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError:
        raise _not_a_time(name, value) from None


def _not_a_time(name: str, value: Any) -> ConfigValueError:
    return ConfigValueError(
        f"{name}: {value!r} is not an ISO 8601 date or a relative time; use e.g. {TIME_FORMS}",
        name,
    )


def _out_of_range(name: str, value: Any) -> ConfigValueError:
    return ConfigValueError(f"{name}: {value!r} is outside the supported range", name)


def relative_timestamp(text: str, now: datetime) -> datetime | None:
    """The moment a relative time names, counted back from `now` (aware); None if it is not one.

    A scheduled run needs bounds that move with it ("the last 7 days"), which a fixed date in a
    crontab cannot express. Forms (case-insensitive): `now`; `today` and `yesterday`, the UTC
    midnight that starts that day; `7d`, `12h`, `2w` (days, hours, weeks ago); and ISO 8601
    durations such as `P7D`, `PT6H` or `P1M`, which pendulum subtracts in calendar terms.
    Raises OverflowError when the result is outside the representable range.
    """
    word = text.strip().lower()
    moment = pendulum.instance(now).in_timezone("UTC")
    if word in _DAY_NAMES:
        return _plain_utc(_named_moment(word, moment))
    duration = _duration(word)
    return None if duration is None else _plain_utc(moment - duration)


def _named_moment(word: str, moment: pendulum.DateTime) -> pendulum.DateTime:
    if word == "now":
        return moment
    start = moment.start_of("day")
    return start if word == "today" else start.subtract(days=1)


def _duration(word: str) -> pendulum.Duration | None:
    """A `7d`-style shorthand or an ISO 8601 duration, parsed by pendulum; None if neither."""
    shorthand = _SHORTHAND.fullmatch(word)
    if shorthand:
        word = _SHORTHAND_AS_ISO[shorthand[2]].format(shorthand[1])
    word = word.upper()
    if not _ISO_DURATION.fullmatch(word):
        return None
    try:
        duration = pendulum.parse(word, exact=True)
    except ValueError:  # e.g. weeks mixed with other units, which ISO 8601 does not allow
        return None
    return duration if isinstance(duration, pendulum.Duration) else None


def _plain_utc(moment: pendulum.DateTime) -> datetime:
    """A standard-library datetime, so nothing downstream meets pendulum's subclass."""
    return datetime(
        moment.year,
        moment.month,
        moment.day,
        moment.hour,
        moment.minute,
        moment.second,
        moment.microsecond,
        tzinfo=UTC,
    )


def _custom_data(name: str, value: Any) -> CustomData:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise ConfigValueError(
                f"{name}: not valid JSON; use a list of objects such as "
                '[{"plan": "pro", "region": "eu"}]',
                name,
            ) from None
    if isinstance(value, Mapping):
        value = [value]
    if not isinstance(value, list) or not value:
        raise ConfigValueError(f"{name}: use a non-empty list of objects of key/value pairs", name)
    return [_custom_data_object(name, item) for item in value]


def _custom_data_object(name: str, item: Any) -> dict[str, Any]:
    if not isinstance(item, Mapping) or not item:
        raise ConfigValueError(
            f"{name}: every entry must be a non-empty object of key/value pairs, got {item!r}",
            name,
        )
    for key, val in item.items():
        if not isinstance(key, str) or not key:
            raise ConfigValueError(f"{name}: keys must be non-empty strings, got {key!r}", name)
        if not isinstance(val, str | int | float | bool):
            raise ConfigValueError(
                f"{name}: value of {key!r} must be a string, number or boolean, got {val!r}", name
            )
    return dict(item)


def _check_date_order(filters: InsightFilters) -> None:
    start, end = filters.session_from_date, filters.session_to_date
    if start and end and parse_timestamp("x", start) > parse_timestamp("x", end):
        raise ConfigValueError(
            f"session_from_date {start} is after session_to_date {end}", "session_from_date"
        )
