"""Failure modes the simulator can inject, and the error bodies the real stack produces.

A connector's retry and validation logic is only trustworthy if each failure it must survive can
be produced on demand: scripted faults are consumed one per request in order; random ones are
drawn from their own seeded RNG so a flaky run can be replayed.
"""

from __future__ import annotations

import enum
import json
import random
import threading
from collections import deque
from dataclasses import dataclass
from typing import Final


class FaultKind(str, enum.Enum):  # noqa: UP042 - str() of a member stays "FaultKind.X"
    """Every scripted fault; "slow" is written "slow:SECONDS" when enqueued."""

    HTTP_500 = "500"
    HTTP_502 = "502"
    HTTP_503 = "503"
    HTTP_504 = "504"
    HTML_520 = "html_520"
    HTML_521 = "html_521"
    HTML_522 = "html_522"
    HTML_523 = "html_523"
    HTML_524 = "html_524"
    RATE_LIMITED = "429"
    DROP = "drop"
    TRUNCATED = "truncated"
    MISSING_DATA = "missing_data"
    EMPTY_PAGE = "empty_page"
    DUPLICATE_PAGE = "duplicate_page"
    NULL_OBJECTS = "null_objects"
    SLOW = "slow"


# Faults answered before any normal handling; the others reshape a normal 200 answer.
EARLY_FAULTS: Final = frozenset(
    {FaultKind.HTTP_500, FaultKind.HTTP_502, FaultKind.HTTP_503, FaultKind.HTTP_504,
     FaultKind.HTML_520, FaultKind.HTML_521, FaultKind.HTML_522, FaultKind.HTML_523,
     FaultKind.HTML_524, FaultKind.RATE_LIMITED, FaultKind.DROP}
)  # fmt: skip
RANDOM_ERRORS: Final = (
    FaultKind.HTTP_500, FaultKind.HTTP_502, FaultKind.HTTP_503, FaultKind.HTTP_504,
    FaultKind.HTML_520, FaultKind.HTML_521, FaultKind.HTML_522, FaultKind.HTML_523,
    FaultKind.HTML_524,
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Fault:
    """One fault to apply to one request."""

    kind: FaultKind
    seconds: float = 0.0

    @property
    def spec(self) -> str:
        """Spell the fault the way it was enqueued."""
        if self.kind is FaultKind.SLOW:
            return f"slow:{self.seconds:g}"
        return str(self.kind.value)

    @property
    def status(self) -> int:
        """Return the HTTP status an error fault answers with (0 for a dropped connection)."""
        if self.kind is FaultKind.DROP:
            return 0
        return int(self.kind.value.removeprefix("html_"))


def parse_fault(spec: str | FaultKind) -> Fault:
    """Read "503", "html_522", "slow:0.5", ... into a Fault; ValueError if unknown."""
    text = str(spec.value) if isinstance(spec, FaultKind) else str(spec)
    if text.startswith("slow:"):
        seconds = float(text.removeprefix("slow:"))
        if not seconds >= 0:
            raise ValueError(f"bad slow fault {text!r}")
        return Fault(FaultKind.SLOW, seconds)
    try:
        kind = FaultKind(text)
    except ValueError:
        raise ValueError(f"unknown fault {text!r}") from None
    if kind is FaultKind.SLOW:
        raise ValueError('write slow faults as "slow:SECONDS"')
    return Fault(kind)


class FaultQueue:
    """Scripted faults, consumed one per request in the order enqueued."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: deque[Fault] = deque()

    def enqueue(self, *kinds: str | FaultKind) -> None:
        """Schedule faults for the next requests; all are checked before any is queued."""
        faults = [parse_fault(kind) for kind in kinds]
        with self._lock:
            self._queue.extend(faults)

    def clear(self) -> None:
        """Forget faults not consumed yet."""
        with self._lock:
            self._queue.clear()

    def pending(self) -> list[str]:
        """List the faults still waiting, as enqueued."""
        with self._lock:
            return [fault.spec for fault in self._queue]

    def pop(self) -> Fault | None:
        """Take the next fault, if any."""
        with self._lock:
            return self._queue.popleft() if self._queue else None


class RandomFaults:
    """Per-request random drops and 5xx, from an RNG independent of the data seed."""

    def __init__(self, seed: int) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(seed)

    def draw(self, drop_rate: float, fault_rate: float) -> Fault | None:
        """Draw for one request; always consumes the same amount of randomness for replay."""
        with self._lock:
            roll, pick = self._rng.random(), self._rng.randrange(len(RANDOM_ERRORS))
        if roll < drop_rate:
            return Fault(FaultKind.DROP)
        if roll < drop_rate + fault_rate:
            return Fault(RANDOM_ERRORS[pick])
        return None


ERROR_NAMES: Final = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    413: "Payload Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
_SERVER_MESSAGES: Final = {
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service temporarily unavailable",
    504: "Gateway timeout",
}
CLOUDFLARE_TITLES: Final = {
    520: "Web server is returning an unknown error",
    521: "Web server is down",
    522: "Connection timed out",
    523: "Origin is unreachable",
    524: "A timeout occurred",
}


def error_body(status: int, message: str | list[str] | None = None) -> bytes:
    """Build a NestJS-style error body: statusCode, message, error."""
    if message is None:
        message = _SERVER_MESSAGES.get(status, ERROR_NAMES.get(status, "Error"))
    payload = {"statusCode": status, "message": message, "error": ERROR_NAMES.get(status, "")}
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def cloudflare_page(status: int, ray_id: str) -> bytes:
    """Build the HTML page Cloudflare serves when the origin misbehaves (520-524)."""
    title = CLOUDFLARE_TITLES[status]
    return f"""<!DOCTYPE html>
<html lang="en-US">
<head>
<title>api.open.cx | {status}: {title}</title>
<meta charset="UTF-8" />
<meta name="robots" content="noindex, nofollow" />
</head>
<body>
<div id="cf-wrapper">
  <div id="cf-error-details">
    <h1><span class="cf-error-type">{title}</span> <span class="code-label">Error code {status}</span></h1>
    <p>Visit <a href="https://www.cloudflare.com/">cloudflare.com</a> for more information.</p>
  </div>
  <p>Cloudflare Ray ID: <strong>{ray_id}</strong> &bull; Performance &amp; security by Cloudflare</p>
</div>
</body>
</html>
""".encode()  # noqa: E501
