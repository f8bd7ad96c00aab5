"""A real PostgreSQL server for the tests, found or started by the tests themselves.

`OPENCX_TEST_POSTGRES_DSN` (a role that may create databases) wins; otherwise a throw-away
cluster is made with Debian's `initdb`/`pg_ctl` in a temp dir, listening on a free port of
127.0.0.1, with trust authentication and durability switched off (nothing in it outlives the
session, and fsync would dominate the tests' time). PostgreSQL refuses to run as root, so under
root the cluster runs as the `postgres` system user the Debian package creates.

Each test gets its own database, so the dataset keeps its production name (`opencx`) and the
SQL the tests pause or inspect is the SQL a real run sends.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2

DSN_VARIABLE = "OPENCX_TEST_POSTGRES_DSN"
# dlt asks for a password even where the server trusts every local connection
ROLE = "loader"
PASSWORD = "loader"
SERVER_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "60",
}
START_ATTEMPTS = 3
DEBIAN_ROOT = Path("/usr/lib/postgresql")
_database_numbers = itertools.count(1)


class PostgresUnavailableError(Exception):
    """No server to test against: `installed` tells a missing install from a broken one."""

    def __init__(self, message: str, *, installed: bool) -> None:
        super().__init__(message)
        self.installed = installed


@dataclass(frozen=True)
class PostgresServer:
    """A server the tests may create and drop databases on; `dsn` names its admin database."""

    dsn: str

    def database_dsn(self, database: str) -> str:
        """The DSN of `database` on this server (same role, password, host and port)."""
        parts = urlsplit(self.dsn)
        return urlunsplit(parts._replace(path="/" + database))

    def create_database(self) -> str:
        """A new, empty database with a name unique to this process; returns its DSN."""
        name = f"opencx_test_{os.getpid()}_{next(_database_numbers)}"
        self._admin(f'CREATE DATABASE "{name}"')
        return self.database_dsn(name)

    def drop_database(self, dsn: str) -> None:
        """Drop it even if a killed run's connection is still being torn down."""
        name = urlsplit(dsn).path.lstrip("/")
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _admin(self, sql: str) -> None:
        connection = psycopg2.connect(self.dsn)
        try:
            connection.autocommit = True  # CREATE/DROP DATABASE refuse transactions
            with connection.cursor() as cursor:
                cursor.execute(sql)
        finally:
            connection.close()


def server_from_environment() -> PostgresServer | None:
    """The server `OPENCX_TEST_POSTGRES_DSN` names, checked to answer; None if unset."""
    dsn = os.environ.get(DSN_VARIABLE)
    if not dsn:
        return None
    try:
        psycopg2.connect(dsn).close()
    except psycopg2.Error as exc:
        message = f"{DSN_VARIABLE} is set but its server does not answer: {exc}".strip()
        raise PostgresUnavailableError(message, installed=True) from None
    return PostgresServer(dsn)


def find_binaries(debian_root: Path = DEBIAN_ROOT) -> Path | None:
    """The directory holding `initdb` and `pg_ctl`: on PATH, else Debian's newest install.

    Debian's `postgresql` package keeps them in /usr/lib/postgresql/<major>/bin, off PATH.
    """
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).resolve().parent
    installs = [
        p.parent for p in debian_root.glob("*/bin/pg_ctl") if (p.parent / "initdb").exists()
    ]
    majors = [d for d in installs if d.parent.name.isdigit()]
    return max(majors, key=lambda d: int(d.parent.name)) if majors else None


@contextlib.contextmanager
def throwaway_cluster() -> Iterator[PostgresServer]:
    """Start a private cluster for the session, stop and delete it afterwards."""
    binaries = find_binaries()
    if binaries is None:
        raise PostgresUnavailableError(
            "PostgreSQL is not installed (no initdb/pg_ctl on PATH or in "
            f"/usr/lib/postgresql/*/bin): apt-get install postgresql, or set {DSN_VARIABLE}",
            installed=False,
        )
    root = Path(tempfile.mkdtemp(prefix="opencx-pg-"))
    user = _server_user()
    try:
        if user is not None:
            shutil.chown(root, user, user)
        _run(user, binaries / "initdb", "-D", str(root / "data"), "-U", ROLE, "-A", "trust",
             "-E", "UTF8", "--no-locale", "--no-sync")  # fmt: skip
        port = _start(user, binaries, root)
        try:
            yield PostgresServer(f"postgresql://{ROLE}:{PASSWORD}@127.0.0.1:{port}/postgres")
        finally:
            _run(user, binaries / "pg_ctl", "-D", str(root / "data"), "-m", "immediate", "-w",
                 "stop")  # fmt: skip
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _server_user() -> str | None:
    """Who runs the server: this user, or under root the Debian package's `postgres` user."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise PostgresUnavailableError(
            "running as root and there is no `postgres` user to run PostgreSQL as (the Debian "
            f"package creates it), so no cluster can be started; or set {DSN_VARIABLE}",
            installed=True,
        ) from None
    return "postgres"


def _start(user: str | None, binaries: Path, root: Path) -> int:
    """Start on a free port (another process may take it first: try again); returns the port."""
    log = root / "server.log"
    for _ in range(START_ATTEMPTS):
        port = _free_port()
        options = " ".join(
            [f"-p {port}", f"-k {root}", *(f"-c {k}={v}" for k, v in SERVER_SETTINGS.items())]
        )
        with contextlib.suppress(PostgresUnavailableError):
            _run(user, binaries / "pg_ctl", "-D", str(root / "data"), "-l", str(log), "-o",
                 options, "-w", "-t", "60", "start")  # fmt: skip
            return port
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else "(no server log)"
    raise PostgresUnavailableError(f"PostgreSQL did not start: {tail}", installed=True)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _run(user: str | None, program: Path, *args: str) -> None:
    command = [str(program), *args]
    if user is not None:
        command = ["runuser", "-u", user, "--", *command]
    # cwd: the server user may not be allowed into the caller's working directory
    done = subprocess.run(
        command, cwd=program.anchor, capture_output=True, text=True, timeout=120, check=False
    )
    if done.returncode != 0:
        output = (done.stdout + done.stderr).strip()[-2000:]
        raise PostgresUnavailableError(f"{program.name} failed: {output}", installed=True)
