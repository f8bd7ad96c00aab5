"""The locks: one per purpose, resolved together (`make lock`), each within pyproject's ranges.

`requirements.lock` is what `python pipelines/insights.py` needs and is what a cron machine
installs (`make install`); `requirements-<extra>.lock` adds one extra to it
(`make install EXTRAS="postgres report"`); `requirements-dev.lock` is the tests' environment;
`requirements-airflow.lock` the Airflow workers'; `requirements-dbt.lock` the dbt package's.
A machine may install several of them into one environment, so a package must have the same
version in every lock, and what CI tests (the dev lock) is then what users run. The one
exception is named in the Makefile (DBT_OWN_PINS): packages dbt pins below the dev lock's
versions, which the dbt lock alone holds at other versions.
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


def dbt_own_pins() -> set[str]:
    """The packages the dbt lock may pin otherwise (Makefile's DBT_OWN_PINS)."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    named = re.search(r"^DBT_OWN_PINS := (.*)$", makefile, re.MULTILINE)
    assert named, "Makefile has no DBT_OWN_PINS"
    return {canonicalize_name(name) for name in named[1].split()}


def shared_pins(lock: Path) -> dict[str, Version]:
    """A lock's pins less those the dbt lock holds on its own."""
    found = pins(lock)
    if lock == lock_path("dbt"):
        return {name: v for name, v in found.items() if name not in dbt_own_pins()}
    return found


def every_lock() -> list[Path]:
    return [RUNTIME_LOCK, *sorted(ROOT.glob("requirements-*.lock"))]


def test_each_optional_dependency_group_has_its_own_lock() -> None:
    locked = {path.name.removeprefix("requirements-").removesuffix(".lock")
              for path in ROOT.glob("requirements-*.lock")}  # fmt: skip
    assert locked == set(PROJECT["optional-dependencies"])


def disagreements(locks: list[Path]) -> dict[str, dict[Version, list[str]]]:
    """Packages pinned at more than one version across `locks` (dbt's own pins left out)."""
    versions: dict[str, dict[Version, list[str]]] = {}
    for lock in locks:
        for name, version in shared_pins(lock).items():
            versions.setdefault(name, {}).setdefault(version, []).append(lock.name)
    return {name: found for name, found in versions.items() if len(found) > 1}


def test_a_package_has_the_same_version_in_every_lock() -> None:
    """Every lock but dbt's: Airflow's and dbt's environments are apart, and disagree."""
    locks = [lock for lock in every_lock() if lock != lock_path("dbt")]
    assert disagreements(locks) == {}, "run `make lock`: it resolves each lock against the dev lock"


def test_the_dbt_lock_agrees_with_every_lock_but_airflows_beyond_dbts_own_pins() -> None:
    """Airflow's and dbt's pins conflict (protobuf): their environments are never one."""
    locks = [lock for lock in every_lock() if lock != lock_path("airflow")]
    assert disagreements(locks) == {}, "run `make lock`: it resolves each lock against the dev lock"


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
        if extra == "dbt":
            missing = {name: v for name, v in missing.items() if name not in dbt_own_pins()}
        assert missing == {}, f"requirements-{extra}.lock"


def test_the_plain_lock_holds_no_package_only_an_extra_asks_for() -> None:
    """No test runner, linter, chart library, warehouse client or Airflow on a cron machine."""
    plain = pins(RUNTIME_LOCK)
    command_needs = {canonicalize_name(r.name) for r in requirements(None)}
    for extra in PROJECT["optional-dependencies"]:
        only_extra = {canonicalize_name(r.name) for r in extra_requirements(extra)}
        assert sorted((only_extra - command_needs) & plain.keys()) == [], extra


def test_make_install_offers_every_extra_but_the_dev_airflow_and_dbt_environments() -> None:
    """`make install EXTRAS=...` refuses a name outside USER_EXTRAS: each user extra is in it."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    offered = re.search(r"^USER_EXTRAS := (.*)$", makefile, re.MULTILINE)
    assert offered, "Makefile has no USER_EXTRAS"
    own_environments = {"dev", "airflow", "dbt"}
    assert set(offered[1].split()) == set(PROJECT["optional-dependencies"]) - own_environments


def test_the_dbt_lock_differs_from_the_dev_lock_only_where_dbt_pins_its_own() -> None:
    """Each package in DBT_OWN_PINS really has another version there: the list is not stale."""
    dev, dbt = pins(lock_path("dev")), pins(lock_path("dbt"))
    differing = {name for name in dev.keys() & dbt.keys() if dev[name] != dbt[name]}
    assert differing == dbt_own_pins(), "update DBT_OWN_PINS in the Makefile, then `make lock`"
