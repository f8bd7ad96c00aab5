"""Constants of the OpenCX insights API and of this connector's defaults.

The enums mirror the published reference for ``POST /insights``. They are used only to validate
what *we* send: values in responses are never checked against them, because the API grows its
enums without notice (see ``shared/opencx-api/NOTES.md``).
"""

from __future__ import annotations

from typing import Final

DEFAULT_BASE_URL: Final = "https://api.open.cx"
INSIGHTS_PATH: Final = "/insights"

STATUSES: Final = ("all", "unresolved", "resolved", "archived")
SENTIMENTS: Final = ("angry", "happy", "neutral")
SORT_FIELDS: Final = ("occurrence_count", "last_seen_at", "first_seen_at", "created_at")
SORT_ORDERS: Final = ("asc", "desc")
SESSION_STATUSES: Final = ("closed_resolved", "closed_unresolved", "open")
CHANNELS: Final = (
    "web", "email", "phone_voice", "slack", "sms", "whatsapp", "instagram", "messenger", "api",
    "web_voice",
)  # fmt: skip
LANGUAGES: Final = (
    "el", "de", "fr", "it", "es", "pt", "nl", "da", "sv", "no", "fi", "pl", "cs", "sk", "hu",
    "ro", "bg", "hr", "sr", "uk", "ru", "tr", "en", "zh", "ja", "ko", "hi", "id", "ms", "th",
    "vi", "tl", "ar", "he", "fa", "af", "sw",
)  # fmt: skip
MAX_SAFE_INTEGER: Final = 9007199254740991
TEAM_NONE: Final = "none"

# Client defaults. 90/min leaves headroom under the documented 100/min so a long backfill
# never provokes a 429 even when another tool shares the key.
DEFAULT_REQUESTS_PER_MINUTE: Final = 90.0
DEFAULT_TIMEOUT_SECONDS: Final = 30.0
DEFAULT_MAX_ATTEMPTS: Final = 8
DEFAULT_MAX_BACKOFF_SECONDS: Final = 60.0
MAX_RETRY_AFTER_SECONDS: Final = 300.0
# Hard cap on pages per scan: far above any real tenant, low enough to stop a server that
# keeps answering `totalPages` larger than what it serves.
DEFAULT_MAX_PAGES: Final = 100_000
# Requests in flight during full scans (pacing still applies): hides latency, not the limit.
DEFAULT_CONCURRENCY: Final = 4
# A full scan during which insights disappear is read again, at most this many times.
MAX_SCAN_PASSES: Final = 3
# Every insight a reconciliation did not see is asked for by id before it is marked deleted.
# Up to this many per run (about 2 minutes at 90/min); more means the scan itself went wrong,
# so only a sample of DELETION_SAMPLE is asked and nothing is marked.
DEFAULT_MAX_DELETION_CHECKS: Final = 200
DELETION_SAMPLE: Final = 20

# The API may stamp `last_seen_at` with the session's time once the session is analysed, hours
# after it happened. 24 h re-reads a day of active insights per run (a few pages) and covers
# sessions that stay open for a working day before analysis. See docs/operations.md, "Lookback".
DEFAULT_LOOKBACK_HOURS: Final = 24.0

# Pages are handed to dlt in batches of about this many insights: dlt's per-item overhead for
# Arrow tables is fixed per table, so one table per 50-row page spent more time in dlt than in
# HTTP (bench/loader_formats.py compares per-page and batched extraction; figures in
# bench/RESULTS.md).
BATCH_ROWS: Final = 2000

PIPELINE_NAME: Final = "opencx_insights"
DEMO_PIPELINE_NAME: Final = "opencx_insights_demo"
DATASET_NAME: Final = "opencx"
SOURCE_SECTION: Final = "opencx"
