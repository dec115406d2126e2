"""Limits on every gateway request, whichever backend makes it: one overall deadline, and a
bounded reply.

One overall deadline per gateway request: connecting, sending, the reply's headers and body.

`requests` (urllib3) applies its timeout to each socket operation, so a gateway that trickles a
byte a second never times out: one send was held 52 s with CLICKATELL_TIMEOUT=10. Here every
request is watched: the calling thread registers a `Watch` with its deadline, the connection it
uses attaches itself to that watch when the request starts, and one reaper thread shuts the
socket down when the deadline passes. The blocked read then returns at once, and the transport
reports the request as unanswered ("nothing within N seconds"), as for any timeout.

The reaper checks that the connection still belongs to the watch it fires for, so a connection
returned to the pool and taken by another request is never cut.

A reply is read as a stream and no further than `MAX_REPLY` (`bounded_body`): about 100 times
any real reply, so a gateway (or anything posing as one) cannot make the app hold hundreds of
megabytes.
"""

from __future__ import annotations

import heapq
import itertools
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

import requests
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

_current = threading.local()
# The reaper sweeps at most this often: under load most watched requests have finished long
# before their deadline, and waking for each one would cost a thread switch per request.
RESOLUTION = 0.05  # the Watch of the request the calling thread is making


class Watch:
    """One request's deadline and the connection carrying it."""

    def __init__(self, deadline: float):
        self.deadline = deadline
        self.expired = False
        self._connection: HTTPConnection | None = None
        self._done = False
        self._lock = threading.Lock()

    def attach(self, connection: HTTPConnection) -> None:
        with self._lock:
            self._connection = connection
            connection.sms_bot_watch = self  # type: ignore[attr-defined]
            if self.expired:
                _shut(connection)

    def fire(self) -> None:
        """The deadline passed: cut the connection if this request still owns it."""
        with self._lock:
            if self._done:
                return
            self.expired = True
            connection = self._connection
            if connection is not None and getattr(connection, "sms_bot_watch", None) is self:
                _shut(connection)

    def finish(self) -> None:
        with self._lock:
            self._done = True
            if self._connection is not None:
                if getattr(self._connection, "sms_bot_watch", None) is self:
                    self._connection.sms_bot_watch = None  # type: ignore[attr-defined]
                self._connection = None


def _shut(connection: HTTPConnection) -> None:
    sock = getattr(connection, "sock", None)
    if sock is not None:
        with suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


class Deadlines:
    """The reaper: one daemon thread for every watched request of the process (started on first
    use). `clock` is monotonic seconds; tests that move it call `poke()` afterwards."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Watch]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    @contextmanager
    def watching(self, seconds: float) -> Iterator[Watch]:
        """Watch the requests this thread makes inside the block; they end by `seconds`."""
        watch = Watch(self.clock() + seconds)
        with self._cond:
            earliest = not self._heap or watch.deadline < self._heap[0][0]
            heapq.heappush(self._heap, (watch.deadline, next(self._order), watch))
            self._start()
            if earliest:  # otherwise the reaper already wakes before this deadline
                self._cond.notify()
        previous = getattr(_current, "watch", None)
        _current.watch = watch
        try:
            yield watch
        finally:
            _current.watch = previous
            watch.finish()

    def poke(self) -> None:
        """Look at the deadlines again now (the clock moved)."""
        with self._cond:
            self._cond.notify()

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="gateway-deadlines", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                now = self.clock()
                due = []
                while self._heap and self._heap[0][0] <= now:
                    due.append(heapq.heappop(self._heap)[2])
                if not due:
                    wait = max(self._heap[0][0] - now, RESOLUTION) if self._heap else None
                    self._cond.wait(wait)
                    continue
            for watch in due:
                watch.fire()


# Requests' pools use these connection classes (see `watch_session`), so each connection knows
# the watch of the request it carries.


class _WatchedHTTPConnection(HTTPConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        _attach(self)
        super().request(*args, **kwargs)

    def connect(self) -> None:
        super().connect()
        _connected(self)


class _WatchedHTTPSConnection(HTTPSConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        _attach(self)
        super().request(*args, **kwargs)

    def connect(self) -> None:
        super().connect()
        _connected(self)


def _attach(connection: HTTPConnection) -> None:
    watch = getattr(_current, "watch", None)
    if watch is not None:
        watch.attach(connection)


def _connected(connection: HTTPConnection) -> None:
    """A deadline that passed while connecting (no socket to cut then) cuts it now."""
    watch = getattr(connection, "sms_bot_watch", None)
    if watch is not None and watch.expired:
        _shut(connection)


class _WatchedPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


def watch_session(session: requests.Session) -> None:
    """Make the session's HTTP(S) adapters open connections that can be watched (pools made
    from now on; the transport does this before its first request)."""
    for prefix in ("http://", "https://"):
        adapter = session.get_adapter(prefix)
        manager = getattr(adapter, "poolmanager", None)
        if manager is not None:
            manager.pool_classes_by_scheme = {"http": _WatchedPool, "https": _WatchedHTTPSPool}


SHARED = Deadlines()


MAX_REPLY = 1 << 20
_READ_BLOCK = 64 * 1024


class ReplyTooLarge(Exception):
    """The reply is larger than MAX_REPLY; its connection was closed, the rest never read."""


def bounded_body(response: requests.Response) -> bytes:
    """The reply's body, read (and decoded) block by block up to MAX_REPLY bytes; a larger one
    raises ReplyTooLarge, whether its Content-Length says so up front or not."""
    announced = response.headers.get("Content-Length", "")
    if announced.isdigit() and int(announced) > MAX_REPLY:
        response.close()
        raise ReplyTooLarge
    blocks, size = [], 0
    for block in response.iter_content(_READ_BLOCK):
        size += len(block)
        if size > MAX_REPLY:
            response.close()
            raise ReplyTooLarge
        blocks.append(block)
    return b"".join(blocks)
