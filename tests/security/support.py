"""Pieces only the abuse and security tests use (the app, the fake Slack, the gateway counter
and the state reads are bot/testing's).

- `ErrorLog` records every ERROR-level log record and every exception that escapes a thread
  (`threading.excepthook`): an abuse test fails on any of them, because "never an unhandled
  exception" includes the background workers, not only the HTTP answer.
- `raw_request` writes one HTTP/1.1 request byte for byte (a client library would re-encode
  it), for requests no well-behaved client sends.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from urllib.parse import urlsplit


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
