"""Validation of the non-filter options (numbers, the key), before anything else runs.

Every bound here exists because a value outside it fails later, mid-run and obscurely
(NaN slips through `<= 0`, 1e12 hours overflows a timedelta, a pasted key with an invisible
character fails inside the HTTP library). Checking up front turns each into one clear line.
"""

from __future__ import annotations

import math
from typing import Any

from sources.opencx.errors import ConfigValueError

# `.dlt/secrets.toml.example` holds `ocx_live_...`: a copy not filled in sends these dots
PLACEHOLDER = "..."


def bounded(name: str, value: Any, low: float, high: float, *, low_inclusive: bool = True) -> float:
    """A finite number within [low, high] (or (low, high])."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigValueError(f"{name} must be a number, got {value!r}", name)
    too_low = value < low if low_inclusive else value <= low
    if too_low or value > high:
        side = "from" if low_inclusive else "above"
        raise ConfigValueError(f"{name} must be {side} {low:g} up to {high:g}, got {value!r}", name)
    return float(value)


def whole(name: str, value: Any, low: int, high: int) -> int:
    """A whole number within [low, high]."""
    number = bounded(name, value, low, high)
    if not number.is_integer():
        raise ConfigValueError(f"{name} must be a whole number, got {value!r}", name)
    return int(number)


def api_key(value: Any) -> str:
    """The key as it can travel in an HTTP header; never echoed back in the message.

    A key still holding the example's placeholder is refused here, as a setting to fill in,
    instead of reaching the API as a 401 after the destination has been opened.
    """
    key = str(value).strip() if value is not None else ""
    if not key:
        raise ConfigValueError("the API key is empty", "api_key")
    if PLACEHOLDER in key:
        raise ConfigValueError(
            f"the API key is still the placeholder of .dlt/secrets.toml.example "
            f"(it contains {PLACEHOLDER!r}): put your OpenCX key in SOURCES__OPENCX__API_KEY "
            "or api_key under [sources.opencx] in .dlt/secrets.toml",
            "api_key",
        )
    if not (key.isascii() and key.isprintable()) or any(c.isspace() for c in key):
        raise ConfigValueError(
            "the API key contains spaces or invisible/non-ASCII characters (a paste error?)",
            "api_key",
        )
    return key
