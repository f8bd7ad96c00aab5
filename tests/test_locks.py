"""The locks: one per purpose, resolved together (`make lock`), each within pyproject's ranges.

`requirements.lock` is what `python pipelines/insights.py` needs and is what a cron machine
installs (`make install`); `requirements-<extra>.lock` adds one extra to it
(`make install EXTRAS="postgres report"`); `requirements-dev.lock` is the tests' environment;
`requirements-airflow.lock` the Airflow workers'. A machine may install several of them into
one environment, so a package must have the same version in every lock, and what CI tests
(the dev lock) is then what users run.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
RUNTIME_LOCK = ROOT / "requirements.lock"
PIN = re.compile(r"(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>\S+)")


def lock_path(extra: str | None) -> Path:
    return RUNTIME_LOCK if extra is None else ROOT / f"requirements-{extra}.lock"


def pins(lock: Path) -> dict[str, Version]:
    """Package (canonical name) -> pinned version; any other requirement line fails."""
    found: dict[str, Version] = {}
    for line in lock.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = PIN.fullmatch(line)
        assert match, f"{lock.name}: not a plain pin: {line!r}"
        found[canonicalize_name(match["name"])] = Version(match["version"])
    return found


def requirements(extra: str | None) -> Iterator[Requirement]:
    """pyproject's requirements of the plain install plus `extra`, self-references expanded."""
    yield from map(Requirement, PROJECT["dependencies"])
    yield from extra_requirements(extra)


def extra_requirements(extra: str | None) -> Iterator[Requirement]:
    if extra is None:
        return
    for text in PROJECT["optional-dependencies"][extra]:
        requirement = Requirement(text)
        if canonicalize_name(requirement.name) == canonicalize_name(PROJECT["name"]):
            for inner in sorted(requirement.extras):
                yield from extra_requirements(inner)
        else:
            yield requirement


def every_lock() -> list[Path]:
    return [RUNTIME_LOCK, *sorted(ROOT.glob("requirements-*.lock"))]


def test_each_optional_dependency_group_has_its_own_lock() -> None:
    locked = {path.name.removeprefix("requirements-").removesuffix(".lock")
              for path in ROOT.glob("requirements-*.lock")}  # fmt: skip
    assert locked == set(PROJECT["optional-dependencies"])


def test_a_package_has_the_same_version_in_every_lock() -> None:
    versions: dict[str, dict[Version, list[str]]] = {}
    for lock in every_lock():
        for name, version in pins(lock).items():
            versions.setdefault(name, {}).setdefault(version, []).append(lock.name)
    disagreements = {name: found for name, found in versions.items() if len(found) > 1}
    assert disagreements == {}, "run `make lock`: it resolves every lock against the dev lock"


def test_every_lock_pins_each_requirement_within_pyprojects_range() -> None:
    for extra in [None, *PROJECT["optional-dependencies"]]:
        pinned = pins(lock_path(extra))
        for requirement in requirements(extra):
            name = canonicalize_name(requirement.name)
            assert name in pinned, f"{lock_path(extra).name} lacks {requirement}"
            assert requirement.specifier.contains(pinned[name], prereleases=True), (
                f"{lock_path(extra).name} pins {name}=={pinned[name]}, outside {requirement}"
            )


def test_an_extras_lock_holds_the_whole_plain_install() -> None:
    """`pip install -r requirements-report.lock` alone installs the command and the report."""
    plain = pins(RUNTIME_LOCK).items()
    for extra in PROJECT["optional-dependencies"]:
        missing = dict(plain - pins(lock_path(extra)).items())
        assert missing == {}, f"requirements-{extra}.lock"


def test_the_plain_lock_holds_no_package_only_an_extra_asks_for() -> None:
    """No test runner, linter, chart library, warehouse client or Airflow on a cron machine."""
    plain = pins(RUNTIME_LOCK)
    command_needs = {canonicalize_name(r.name) for r in requirements(None)}
    for extra in PROJECT["optional-dependencies"]:
        only_extra = {canonicalize_name(r.name) for r in extra_requirements(extra)}
        assert sorted((only_extra - command_needs) & plain.keys()) == [], extra


def test_make_install_offers_every_extra_but_the_dev_and_airflow_environments() -> None:
    """`make install EXTRAS=...` refuses a name outside USER_EXTRAS: each user extra is in it."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    offered = re.search(r"^USER_EXTRAS := (.*)$", makefile, re.MULTILINE)
    assert offered, "Makefile has no USER_EXTRAS"
    assert set(offered[1].split()) == set(PROJECT["optional-dependencies"]) - {"dev", "airflow"}
