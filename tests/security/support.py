"""Shared pieces of the abuse and security tests (issue 6).

- `ErrorLog` records every ERROR-level log record and every exception that escapes a thread
  (`threading.excepthook`): an abuse test fails on any of them, because "never an unhandled
  exception" includes the background workers, not only the HTTP answer.
- `QUIET`: the inbound tests' fast timings with the low-balance watcher off, so the gateway sees
  only the requests a test causes (the watcher would ask `getbalance` at start-up).
- `start_app`: the real app (`tests.inbound.harness.InboundHarness`: Runtime on 127.0.0.1:0, the
  in-process sandbox, a `FakeSlack`) with those options.
- `state_snapshot` reads the durable state a refused command must not change.
"""

from __future__ import annotations

import dataclasses
import logging
import socket
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bot.testing.slack import FakeSlack
from tests.inbound.harness import FAST, InboundHarness

QUIET = dataclasses.replace(FAST, low_balance=0.0)

# What a refused command must leave exactly as it was (claims, inbox and outbox are bookkeeping:
# a refusal may claim the request's ID and queue the refusal itself).
STATE_TABLES = ("sends", "recipients", "contacts", "opt_outs", "conversations", "mo_parts")


class ErrorLog(logging.Handler):
    """ERROR and worse log records, and uncaught thread exceptions, while installed."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []
        self.thread_errors: list[threading.ExceptHookArgs] = []
        self._lock_records = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        with self._lock_records:
            self.records.append(record)

    def _excepthook(self, args: threading.ExceptHookArgs) -> None:
        with self._lock_records:
            self.thread_errors.append(args)

    @contextmanager
    def installed(self) -> Iterator[ErrorLog]:
        root = logging.getLogger()
        previous_hook = threading.excepthook
        root.addHandler(self)
        threading.excepthook = self._excepthook
        try:
            yield self
        finally:
            threading.excepthook = previous_hook
            root.removeHandler(self)

    def problems(self) -> list[str]:
        with self._lock_records:
            found = [f"{r.levelname} {r.name}: {r.getMessage()}" for r in self.records]
            found += [
                f"uncaught in thread {a.thread.name if a.thread else '?'}: {a.exc_type.__name__}"
                for a in self.thread_errors
            ]
        return found

    def assert_clean(self, context: str = "") -> None:
        problems = self.problems()
        assert not problems, f"{context}: errors logged or raised in a thread: {problems}"


def start_app(slack: FakeSlack, directory: Path, **env: str) -> InboundHarness:
    directory.mkdir(parents=True, exist_ok=True)
    return InboundHarness(slack, directory, env=env, options=QUIET)


def state_snapshot(db_path: str | Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the state tables, read through a connection of our own."""
    connection = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)
    try:
        return {
            table: sorted(
                connection.execute(f"SELECT * FROM {table}").fetchall(),
                key=repr,
            )
            for table in STATE_TABLES
        }
    finally:
        connection.close()


@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: dict[str, str]  # names lower-cased
    body: bytes


def raw_request(
    url: str,
    method: str,
    target: bytes,
    headers: Mapping[str, str] | None = None,
    body: bytes | Iterable[bytes] = b"",
    *,
    chunked: bool = False,
    timeout: float = 30.0,
) -> RawResponse:
    """One HTTP/1.1 request written byte for byte on a fresh connection (a client library would
    re-encode the target or add a Content-Length), and its answer. With `chunked`, `body` is
    an iterable of chunks sent with Transfer-Encoding: chunked and no Content-Length."""
    parts = urlsplit(url)
    headers = headers or {}
    lines = [method.encode() + b" " + target + b" HTTP/1.1", f"Host: {parts.netloc}".encode()]
    lines += [f"{name}: {value}".encode("latin-1") for name, value in headers.items()]
    lines.append(b"Connection: close")
    if chunked:
        lines.append(b"Transfer-Encoding: chunked")
        payload = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in body if c) + b"0\r\n\r\n"
    else:
        payload = body if isinstance(body, bytes) else b"".join(body)
        announced = any(name.lower() == "content-length" for name in headers)
        if not announced and (payload or method == "POST"):
            lines.append(f"Content-Length: {len(payload)}".encode())
    head = b"\r\n".join(lines) + b"\r\n\r\n"
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        # The server may answer (413) and close before reading everything.
        with suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(head + payload)
        return _read_response(sock)


def _read_response(sock: socket.socket) -> RawResponse:
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return RawResponse(int(status_line.split()[1]), headers, body)


def inbox_rows(db_path: str | Path) -> int:
    """Callbacks stored so far, processed or not."""
    with closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)) as db:
        return db.execute("SELECT COUNT(*) FROM inbox").fetchone()[0]


def inbox_settled(db_path: str | Path) -> bool:
    """Every stored callback has been through the processor at least once."""
    connection = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)
    try:
        (waiting,) = connection.execute(
            "SELECT COUNT(*) FROM inbox WHERE processed_at IS NULL AND attempts = 0"
        ).fetchone()
        return waiting == 0
    finally:
        connection.close()


def inbox_failures(db_path: str | Path) -> list[str]:
    """Processing errors recorded on callbacks, besides 'not one of ours (yet)'."""
    connection = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)
    try:
        rows = connection.execute(
            "SELECT last_error FROM inbox WHERE last_error IS NOT NULL"
        ).fetchall()
    finally:
        connection.close()
    return [row[0] for row in rows if row[0] != "message not known (yet)"]


@contextmanager
def running_app(directory: Path, **env: str) -> Iterator[InboundHarness]:
    """A started app with its own fake Slack, stopped (and the fake closed) afterwards."""
    with FakeSlack() as fake:
        harness = start_app(fake, directory, **env)
        try:
            yield harness
        finally:
            harness.stop()
