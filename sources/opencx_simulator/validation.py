"""Validation of `POST /insights` bodies, NestJS class-validator style.

The real API rejects bad bodies with 400 and a list of messages naming each field; a connector
must surface those rather than retry. Validation also normalises the body into a hashable
`Query`, which doubles as the result-cache key.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Final

from .data import (
    CHANNELS,
    INSIGHT_STATUSES,
    LANGUAGES,
    MAX_SAFE_INTEGER,
    SENTIMENTS,
    SESSION_STATUSES,
    SORT_KEYS,
    SORT_ORDERS,
    canonical_json,
)

_UUID_RE: Final = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_ISO_RE: Final = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:[T ](?P<h>\d{2}):(?P<m>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<frac>\d{1,9}))?)?"
    r"(?P<tz>Z|z|[+-]\d{2}(?::?\d{2})?)?)?"
)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=timezone.utc)


class ValidationError(ValueError):
    """A body the API would answer with 400; `messages` are the per-field complaints."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


class _FieldError(Exception):
    """One field's complaint, raised by a checker."""


@dataclass(frozen=True, slots=True)
class Query:
    """A validated, normalised filter body without `page`.

    Case-insensitive inputs are lower-cased, dates are epoch microseconds and custom-data
    filters are canonical JSON, so equal requests compare (and hash) equal.
    """

    category: str | None = None
    status: str = "all"
    sentiment: str | None = None
    sort_by: str = "occurrence_count"
    sort_order: str = "desc"
    min_sessions: int | None = None
    search: str | None = None
    team_id: str | None = None
    insight_number: int | None = None
    session_language: str | None = None
    ticket_sentiment: str | None = None
    channel: str | None = None
    session_from_us: int | None = None
    session_to_us: int | None = None
    session_status: str | None = None
    session_contact_id: str | None = None
    ticket_custom_data: tuple[str, ...] | None = None
    contact_custom_data: tuple[str, ...] | None = None

    @property
    def has_session_filters(self) -> bool:
        """Tell whether any filter looks at sessions rather than at the insight itself."""
        return any(getattr(self, name) is not None for name in SESSION_FIELDS)


SESSION_FIELDS: Final = (
    "session_language", "ticket_sentiment", "channel", "session_from_us", "session_to_us",
    "session_status", "session_contact_id", "ticket_custom_data", "contact_custom_data",
)  # fmt: skip


def _string(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise _FieldError(f"{name} must be a string")
    return value


def _lower_string(name: str, value: object) -> str:
    return _string(name, value).lower()


def _enum(options: tuple[str, ...]) -> Callable[[str, object], str]:
    def check(name: str, value: object) -> str:
        if not isinstance(value, str) or value not in options:
            raise _FieldError(f"{name} must be one of the following values: {', '.join(options)}")
        return value

    return check


def _integer(name: str, value: object) -> int:
    """Accept what JavaScript's Number.isInteger accepts (so 2.0 too), but never booleans."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _FieldError(f"{name} must be an integer number")
    if isinstance(value, float) and not value.is_integer():
        raise _FieldError(f"{name} must be an integer number")
    number = int(value)
    if number < 1:
        raise _FieldError(f"{name} must not be less than 1")
    if number > MAX_SAFE_INTEGER:
        raise _FieldError(f"{name} must not be greater than {MAX_SAFE_INTEGER}")
    return number


def is_uuid(value: object) -> bool:
    """Tell whether `value` is a UUID in canonical 8-4-4-4-12 hex form."""
    return isinstance(value, str) and _UUID_RE.fullmatch(value) is not None


def _uuid(name: str, value: object) -> str:
    if not is_uuid(value):
        raise _FieldError(f"{name} must be a UUID")
    return str(uuid.UUID(str(value)))


def _team_id(name: str, value: object) -> str:
    if value == "none":
        return "none"
    if not is_uuid(value):
        raise _FieldError(f'{name} must be a UUID or "none"')
    return str(uuid.UUID(str(value)))


def parse_iso8601(text: str) -> int | None:
    """Parse an ISO 8601 date or date-time to epoch microseconds; None if it is not one.

    A date alone means midnight UTC and a time without offset is taken as UTC. Hand-rolled
    rather than `datetime.fromisoformat` because that one's accepted syntax differs between
    Python versions.
    """
    match = _ISO_RE.fullmatch(text)
    if match is None:
        return None
    try:
        moment = datetime.fromisoformat(match["date"]).replace(tzinfo=timezone.utc)
        frac = (match["frac"] or "0")[:6].ljust(6, "0")
        moment = moment.replace(
            hour=int(match["h"] or 0), minute=int(match["m"] or 0), second=int(match["s"] or 0)
        )
    except ValueError:
        return None
    offset = _offset(match["tz"])
    if offset is None:
        return None
    micros = (moment - _EPOCH) // timedelta(microseconds=1) + int(frac)
    return micros - offset


def _offset(tz: str | None) -> int | None:
    """Turn a `Z`/`+hh:mm` suffix into microseconds east of UTC; None if out of range."""
    if tz is None or tz in "Zz":
        return 0
    digits = tz[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:] or 0)
    if hours > 23 or minutes > 59:
        return None
    sign = -1 if tz[0] == "-" else 1
    return sign * (hours * 60 + minutes) * 60_000_000


def _date(name: str, value: object) -> int:
    micros = parse_iso8601(value) if isinstance(value, str) else None
    if micros is None:
        raise _FieldError(f"{name} must be a valid ISO 8601 date string")
    return micros


def _custom_data(name: str, value: object) -> tuple[str, ...] | None:
    """Validate a list of objects; an empty list filters nothing, like an absent one."""
    if not isinstance(value, list):
        raise _FieldError(f"{name} must be an array")
    if not all(isinstance(item, dict) for item in value):
        raise _FieldError(f"each value in {name} must be an object")
    return tuple(canonical_json(item) for item in value) or None


_FIELDS: Final[dict[str, tuple[str, Callable[[str, object], Any]]]] = {
    "category": ("category", _lower_string),
    "status": ("status", _enum(INSIGHT_STATUSES)),
    "sentiment": ("sentiment", _enum(SENTIMENTS)),
    "sortBy": ("sort_by", _enum(SORT_KEYS)),
    "sortOrder": ("sort_order", _enum(SORT_ORDERS)),
    "minSessions": ("min_sessions", _integer),
    "search": ("search", _lower_string),
    "teamId": ("team_id", _team_id),
    "insightNumber": ("insight_number", _integer),
    "sessionLanguage": ("session_language", _enum(LANGUAGES)),
    "ticketSentiment": ("ticket_sentiment", _enum(SENTIMENTS)),
    "channel": ("channel", _enum(CHANNELS)),
    "sessionFromDate": ("session_from_us", _date),
    "sessionToDate": ("session_to_us", _date),
    "sessionStatus": ("session_status", _enum(SESSION_STATUSES)),
    "sessionContactId": ("session_contact_id", _uuid),
    "ticketCustomData": ("ticket_custom_data", _custom_data),
    "contactCustomData": ("contact_custom_data", _custom_data),
    "page": ("page", _integer),
}
BODY_FIELDS: Final = tuple(_FIELDS)


def parse_body(body: object) -> tuple[Query, int]:
    """Validate a request body; return the normalised query and the 1-based page.

    JSON null counts as "not set" for every field. Raises ValidationError listing one message
    per problem.
    """
    if not isinstance(body, dict):
        raise ValidationError(["body must be a JSON object"])
    values: dict[str, Any] = {}
    messages = [f"property {key} should not exist" for key in body if key not in _FIELDS]
    for key, (attr, check) in _FIELDS.items():
        raw = body.get(key)
        if raw is None:
            continue
        try:
            values[attr] = check(key, raw)
        except _FieldError as problem:
            messages.append(str(problem))
    if messages:
        raise ValidationError(messages)
    page = values.pop("page", 1)
    return Query(**values), page
