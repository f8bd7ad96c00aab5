"""The PostgreSQL tests find their server the way a fresh CI machine and a laptop need: Debian's
binaries off PATH are found, and a missing server fails in CI instead of skipping silently."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import give_up_on_postgres
from tests.postgres_server import PostgresUnavailableError, find_binaries


def debian_install(root: Path, major: str) -> Path:
    """The layout Debian's postgresql package leaves in /usr/lib/postgresql."""
    bin_dir = root / major / "bin"
    bin_dir.mkdir(parents=True)
    for program in ("initdb", "pg_ctl"):
        (bin_dir / program).touch(mode=0o755)
    return bin_dir


def test_debians_newest_install_is_found_off_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    debian_install(tmp_path, "9")
    newest = debian_install(tmp_path, "15")
    assert find_binaries(tmp_path) == newest


def test_no_install_is_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert find_binaries(tmp_path) is None


def test_a_missing_server_fails_in_ci() -> None:
    missing = PostgresUnavailableError("not installed", installed=False)
    with pytest.raises(pytest.fail.Exception, match="PostgreSQL tests cannot run"):
        give_up_on_postgres(missing, in_ci=True)


def test_a_broken_server_fails_even_locally() -> None:
    broken = PostgresUnavailableError("pg_ctl failed", installed=True)
    with pytest.raises(pytest.fail.Exception, match="pg_ctl failed"):
        give_up_on_postgres(broken, in_ci=False)


def test_a_laptop_without_postgresql_skips_saying_how_to_get_it() -> None:
    missing = PostgresUnavailableError("apt-get install postgresql", installed=False)
    with pytest.raises(pytest.skip.Exception, match="OPENCX_TEST_POSTGRES_DSN"):
        give_up_on_postgres(missing, in_ci=False)
