"""Connections, transactions and error translation of the PostgreSQL adapter.

- One pool of connections per `PostgresDatabase` (psycopg_pool); a thread borrows one for a unit
  of work and gives it back at the end, so a waitress thread holds no connection between requests.
- Every write unit commits before it returns, and a commit is durable (the server's WAL; keep
  `synchronous_commit` on, PostgreSQL's default), so a callback survives a SIGKILL after the 200.
- Write units run in READ COMMITTED: the repositories make each read-then-write safe with one
  atomic statement (ON CONFLICT, RETURNING) or a row lock (FOR UPDATE), so replicas writing
  together need no retry loop. Read units run in REPEATABLE READ READ ONLY: one snapshot across
  the queries of a unit (a send and its recipients agree).
- `transaction()` groups units into one (BEGIN ... COMMIT); units inside it become savepoints, so
  an inner failure rolls back only the inner part.
- psycopg's exceptions never leave this package: `errors.Redactor` turns them into StorageError,
  or StorageUnavailable for what passes, without the password.
- Each pooled connection holds a shared advisory lock on this instance's claimer id: while any
  of them lives, other replicas see this instance alive and leave its outbox claims alone
  (`presence_locks`).
"""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import psycopg
import psycopg_pool
from psycopg.rows import DictRow, dict_row

from bot.storage.base import StorageUnavailable
from bot.storage.postgres.errors import Redactor
from bot.storage.postgres.rows import as_utc

Connection = psycopg.Connection[DictRow]

# Advisory lock namespaces (the two-key form; they never meet the one-key schema lock).
PRESENCE_LOCKS = 0x534D5301  # (PRESENCE_LOCKS, claimer id): an instance that is alive
GROUP_LOCKS = 0x534D5302  # (GROUP_LOCKS, hash): one multi-part SMS group assembled at a time

_PROBE_BYTES = 64 * 1024  # healthy()'s write probe: as large as the largest callback accepted


class PostgresDatabase:
    """The pool every repository shares, this thread's unit of work, and the clock."""

    def __init__(
        self,
        url: str,
        *,
        claimer: int,
        clock: Callable[[], float] = time.time,
        max_connections: int = 20,
        acquire_timeout: float = 10.0,
        connect_timeout: float = 10.0,
    ) -> None:
        self.redactor = Redactor(url)
        self.claimer = claimer
        self.clock = clock
        self._acquire_timeout = acquire_timeout
        self._local = threading.local()
        self._closed = False
        self._probe_key = f"health.probe.{secrets.token_hex(6)}"
        self.pool: psycopg_pool.ConnectionPool[Connection] = psycopg_pool.ConnectionPool(
            url,
            min_size=1,
            max_size=max_connections,
            open=False,
            timeout=acquire_timeout,
            kwargs={
                "autocommit": True,  # transactions are begun explicitly, by the units below
                "row_factory": dict_row,
                "connect_timeout": max(1, round(connect_timeout)),
                "options": "-c timezone=UTC",
            },
            configure=self._configure,
            name="sms-bot",
        )

    def open(self) -> None:
        """Start the pool without waiting for it: start-up already proved the server answers."""
        self.pool.open(wait=False)

    def _configure(self, conn: Connection) -> None:
        conn.execute(
            "SELECT pg_advisory_lock_shared(%s::int4, %s::int4)", (PRESENCE_LOCKS, self.claimer)
        )

    # ---- time

    def now(self, value: datetime | None = None) -> datetime:
        """`value` (checked: aware, as UTC), or the clock's now."""
        return datetime.fromtimestamp(self.clock(), UTC) if value is None else as_utc(value)

    # ---- units of work

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write unit: BEGIN ... COMMIT, or a savepoint inside this thread's outer one."""
        depth: int = getattr(self._local, "depth", 0)
        if depth:
            yield from self._savepoint(self._local.conn, depth)
            return
        with self._borrowed() as conn:
            yield from self._outermost(conn, "BEGIN")

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """One consistent snapshot, or the outer unit's view (its own writes included)."""
        if getattr(self._local, "depth", 0):
            yield self._local.conn
            return
        with self._borrowed() as conn:
            yield from self._outermost(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.write():
            yield

    @contextmanager
    def _borrowed(self) -> Iterator[Connection]:
        if self._closed:
            raise StorageUnavailable(f"database {self.redactor.safe_url} is closed")
        try:
            conn = self.pool.getconn()
        except (psycopg.Error, psycopg_pool.PoolTimeout, psycopg_pool.PoolClosed) as exc:
            raise self.redactor.error(exc, doing="no connection") from exc
        try:
            yield conn
        finally:
            broken = conn.closed or conn.broken
            self.pool.putconn(conn)  # a broken connection is dropped and replaced by the pool
            if broken and not self._closed:
                self.pool.check()  # the others likely died with it (a server restart)

    def _outermost(self, conn: Connection, begin: str) -> Iterator[Connection]:
        try:
            conn.execute(begin)
        except psycopg.Error as exc:
            raise self.redactor.error(exc) from exc
        self._local.conn, self._local.depth = conn, 1
        try:
            yield conn
        except BaseException as exc:
            self._local.depth = 0
            self._quietly(conn, "ROLLBACK")
            if isinstance(exc, psycopg.Error):
                raise self.redactor.error(exc) from exc
            raise
        finally:
            self._local.depth = 0
            self._local.conn = None
        try:
            conn.execute("COMMIT")
        except psycopg.Error as exc:
            self._quietly(conn, "ROLLBACK")
            raise self.redactor.error(exc) from exc

    def _savepoint(self, conn: Connection, depth: int) -> Iterator[Connection]:
        name = f"sp{depth}"
        try:
            conn.execute(f"SAVEPOINT {name}")
        except psycopg.Error as exc:
            raise self.redactor.error(exc) from exc
        self._local.depth = depth + 1
        try:
            yield conn
        except BaseException as exc:
            self._local.depth = depth
            self._quietly(conn, f"ROLLBACK TO SAVEPOINT {name}")
            self._quietly(conn, f"RELEASE SAVEPOINT {name}")
            if isinstance(exc, psycopg.Error):
                raise self.redactor.error(exc) from exc
            raise
        self._local.depth = depth
        try:
            conn.execute(f"RELEASE SAVEPOINT {name}")
        except psycopg.Error as exc:
            raise self.redactor.error(exc) from exc

    @staticmethod
    def _quietly(conn: Connection, statement: str) -> None:
        # The connection is gone or the server already rolled back: nothing left to undo.
        with contextlib.suppress(psycopg.Error):
            conn.execute(statement)

    # ---- health and the end

    def healthy(self, wait: float = 0.5) -> bool:
        """True when a connection comes within `wait` seconds and a write as large as the
        largest callback commits (a read-only standby or a full disk fail it); never raises."""
        if self._closed:
            return False
        if getattr(self._local, "depth", 0):
            return True  # inside a write on this thread: evidently writable
        try:
            conn = self.pool.getconn(timeout=wait)
        except Exception:
            return False
        try:
            conn.execute("BEGIN")
            conn.execute("SELECT set_config('lock_timeout', %s, true)", (f"{int(wait * 1000)}",))
            conn.execute(
                """INSERT INTO kv (key, value, updated_at) VALUES (%s, repeat('x', %s), now())
                   ON CONFLICT (key) DO UPDATE SET value = excluded.value""",
                (self._probe_key, _PROBE_BYTES),
            )
            conn.execute("DELETE FROM kv WHERE key = %s", (self._probe_key,))
            conn.execute("COMMIT")
            return True
        except Exception:
            self._quietly(conn, "ROLLBACK")
            return False
        finally:
            self.pool.putconn(conn)

    def close(self) -> None:
        """Close the pool; further use raises StorageUnavailable."""
        self._closed = True
        self.pool.close()
