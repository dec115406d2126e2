"""A throwaway PostgreSQL cluster for tests: initdb into a temp dir, one server on a free
loopback port, a fresh database per test, everything removed at the end.

Why a real server and not a mock: the PostgreSQL adapter's promises (row locks, SKIP LOCKED,
advisory locks, what a restarting server does to a connection) only exist in the server.

Tests run as root here and in CI, and `initdb`/`postgres` refuse to run as root. The cluster then
runs them as an unprivileged account that every machine with the server binaries already has:
`postgres` (Debian's server package creates it), else `nobody`; SMS_BOT_TEST_PG_USER picks
another. Python's `subprocess` switches the user itself (no su/sudo needed), and the cluster's
temp dir is handed to that account.

Where no server binaries are found the PostgreSQL tests skip, and the session ends with a loud
line saying how to install them; with CI=true a missing server fails instead
(`tests/support/postgres_plugin.py` has the pytest side).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

import psycopg

SUPERUSER = "sms_bot_test"
PASSWORD = "throwaway-Secret-7d2f"  # unique enough to be searched for in error messages
INSTALL_HINT = (
    "install the PostgreSQL 15 server (Debian/Ubuntu: apt-get install postgresql-15), or point "
    "SMS_BOT_TEST_PG_BIN at a folder holding initdb and postgres"
)
_SERVER_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",  # a test cluster need not survive a power cut; a killed client is enough
    "full_page_writes": "off",
    "max_connections": "300",
    "shared_buffers": "32MB",
    "log_min_messages": "warning",
    "deadlock_timeout": "100ms",
}


class ClusterUnavailable(RuntimeError):
    """No PostgreSQL server binaries on this machine (or they cannot be run)."""


def find_server_binaries() -> Path:
    """The folder holding `initdb` and `postgres`: SMS_BOT_TEST_PG_BIN when set (and then only
    that one), else the newest of /usr/lib/postgresql/*/bin (Debian's layout), else PATH's."""
    if configured := os.environ.get("SMS_BOT_TEST_PG_BIN"):
        candidates = [Path(configured)]
    else:
        versions = Path("/usr/lib/postgresql").glob("*/bin")
        candidates = sorted(versions, key=lambda p: _version(p.parent.name), reverse=True)
        if on_path := shutil.which("initdb"):
            candidates.append(Path(on_path).parent)
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "postgres").is_file():
            return folder
    raise ClusterUnavailable(f"no PostgreSQL server binaries found; {INSTALL_HINT}")


def _version(name: str) -> float:
    try:
        return float(name)
    except ValueError:
        return 0.0


def _unprivileged_account() -> pwd.struct_passwd | None:
    """Who runs the server: None (ourselves) unless we are root, which the server refuses."""
    if os.geteuid() != 0:
        return None
    for name in (os.environ.get("SMS_BOT_TEST_PG_USER"), "postgres", "nobody"):
        if not name:
            continue
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise ClusterUnavailable("running as root and no unprivileged account (postgres, nobody)")


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ThrowawayCluster:
    """One PostgreSQL server in a temp dir, for one test session. `start()`/`stop()` may be
    called again (a test of connection loss stops the server and starts it on the same port)."""

    def __init__(
        self, binaries: Path | None = None, settings: Mapping[str, str] | None = None
    ) -> None:
        """`settings` override the server's (a benchmark turns `fsync` back on: durability is
        what it measures)."""
        self.binaries = binaries or find_server_binaries()
        self.settings = {**_SERVER_SETTINGS, **(settings or {})}
        self.account = _unprivileged_account()
        # Under /tmp when the server runs as another account: it must reach its folder, and a
        # root TMPDIR (/root/tmp) may not be traversable by it.
        parent = "/tmp" if self.account is not None else None
        self.root = Path(tempfile.mkdtemp(prefix="sms-bot-pg-", dir=parent))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = free_loopback_port()
        self._server: subprocess.Popen[bytes] | None = None
        self._names = itertools.count(1)
        self._lock = threading.Lock()
        if self.account is not None:
            os.chown(self.root, self.account.pw_uid, self.account.pw_gid)
        self._initdb()

    # ---- running the server binaries as the unprivileged account

    def _run_as_account(self) -> dict[str, object]:
        if self.account is None:
            return {}
        return {"user": self.account.pw_uid, "group": self.account.pw_gid, "extra_groups": []}

    def _initdb(self) -> None:
        password_file = self.root / "password"
        password_file.write_text(PASSWORD + "\n")
        if self.account is not None:
            os.chown(password_file, self.account.pw_uid, self.account.pw_gid)
        command = [
            str(self.binaries / "initdb"),
            "--pgdata", str(self.data),
            "--username", SUPERUSER,
            "--auth", "scram-sha-256",
            "--pwfile", str(password_file),
            "--encoding", "UTF8",
            "--locale", "C.UTF-8",
            "--no-sync",
        ]  # fmt: skip
        done = subprocess.run(
            command, cwd=self.root, capture_output=True, check=False, **self._run_as_account()
        )
        password_file.unlink()
        if done.returncode != 0:
            raise ClusterUnavailable(f"initdb failed: {done.stderr.decode(errors='replace')}")

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        if self._server is not None:
            return
        command = [str(self.binaries / "postgres"), "-D", str(self.data), "-p", str(self.port)]
        command += ["-k", str(self.root)]  # unix socket in the temp dir, not /var/run
        for name, value in self.settings.items():
            command += ["-c", f"{name}={value}"]
        with self.log.open("ab") as log:
            self._server = subprocess.Popen(
                command, cwd=self.root, stdout=log, stderr=log, **self._run_as_account()
            )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self._server is not None and self._server.poll() is not None:
                raise ClusterUnavailable(f"postgres exited at start: {self._log_tail()}")
            try:
                psycopg.connect(self.url("postgres"), connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise ClusterUnavailable(f"postgres not ready: {self._log_tail()}") from None
                time.sleep(0.02)  # polling the server's readiness, not waiting out a timeout

    def _log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""

    def stop(self) -> None:
        """Fast shutdown (what `pg_ctl stop -m fast` does): sessions are ended with "terminating
        connection due to administrator command"."""
        server, self._server = self._server, None
        if server is None:
            return
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()

    @property
    def running(self) -> bool:
        return self._server is not None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    # ---- databases

    def url(self, database: str, *, password: str = PASSWORD) -> str:
        return (
            f"postgresql://{SUPERUSER}:{quote(password, safe='')}@127.0.0.1:{self.port}/{database}"
        )

    def create_database(self, template: str = "template0") -> str:
        """A new empty database (or a copy of `template`); returns its name."""
        with self._lock:
            name = f"test_{os.getpid()}_{next(self._names)}"
        self.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return name

    def drop_database(self, name: str) -> None:
        """Drop it, ending any session a test left open on it."""
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def execute(self, statement: str, database: str = "postgres") -> None:
        with psycopg.connect(self.url(database), autocommit=True) as conn:
            conn.execute(statement.encode())


def query(url: str, statement: str) -> list[tuple[object, ...]]:
    """Run one statement on the database at `url` as its owner, outside any Storage (what an
    administrator or another program does to it); its rows, if any."""
    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(statement.encode())
        return cursor.fetchall() if cursor.description else []
