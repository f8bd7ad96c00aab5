"""The nineteen ``POST /insights`` body fields, defined once: config key, API name, help, example.

Derived from this table: the request body's camelCase keys and the list of known filters
(`sources.opencx.filters`), the command line's filter flags (`pipelines/command/cli.py`) and
the filter keys of ``config.toml``. Python cannot derive the `opencx` source signature (dlt
reads its configuration surface from the explicit parameters) nor the typed `InsightFilters`
dataclass; ``tests/test_config_surface.py`` fails when either disagrees with this table.

It sits outside the `sources.opencx` package on purpose: importing anything in that package
imports dlt (over a second), and the command line must answer ``--help`` and argument errors
instantly. Keep it to the standard library.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FilterField:
    """One body field, under the snake_case name used by config, environment and CLI."""

    name: str  # source parameter, config key, CLI flag (--name-with-dashes)
    api_name: str  # the camelCase key in the request body
    help: str  # CLI help, and the comment beside the key in config.toml
    example: str  # a TOML value, shown commented out in config.toml


FILTERS: tuple[FilterField, ...] = (
    FilterField("category", "category", "category name (case-insensitive)", '"Billing"'),
    FilterField("status", "status", "all | unresolved | resolved | archived", '"unresolved"'),
    FilterField("sentiment", "sentiment", "angry | happy | neutral", '"angry"'),
    FilterField(
        "sort_by",
        "sortBy",
        "occurrence_count | last_seen_at | first_seen_at | created_at (forces a full scan)",
        '"occurrence_count"',
    ),
    FilterField("sort_order", "sortOrder", "asc | desc (forces a full scan)", '"desc"'),
    FilterField("min_sessions", "minSessions", "minimum occurrence count (integer >= 1)", "5"),
    FilterField("search", "search", "text to search in insight content", '"checkout"'),
    FilterField("team_id", "teamId", 'team UUID, or "none" for insights without a team', '"none"'),
    FilterField("insight_number", "insightNumber", "a single insight number", "412"),
    FilterField(
        "session_language", "sessionLanguage", "session language code, e.g. en, de", '"en"'
    ),
    FilterField("ticket_sentiment", "ticketSentiment", "angry | happy | neutral", '"angry"'),
    FilterField(
        "channel", "channel", "web | email | phone_voice | slack | sms | whatsapp | ...", '"web"'
    ),
    FilterField(
        "session_from_date",
        "sessionFromDate",
        "sessions created from this time (ISO 8601, or relative: 7d, yesterday, ...)",
        '"2026-01-01"',
    ),
    FilterField(
        "session_to_date",
        "sessionToDate",
        "sessions created up to this time (ISO 8601, or relative: 12h, today, ...)",
        '"2026-06-30T23:59:59Z"',
    ),
    FilterField(
        "session_status",
        "sessionStatus",
        "closed_resolved | closed_unresolved | open",
        '"closed_resolved"',
    ),
    FilterField(
        "session_contact_id",
        "sessionContactId",
        "contact UUID",
        '"3c90c3cc-0d44-4b50-8888-8dd25736052a"',
    ),
    FilterField(
        "ticket_custom_data",
        "ticketCustomData",
        'JSON list of objects, e.g. \'[{"plan": "pro"}]\'',
        '[{ plan = "pro", region = "eu" }]',
    ),
    FilterField(
        "contact_custom_data",
        "contactCustomData",
        'JSON list of objects, e.g. \'[{"tier": "gold"}]\'',
        '[{ tier = "gold" }]',
    ),
    FilterField("page", "page", "first page to read (default 1)", "1"),
)
