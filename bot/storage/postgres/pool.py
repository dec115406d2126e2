"""The connections one PostgresStorage keeps for reuse, at most `max_size` at once.

Why not psycopg_pool: it connects in a background thread and, after a failed attempt, waits
1 s, 2 s, 4 s ... (up to 5 minutes) before the next one. A database that restarts therefore
stays unusable for up to minutes after it is back, and while it is away every borrower waits out
the whole acquire timeout instead of hearing "refused" at once. Callbacks must answer 503
quickly while the database is away and workers must resume as soon as it is back, so this pool
connects in the borrowing thread, on demand: a refused connection fails that unit at once, and
the first unit after the server is back gets a fresh connection.

Idle connections are taken newest first (a connection idle for long is the likeliest to have
been cut); one seen broken makes the pool drop every idle one, since a restart cuts them all.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

import psycopg
from psycopg.pq import TransactionStatus
from psycopg.rows import DictRow

Connection = psycopg.Connection[DictRow]


class PoolExhausted(Exception):
    """Every connection is in use and none came back within the timeout."""


class PoolClosed(Exception):
    """The pool was closed: its owner's storage is closed."""


class ConnectionPool:
    """Borrow with `get`, give back with `put` (always, broken or not)."""

    def __init__(self, connect: Callable[[], Connection], *, max_size: int, timeout: float) -> None:
        self._connect = connect
        self._timeout = timeout
        self._slots = threading.BoundedSemaphore(max_size)
        self._lock = threading.Lock()
        self._idle: list[Connection] = []
        self._closed = False

    def get(self, timeout: float | None = None) -> Connection:
        """An idle connection, else a new one (psycopg.Error when the server cannot be
        reached). PoolExhausted when all `max_size` are in use for `timeout` seconds."""
        if self._closed:
            raise PoolClosed("the connection pool is closed")
        if not self._slots.acquire(timeout=self._timeout if timeout is None else timeout):
            raise PoolExhausted(f"all connections in use for {self._timeout:g}s")
        try:
            return self._idle_or_new()
        except BaseException:
            self._slots.release()
            raise

    def _idle_or_new(self) -> Connection:
        while True:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                return self._connect()
            if not (conn.closed or conn.broken):
                return conn
            conn.close()

    def put(self, conn: Connection) -> None:
        """Take a connection back: kept if it is healthy and idle, closed otherwise."""
        try:
            reusable = (
                not self._closed
                and not (conn.closed or conn.broken)
                and conn.info.transaction_status == TransactionStatus.IDLE
            )
            if reusable:
                with self._lock:
                    self._idle.append(conn)
            else:
                conn.close()
                if conn.broken:
                    self.drop_idle()
        finally:
            self._slots.release()

    def drop_idle(self, farewell: Callable[[Connection], None] | None = None) -> None:
        """Close every idle connection, after `farewell(conn)` (errors ignored) if given."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            if farewell is not None:
                with contextlib.suppress(psycopg.Error):
                    farewell(conn)
            conn.close()

    def close(self, farewell: Callable[[Connection], None] | None = None) -> None:
        """Close idle connections now (each after `farewell`), borrowed ones when they come
        back."""
        self._closed = True
        self.drop_idle(farewell)

    @property
    def closed(self) -> bool:
        return self._closed
