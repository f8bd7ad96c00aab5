"""HTTP client for ``POST /insights``: auth, pacing, retries and response checks.

Retries go through tenacity (already a dlt dependency) so backoff, jitter and stop rules are a
well-tested library's, not a hand-written loop. Pacing is client-side because the API documents
a limit (100/min) but no rate-limit headers: waiting for 429s would waste a request each time.
"""

from __future__ import annotations

import email.utils
import json
import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import httpx
import orjson
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from sources.opencx import settings
from sources.opencx.errors import (
    ApiResponseError,
    ApiUnreachableError,
    AuthenticationError,
    ConfigValueError,
    PermissionDeniedError,
)

logger = logging.getLogger("sources.opencx")
T = TypeVar("T")


@dataclass(frozen=True)
class ClientSettings:
    """Everything that shapes how we talk to the API (no filters: those are the body)."""

    api_key: str = field(repr=False)
    base_url: str = settings.DEFAULT_BASE_URL
    timeout_seconds: float = settings.DEFAULT_TIMEOUT_SECONDS
    max_attempts: int = settings.DEFAULT_MAX_ATTEMPTS
    backoff_base_seconds: float = 0.5
    max_backoff_seconds: float = settings.DEFAULT_MAX_BACKOFF_SECONDS
    requests_per_minute: float | None = settings.DEFAULT_REQUESTS_PER_MINUTE
    max_connections: int = 4

    def __post_init__(self) -> None:
        """A malformed base URL is a configuration error, not eight retries of a network one."""
        check_base_url(self.base_url)


def check_base_url(base_url: str) -> None:
    """Raise ConfigValueError unless `base_url` is an http(s) URL with a host (and a valid port)."""
    try:
        parts = urlsplit(base_url)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
        _ = parts.port  # a port that is not a number in range raises ValueError
    except (TypeError, ValueError):
        valid = False
    if not valid:
        raise ConfigValueError(
            f"base_url {base_url!r:.100} is not an http:// or https:// URL with a host, "
            f"e.g. {settings.DEFAULT_BASE_URL}",
            "base_url",
        )


@dataclass(frozen=True)
class InsightsPage:
    """One page as the API returned it; `items` are raw dicts, never validated against enums."""

    items: list[dict[str, Any]]
    page: int
    total: int
    total_pages: int


@dataclass(frozen=True)
class RequestCounts:
    """A consistent copy of `RequestStats`, for a progress reporter on another thread."""

    requests: int
    retries: int
    rate_limited: int
    pages: int
    insights: int
    pages_planned: int
    pages_bounded: int


@dataclass
class RequestStats:
    """Counts for the run summary, the progress display and tests asserting the request budget.

    Pages are counted here (not per scan) because every scan of a run shares this object with
    its client: the progress display needs the run's total, whichever scan is going. Pages are
    fetched by a thread pool while another thread reports, so every change holds the lock.
    `pages_planned` is what the scans said they will read once their first page told the total;
    `pages_bounded` is the part of it that is only an upper bound (a recent-first scan stops at
    the cursor, usually much earlier).
    """

    requests: int = 0
    retries: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    pages: int = 0
    insights: int = 0
    pages_planned: int = 0
    pages_bounded: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, status: int) -> None:
        """Count one HTTP exchange; status 0 stands for a network failure."""
        with self._lock:
            self.requests += 1
            self.statuses[status] += 1

    def record_retry(self) -> None:
        """Count one retry decision."""
        with self._lock:
            self.retries += 1

    def record_page(self, insights: int) -> None:
        """Count one page a scan accepted and the insights on it."""
        with self._lock:
            self.pages += 1
            self.insights += insights

    def plan_pages(self, pages: int, bounded: int = 0) -> None:
        """Change the planned page count (negative when a scan ends early or its total moves)."""
        with self._lock:
            self.pages_planned += pages
            self.pages_bounded += bounded

    def snapshot(self) -> RequestCounts:
        """All counters at one instant."""
        with self._lock:
            return RequestCounts(
                requests=self.requests,
                retries=self.retries,
                rate_limited=self.statuses[429],
                pages=self.pages,
                insights=self.insights,
                pages_planned=self.pages_planned,
                pages_bounded=self.pages_bounded,
            )


class RequestPacer:
    """Keeps request starts to at most `requests_per_minute` in any 60 s.

    The API allows 100 requests a minute and does not say how it counts them. Starts held to
    at most N in every 60 s span stay under a fixed per-minute window and a sliding one alike,
    and, unlike even spacing, let a run that needs fewer than N requests make them at once: a
    scheduled run's dozen requests never wait, and a long backfill still averages N a minute.
    A fractional rate rounds down; below 1 a minute, one start per 60 / rate seconds.
    """

    def __init__(
        self,
        requests_per_minute: float | None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._per_window = max(1, int(requests_per_minute)) if requests_per_minute else 0
        self._window_s = 60.0 / min(requests_per_minute, 1.0) if requests_per_minute else 0.0
        self._starts: deque[float] = deque(maxlen=self._per_window or 1)
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()

    def wait(self) -> None:
        """Block until this caller may start a request; starts are handed out in call order."""
        if not self._per_window:
            return
        with self._lock:
            now = self._clock()
            start = now
            if len(self._starts) == self._per_window:  # the N-th start before this one
                start = max(now, self._starts[0] + self._window_s)
            self._starts.append(start)
        if start > now:
            self._sleep(start - now)


class RetryableResponseError(Exception):
    """A response worth retrying (429, 5xx, malformed 200); carries the server's wait hint."""

    def __init__(self, description: str, retry_after: float | None = None) -> None:
        super().__init__(description)
        self.retry_after = retry_after


class OpenCXClient:
    """Thread-safe client: one pooled httpx connection set, one pacer, one stats object."""

    def __init__(
        self,
        client_settings: ClientSettings,
        stats: RequestStats | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.settings = client_settings
        self.stats = stats if stats is not None else RequestStats()
        self._pacer = RequestPacer(client_settings.requests_per_minute)
        self._http = httpx.Client(
            base_url=client_settings.base_url.rstrip("/"),
            headers={
                "Authorization": f"Bearer {client_settings.api_key}",
                "Accept": "application/json",
                "User-Agent": "opencx-insights-dlt/0.1",
            },
            timeout=client_settings.timeout_seconds,
            limits=httpx.Limits(
                max_connections=client_settings.max_connections,
                max_keepalive_connections=client_settings.max_connections,
            ),
            transport=transport,
        )

    def __enter__(self) -> OpenCXClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release pooled connections."""
        self._http.close()

    def fetch_page(self, body: dict[str, Any], page: int) -> InsightsPage:
        """POST /insights for one page, retrying transient failures."""
        payload = {**body, "page": page}
        return self._with_retries(
            lambda: parse_page(self._send("POST", settings.INSIGHTS_PATH, payload), page)
        )

    def get_insight(self, insight_id: str) -> dict[str, Any] | None:
        """GET /insights/{id}: the unfiltered insight, or None when the API says 404."""
        path = f"{settings.INSIGHTS_PATH}/{quote(insight_id, safe='')}"
        try:
            response = self._with_retries(lambda: self._send("GET", path, None))
        except ApiResponseError as exc:
            if exc.status == 404:
                return None
            raise
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise ApiResponseError(f"GET {path} answered 200 without an insight object")
        return body

    def _with_retries(self, attempt: Callable[[], T]) -> T:
        retrying = Retrying(
            retry=retry_if_exception_type((RetryableResponseError, httpx.TransportError)),
            stop=stop_after_attempt(self.settings.max_attempts),
            wait=self._wait_seconds,
            before_sleep=self._before_sleep,
            reraise=True,
        )
        try:
            return retrying(attempt)
        except httpx.TransportError as exc:
            raise ApiUnreachableError(
                f"cannot reach the OpenCX API at {self.settings.base_url}: "
                f"{type(exc).__name__} after {self.settings.max_attempts} attempts",
                "base_url",
            ) from None
        except RetryableResponseError as exc:
            raise ApiResponseError(
                f"the OpenCX API kept failing: {exc} after {self.settings.max_attempts} attempts;"
                " try again later or lower the request rate",
                "requests_per_minute",
            ) from None

    def _send(self, method: str, path: str, payload: dict[str, Any] | None) -> httpx.Response:
        self._pacer.wait()
        try:
            response = self._http.request(method, path, json=payload)
        except httpx.TransportError:
            self.stats.record(0)
            raise
        self.stats.record(response.status_code)
        check_status(response)
        return response

    def _wait_seconds(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RetryableResponseError) and exc.retry_after is not None:
            return min(exc.retry_after, settings.MAX_RETRY_AFTER_SECONDS)
        backoff = wait_random_exponential(
            multiplier=self.settings.backoff_base_seconds, max=self.settings.max_backoff_seconds
        )
        return float(backoff(state))

    def _before_sleep(self, state: RetryCallState) -> None:
        self.stats.record_retry()
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        # INFO, not WARNING: a retry that succeeds is routine; the command shows it with -v
        logger.info(
            "retrying after %s (attempt %d of %d, waiting %.1f s)",
            describe(exc),
            state.attempt_number,
            self.settings.max_attempts,
            wait,
        )


def describe(exc: BaseException | None) -> str:
    """Short, secret-free description of a failure for logs."""
    if isinstance(exc, RetryableResponseError):
        return str(exc)
    return type(exc).__name__ if exc else "unknown error"


def check_status(response: httpx.Response) -> None:
    """Map a status to retry, a user-facing error, or nothing (2xx)."""
    status = response.status_code
    if status < 300:
        return
    if status in {429, 408} or status >= 500:
        raise RetryableResponseError(
            f"HTTP {status}", retry_after=parse_retry_after(response.headers.get("Retry-After"))
        )
    message = server_message(response)
    if status == 401:
        raise AuthenticationError(f"the OpenCX API rejected the API key (401 {message})", "api_key")
    if status == 403:
        raise PermissionDeniedError(
            f"the API key may not read insights (403 {message}); use a key with the "
            "insights:read scope",
            "api_key",
        )
    raise ApiResponseError(
        f"the OpenCX API refused the request (HTTP {status}: {message})", status=status
    )


def server_message(response: httpx.Response) -> str:
    """The `message` of an error body (a string or a list of strings), else the reason."""
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase
    message = body.get("message") if isinstance(body, dict) else None
    if isinstance(message, list):
        return "; ".join(str(part) for part in message)
    return str(message) if message else response.reason_phrase


def parse_retry_after(value: str | None) -> float | None:
    """`Retry-After` as seconds (delta-seconds or HTTP-date); None when absent or garbled."""
    if not value:
        return None
    value = value.strip()
    if value.replace(".", "", 1).isdigit():
        return max(0.0, float(value))
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return max(0.0, (moment - datetime.now(timezone.utc)).total_seconds())


def parse_page(response: httpx.Response, requested_page: int) -> InsightsPage:
    """Check the envelope; a malformed 200 (proxy page, truncated body) is retried."""
    try:
        body = decode_json(response.content)
    except ValueError:
        raise RetryableResponseError("a response that is not valid JSON") from None
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise RetryableResponseError("a response without a `data` list")
    total = _int_field(body, "total")
    total_pages = _int_field(body, "totalPages")
    page = body.get("page")
    items = body["data"]
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]:
            raise ApiResponseError(f"the API returned an insight without an id: {item!r:.200}")
    return InsightsPage(
        items=items,
        page=page if isinstance(page, int) else requested_page,
        total=total,
        total_pages=total_pages,
    )


def decode_json(content: bytes) -> Any:
    """A page body: orjson parses it in half the time of `json`, which a full load feels.

    orjson refuses what `json` accepts beyond RFC 8259 (integers over 64 bits, NaN), so a
    body it refuses gets a second chance with `json` before it counts as malformed.
    """
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        return json.loads(content)


def _int_field(body: dict[str, Any], name: str) -> int:
    value = body.get(name)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise RetryableResponseError(f"a response whose `{name}` is not a whole number")
    return value
