"""Connections, transactions and error translation of the PostgreSQL adapter.

- One `psycopg_pool.ConnectionPool` per `PostgresDatabase`; a thread borrows a connection for a
  unit of work and gives it back at the end, so a waitress thread holds no connection between
  requests. The pool's settings are what a database that goes away needs (`POOL SETTINGS`
  below): while the server is away a borrower waits at most the acquire timeout and the queue
  of waiters is bounded; reconnection never backs off for long. A unit whose first statement
  meets a connection cut by a server restart has the pool check every idle connection
  (`ConnectionPool.check()`: a restart cuts them all) and starts again on a sound one, so a
  restart costs no failed request.
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
- Each connection holds a shared advisory lock on this instance's claimer number: while any of
  them lives, other replicas see this instance alive and leave its outbox claims alone
  (`PostgresOutbox.release_leases`). The pool keeps `MIN_CONNECTIONS` open even when idle, so an
  idle replica stays visibly alive.

POOL SETTINGS. The adapter once had its own pool, written because psycopg_pool connects in the
background and, after failed attempts, waited 1 s, 2 s, 4 s ... up to its `reconnect_timeout`
(5 minutes by default) before trying again, so a database back from a restart stayed unusable
for minutes. That is a default, not a limit: the backoff never runs past `reconnect_timeout`
(psycopg_pool's `AttemptWithBackoff` caps each delay at the attempt's give-up time), and once an
attempt gives up, the next borrower that has to wait starts a new one at once. So:
- `reconnect_timeout` = RECONNECT_TIMEOUT (2 s): while the server is away the pool tries about
  once a second; once it is back, a waiting unit gets a connection within about a second.
- `timeout` = the acquire timeout: how long a unit waits for a connection (all busy, or the
  server away) before StorageUnavailable. The callback endpoints answer 503 sooner on their own
  (the inbox writer counts as stuck after half a second), /healthz passes its own shorter wait.
- `max_waiting` = WAITING_PER_CONNECTION x max_connections: while the server is away, borrowers
  beyond that fail at once instead of queueing for the whole timeout.
- No `check` callback. `check=ConnectionPool.check_connection` would cost a round trip per unit
  and, worse, after a restart (every idle connection cut) psycopg_pool 3.3's check loop backs
  off a second and more between the broken connections it meets (`_getconn_with_check_loop`
  sleeps `AttemptWithBackoff.delay`): with four idle connections, `healthy(wait=0.5)` right
  after a restart was False (tests/storage/postgres/test_connection_loss.py). Instead the first
  unit that meets a cut connection runs `ConnectionPool.check()` once, which drops every broken
  idle connection and has the pool replace them, and begins again.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.abc import Buffer
from psycopg.pq import TransactionStatus
from psycopg.rows import DictRow, dict_row
from psycopg.types.string import StrDumperUnknown
from psycopg_pool import ConnectionPool

from bot.storage.base import StorageUnavailable
from bot.storage.postgres.errors import Redactor
from bot.storage.postgres.rows import as_utc, nul_free

# Advisory lock namespaces (the two-key form; they never meet the one-key schema lock).
PRESENCE_LOCKS = 0x534D5301  # (PRESENCE_LOCKS, claimer id): an instance that is alive
GROUP_LOCKS = 0x534D5302  # (GROUP_LOCKS, hash): one multi-part SMS group assembled at a time
INBOX_TURN = 0x534D5303  # (INBOX_TURN, 0): one claimer of inbox rows at a time

# The claimer numbers of the instances alive now: each of their connections holds a shared
# presence lock (`_connect`), and the server drops it with the connection, however it ends.
LIVE_CLAIMERS = f"""
    SELECT l.objid::bigint FROM pg_locks l
    WHERE l.locktype = 'advisory' AND l.classid::bigint = {PRESENCE_LOCKS}
      AND l.objsubid = 2 AND l.granted
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"""

_PROBE_BYTES = 64 * 1024  # healthy()'s write probe: as large as the largest callback accepted
MIN_CONNECTIONS = 2  # kept open while idle: the instance's presence locks
RECONNECT_TIMEOUT = 2.0  # seconds one reconnection attempt (with its backoff) may last
WAITING_PER_CONNECTION = 4  # borrowers queued per connection before more fail at once
# psycopg_pool logs three INFO lines for every connection borrowed and a WARNING for every
# failed reconnection attempt (about one a second while the server is away). The app says what
# matters itself: units fail with StorageUnavailable, which the workers log once per kind of
# failure and again at the 2nd, 4th, 8th ... (bot/inbound/worker.py). Only its errors pass.
POOL_LOG_LEVEL = logging.ERROR


class PresenceConnection(psycopg.Connection[DictRow]):
    """A pooled connection that, when its storage is closing, drops its presence lock before it
    hangs up: the server then knows at once that this instance is gone (it would otherwise
    notice a moment after the hang-up), so other replicas may take over its claims as soon as
    close() returns. Closed for any other reason (the pool replacing an old one), it keeps the
    lock to the end: the instance is alive."""

    leaving: threading.Event | None = None

    def close(self) -> None:
        leaving = self.leaving is not None and self.leaving.is_set()
        if leaving and self._idle():
            with contextlib.suppress(psycopg.Error):
                self.execute("SELECT pg_advisory_unlock_all()")
        super().close()

    def _idle(self) -> bool:
        usable = not (self.closed or self.broken)
        return usable and self.info.transaction_status == TransactionStatus.IDLE


Connection = psycopg.Connection[DictRow]


class NulFreeText(StrDumperUnknown):
    """Text parameters with NUL characters replaced by U+FFFD. PostgreSQL's text cannot hold
    NUL, which SQLite stores, and outside text can carry one (a fuzzed callback's message ID, a
    UCS-2 SMS decoded with a zero in it): refused, such a callback would never be stored and
    its gateway would retry forever. One character of junk replaced by another is harmless."""

    def dump(self, obj: str) -> Buffer | None:
        return super().dump(nul_free(obj))


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
        self._url = url
        self._connect_timeout = max(1, round(connect_timeout))
        self._local = threading.local()
        self._closed = False
        self._probe_key = f"health.probe.{secrets.token_hex(6)}"
        self._leaving = threading.Event()
        logging.getLogger("psycopg.pool").setLevel(POOL_LOG_LEVEL)
        self.pool: ConnectionPool[PresenceConnection] = ConnectionPool(
            url,
            connection_class=PresenceConnection,
            kwargs={
                "autocommit": True,  # units begin their own transactions
                "row_factory": dict_row,
                "connect_timeout": self._connect_timeout,
            },
            min_size=min(MIN_CONNECTIONS, max_connections),
            max_size=max_connections,
            timeout=acquire_timeout,
            reconnect_timeout=RECONNECT_TIMEOUT,
            max_waiting=WAITING_PER_CONNECTION * max_connections,
            configure=self._configure,
            name="sms-bot",
            open=True,
        )

    def _configure(self, conn: PresenceConnection) -> None:
        """A new connection: NUL-free text, times in UTC, and this instance's presence lock."""
        conn.adapters.register_dumper(str, NulFreeText)
        conn.execute("SET TIME ZONE 'UTC'")
        conn.execute(
            "SELECT pg_advisory_lock_shared(%s::int4, %s::int4)", (PRESENCE_LOCKS, self.claimer)
        )
        conn.leaving = self._leaving

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
        yield from self._outermost("BEGIN")

    def alone(self, statement: str, params: Sequence[object]) -> list[dict[str, Any]]:
        """Run ONE statement as a write unit of its own and return its rows. Outside a unit it
        runs on an autocommit connection with no BEGIN/COMMIT around it: atomic, and committed
        (durable, with synchronous_commit on) when it returns, in one round trip instead of
        three. Inside this thread's unit it is part of that unit. On a connection found cut
        (a server restart) it runs once more on a fresh one, as `write` does, so the statement
        must be idempotent (an INSERT ... ON CONFLICT DO NOTHING is)."""
        if getattr(self._local, "depth", 0):
            with self.write() as conn:
                return conn.execute(statement, params).fetchall()  # type: ignore[arg-type]
        retries = 1
        while True:
            conn = self._borrow()
            try:
                return conn.execute(statement, params).fetchall()  # type: ignore[arg-type]
            except psycopg.Error as exc:
                if not (retries and conn.broken):
                    raise self.redactor.error(exc) from exc
                retries -= 1
            finally:
                self.pool.putconn(conn)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """One consistent snapshot, or the outer unit's view (its own writes included)."""
        if getattr(self._local, "depth", 0):
            yield self._local.conn
            return
        yield from self._outermost("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.write():
            yield

    def _borrow(self, timeout: float | None = None) -> Connection:
        if self._closed:
            raise StorageUnavailable(f"database {self.redactor.safe_url} is closed")
        try:
            return self.pool.getconn(timeout)
        except psycopg.Error as exc:  # psycopg_pool's errors are psycopg errors too
            raise self.redactor.error(exc) from exc

    def _begun(self, begin: str, timeout: float | None = None) -> Connection:
        """A borrowed connection with a transaction begun. A connection cut while idle (a server
        restart) fails at BEGIN, before anything was done: then once more on a fresh one."""
        conn = self._borrow(timeout)
        failure = self._begin(conn, begin)
        if failure is not None and conn.broken:
            self.pool.check()  # a restart cut every idle connection: drop them all at once
            conn = self._borrow(timeout)
            failure = self._begin(conn, begin)
        if failure is not None:
            raise self.redactor.error(failure) from failure
        return conn

    def _begin(self, conn: Connection, begin: str) -> psycopg.Error | None:
        """BEGIN on `conn`; on failure the connection goes back to the pool (which drops it if
        broken) and the error is returned."""
        try:
            conn.execute(begin)  # type: ignore[arg-type]
        except psycopg.Error as exc:
            self.pool.putconn(conn)
            return exc
        return None

    def _outermost(self, begin: str) -> Iterator[Connection]:
        conn = self._begun(begin)
        self._local.conn, self._local.depth = conn, 1
        try:
            try:
                yield conn
            except BaseException as exc:
                self._quietly(conn, "ROLLBACK")
                if isinstance(exc, psycopg.Error):
                    raise self.redactor.error(exc) from exc
                raise
            finally:
                self._local.depth, self._local.conn = 0, None
            try:
                conn.execute("COMMIT")
            except psycopg.Error as exc:
                self._quietly(conn, "ROLLBACK")
                raise self.redactor.error(exc) from exc
        finally:
            self.pool.putconn(conn)

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
            conn = self._begun("BEGIN", timeout=wait)
        except Exception:
            return False
        try:
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
        """Close the pool (each connection dropping its presence lock first); further use
        raises StorageUnavailable."""
        self._closed = True
        self._leaving.set()
        self.pool.close()
