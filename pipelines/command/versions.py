"""The dlt and DuckDB versions the connector was tested with; the command refuses any other.

What the connector assumes of dlt's and DuckDB's internals is listed in
`sources/opencx/internals.py` and pinned by `tests/test_internals_contract.py`, but only for
the versions those tests ran with. A release outside these ranges may change an assumption
without a word, so the command stops with one line and exit status 2 before doing anything,
unless `OPENCX_ALLOW_UNTESTED_VERSIONS=1` says the user knows what they do (then one warning
line, and the run goes on). The ranges are pyproject.toml's, which a test keeps equal.

Imports neither dlt nor the connector: the check runs before either is imported, so a release
that breaks an import is still refused in one line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from importlib.metadata import PackageNotFoundError, version
from typing import Final

TESTED_RANGES: Final[dict[str, str]] = {"dlt": ">=1.31,<1.32", "duckdb": ">=1.4,<1.6"}
ALLOW_UNTESTED_VARIABLE: Final = "OPENCX_ALLOW_UNTESTED_VERSIONS"
_CLAUSE = re.compile(r"^\s*(>=|<=|==|<|>)\s*([0-9][0-9.]*)\s*$")
_RELEASE = re.compile(r"^\s*v?([0-9]+(?:\.[0-9]+)*)")
_COMPARE: Final[dict[str, Callable[[tuple[int, ...], tuple[int, ...]], bool]]] = {
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
    "==": lambda a, b: a == b,
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
}


class UntestedVersionError(Exception):
    """dlt or DuckDB is installed in a version outside the ranges the connector was tested with."""

    exit_code = 2  # the configuration status, `pipelines.failures.CONFIG_EXIT`


def check_tested_versions(
    installed: Mapping[str, str | None] | None = None,
    environ: Mapping[str, str] | None = None,
) -> str | None:
    """None when dlt and DuckDB are in range; else raise, or the warning line when allowed.

    `installed` maps a package to its version (None: not installed); by default the versions
    installed in this environment.
    """
    versions = installed if installed is not None else installed_versions()
    outside = [
        f"{name} {versions.get(name) or 'not installed'} (tested: {name}{tested})"
        for name, tested in TESTED_RANGES.items()
        if not in_range(versions.get(name), tested)
    ]
    if not outside:
        return None
    what = f"untested versions: {', '.join(outside)}"
    allowed = (environ if environ is not None else os.environ).get(ALLOW_UNTESTED_VARIABLE)
    if allowed == "1":
        return f"warning: {what}; running anyway because {ALLOW_UNTESTED_VARIABLE}=1"
    raise UntestedVersionError(
        f"{what}; install the locked versions (pip install -r requirements.lock), or set "
        f"{ALLOW_UNTESTED_VARIABLE}=1 to run anyway"
    )


def installed_versions() -> dict[str, str | None]:
    """The installed version of each package with a tested range (None if not installed)."""
    found: dict[str, str | None] = {}
    for name in TESTED_RANGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


def in_range(installed: str | None, specifier: str) -> bool:
    """Whether the release `installed` (e.g. `1.31.0`, `1.5.2.dev3`) meets every clause."""
    release = _RELEASE.match(installed or "")
    if release is None:
        return False
    have = _numbers(release[1])
    for clause in specifier.split(","):
        matched = _CLAUSE.match(clause)
        if matched is None:
            raise ValueError(f"unsupported version clause {clause!r} in {specifier!r}")
        want = _numbers(matched[2])
        width = max(len(have), len(want))
        if not _COMPARE[matched[1]](_padded(have, width), _padded(want, width)):
            return False
    return True


def _numbers(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.strip(".").split("."))


def _padded(numbers: tuple[int, ...], width: int) -> tuple[int, ...]:
    return numbers + (0,) * (width - len(numbers))
