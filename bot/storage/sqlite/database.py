"""Connections, transactions and error translation of the SQLite adapter.

- One connection per thread (WAL mode lets readers run beside the one writer). Writers of this
  process queue on one lock (bounded, fair-ish latency); other processes on `busy_timeout`. A
  thread's connection is closed when the thread ends, all of them by `close()`.
- Every write unit commits before it returns, so a callback survives a SIGKILL right after the
  200 (WAL; `synchronous="FULL"`, the default, also survives power loss; "NORMAL" is about 3x
  faster and still survives a killed process).
- `transaction()` groups several units into one (BEGIN IMMEDIATE ... COMMIT); units inside it
  become savepoints, so an inner failure rolls back only the inner part.
- sqlite3's exceptions never leave this package: `translate` turns them into StorageError, or
  StorageUnavailable for what passes (locked, disk full, I/O: SQLite's OperationalError).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Literal

from bot.storage.base import StorageError, StorageUnavailable
from bot.storage.sqlite.rows import seconds

log = logging.getLogger(__name__)

Synchronous = Literal["FULL", "NORMAL"]

# healthy()'s write probe, made only while the last real write failed: a row as large as the
# largest callback the endpoints accept.
_PROBE_KEY = "health.probe"
_PROBE_BYTES = 64 * 1024
# The free space healthy() asks for: room for a few of the largest callbacks and their pages.
_ROOM_NEEDED = 4 * _PROBE_BYTES


def _identity(path: str) -> tuple[int, int] | None:
    """(device, inode) of the file at `path`, None when there is none."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_dev, found.st_ino


def translate(path: str, error: sqlite3.Error) -> StorageError:
    """The storage error for a sqlite3 one. OperationalError is SQLite's class for a database
    that cannot do it now (locked, busy, disk full, I/O error, cannot open the file); every
    other class means the data or the file is wrong (a constraint, a corrupt file)."""
    kind = StorageUnavailable if isinstance(error, sqlite3.OperationalError) else StorageError
    return kind(f"database {path}: {error}")


class SqliteDatabase:
    """The file, its per-thread connections and the write lock every repository shares."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        clock: Callable[[], float] = time.time,
        synchronous: Synchronous = "FULL",
        busy_timeout: float = 30.0,
    ) -> None:
        self.path = os.fspath(path)
        if self.path in ("", ":memory:") or self.path.startswith("file:"):
            # Every thread has its own connection, so an in-memory database would be a
            # different (empty) database per thread.
            raise StorageError(f"database path {self.path!r} must be a file path")
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError(f"synchronous must be FULL or NORMAL, not {synchronous!r}")
        self.clock = clock
        self._synchronous = synchronous
        self._busy_timeout = busy_timeout
        self._local = threading.local()
        self._registry_lock = threading.Lock()
        self._writer = threading.Lock()
        self._connections: dict[int, sqlite3.Connection] = {}
        self._closed = False
        # Set when a write unit fails for a reason that passes (locked, disk full, I/O), cleared
        # only when healthy() has proved the database writable again with a real write: other
        # writes succeeding prove little (on a full disk, updates in place still work).
        self._write_failing = False
        # The file opened (device, inode): a file removed or replaced at the path while the
        # connections still write to the old one would take every later write with it.
        self._identity: tuple[int, int] | None = None
        self._replaced_told = False
        # Storage.watch: who to wake after a commit that added inbox or outbox rows.
        self._watchers: dict[str, list[Callable[[], None]]] = {}

    # ---- time

    def stamp(self, value: datetime | None = None) -> float:
        """Unix seconds of `value`, or of the clock's now."""
        return self.clock() if value is None else seconds(value)

    # ---- connections

    def _open_connection(self) -> sqlite3.Connection:
        try:
            # isolation_level=None: no implicit transactions; every write unit opens its own
            # BEGIN IMMEDIATE so the write lock is taken up front (no upgrade deadlocks).
            conn = sqlite3.connect(
                self.path,
                timeout=self._busy_timeout,
                isolation_level=None,
                check_same_thread=False,  # close() runs on another thread
            )
        except sqlite3.Error as exc:
            raise translate(self.path, exc) from exc
        if self._identity is None:
            self._identity = _identity(self.path)
        try:
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout * 1000)}")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StorageError(f"database {self.path} cannot use WAL mode (got {mode})")
            conn.execute(f"PRAGMA synchronous = {self._synchronous}")
            conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.Error as exc:
            conn.close()
            raise translate(self.path, exc) from exc
        except StorageError:
            conn.close()
            raise
        return conn

    def _connection(self) -> sqlite3.Connection:
        if self._closed:
            raise StorageUnavailable(f"database {self.path} is closed")
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._open_connection()
            self._local.conn = conn
            self._local.depth = 0
            key = id(conn)
            with self._registry_lock:
                self._connections[key] = conn
            # A thread that ends takes its connection with it (waitress threads live long, but
            # short-lived threads must not leak connections).
            weakref.finalize(threading.current_thread(), self._forget, key)
        return conn

    def _forget(self, key: int) -> None:
        with self._registry_lock:
            conn = self._connections.pop(key, None)
        if conn is not None:
            conn.close()

    def close(self) -> None:
        """Close every thread's connection. Further use raises StorageUnavailable."""
        self._closed = True
        with self._registry_lock:
            connections = list(self._connections.values())
            self._connections.clear()
        for conn in connections:
            conn.close()
        self._local = threading.local()

    # ---- the file itself

    def check_file(self) -> None:
        """StorageUnavailable when the file at the path is not the one this process opened
        (removed, or replaced by a restore or a copy): what it writes would be lost on the next
        start, so nothing is written (callbacks get 503 and are retried) and it is said loudly,
        once; only a restart opens the file now at the path."""
        if self._identity is None:
            return
        now = _identity(self.path)
        if now == self._identity:
            return
        what = "was removed" if now is None else "was replaced by another file"
        problem = f"database {self.path} {what} while sms-bot was using it"
        if not self._replaced_told:
            self._replaced_told = True
            log.critical(
                "%s: nothing more is written to it; restart sms-bot (after putting the right "
                "file back, if it was not meant to change)",
                problem,
            )
        raise StorageUnavailable(f"{problem}; restart sms-bot")

    # ---- units of work

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write unit: BEGIN IMMEDIATE ... COMMIT, or a savepoint inside an outer one.

        Writers of this process queue on a lock first: SQLite's own busy handler polls with
        sleeps of up to 100 ms, which would give callbacks a long latency tail under load. The
        busy_timeout still arbitrates between processes."""
        depth: int = getattr(self._local, "depth", 0)
        if depth:
            yield from self._write_unit(depth)
            return
        self.check_file()
        if not self._writer.acquire(timeout=self._busy_timeout):
            self._write_failing = True
            raise StorageUnavailable(f"database {self.path} is busy (waited {self._busy_timeout}s)")
        try:
            yield from self._write_unit(0)
        except StorageUnavailable:
            self._write_failing = True
            raise
        finally:
            self._writer.release()

    def _write_unit(self, depth: int) -> Iterator[sqlite3.Connection]:
        conn = self._connection()
        name = f"sp{depth}"
        try:
            if depth == 0 and self._watchers and not getattr(self._local, "told", None):
                self._tell_new_work(conn)
            conn.execute("BEGIN IMMEDIATE" if depth == 0 else f"SAVEPOINT {name}")
        except sqlite3.Error as exc:
            raise translate(self.path, exc) from exc
        self._local.depth = depth + 1
        try:
            yield conn
        except BaseException as exc:
            self._local.depth = depth
            self._undo(conn, depth, name)
            if isinstance(exc, sqlite3.Error):
                raise translate(self.path, exc) from exc
            raise
        self._local.depth = depth
        try:
            conn.execute("COMMIT" if depth == 0 else f"RELEASE {name}")
        except sqlite3.Error as exc:
            self._undo(conn, depth, name)
            raise translate(self.path, exc) from exc
        if depth == 0:
            self._wake_watchers()

    # ---- new work (Storage.watch)

    def watch(self, queue: str, wake: Callable[[], None]) -> None:
        self._watchers.setdefault(queue, []).append(wake)

    def _tell_new_work(self, conn: sqlite3.Connection) -> None:
        """Have this connection note (for this thread) which queues its inserts add to: a
        Python function the temporary triggers call, read after the commit."""
        self._local.told, self._local.new_work = True, set()
        conn.create_function("note_new_work", 1, self._note_new_work)
        for table in ("inbox", "outbox"):
            conn.execute(
                f"""CREATE TEMP TRIGGER IF NOT EXISTS {table}_new_work AFTER INSERT ON
                    main.{table} BEGIN SELECT note_new_work('{table}'); END"""
            )

    def _note_new_work(self, queue: str) -> None:
        self._local.new_work.add(queue)

    def _wake_watchers(self) -> None:
        added: set[str] | None = getattr(self._local, "new_work", None)
        if not added:
            return
        queues, self._local.new_work = list(added), set()
        for queue in queues:
            for wake in self._watchers.get(queue, ()):
                wake()

    def _undo(self, conn: sqlite3.Connection, depth: int, name: str) -> None:
        if depth == 0 and getattr(self._local, "new_work", None):
            self._local.new_work = set()  # rolled back: nothing new after all
        try:
            if depth == 0:
                conn.execute("ROLLBACK")
            else:
                conn.execute(f"ROLLBACK TO {name}")
                conn.execute(f"RELEASE {name}")
        except sqlite3.Error:
            pass  # SQLite already rolled back (e.g. after an I/O error); nothing left to undo

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """Reads see one consistent snapshot (a deferred transaction), or the outer one's."""
        conn = self._connection()
        try:
            if self._local.depth:
                yield conn
                return
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                conn.execute("ROLLBACK")  # nothing was written; just end the snapshot
        except sqlite3.Error as exc:
            raise translate(self.path, exc) from exc

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group calls made by this thread into one atomic, durable unit; nests (inner blocks join
        the outer one). An exception rolls everything back and propagates."""
        with self.write():
            yield

    # ---- health

    def healthy(self, wait: float = 0.5) -> bool:
        """True when the database answers a query and could store a callback now; never raises.

        Cheap, because /healthz is unauthenticated and may be probed hundreds of times a second:
        no durable write while writes are working. Reads keep working while another process
        holds the write lock or the disk is full, so the probe also takes the write lock (within
        `wait` seconds) and gives it back without writing (nothing committed, synced or added to
        the WAL), and asks the file system for room. Once a real write has failed, it
        proves the database writable with a real write (a row as large as the largest
        callback, deleted in the same transaction), until that works once."""
        try:
            self.check_file()
            with self.read() as conn:
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return self._has_room() and self._can_write(wait)
        except Exception:
            return False

    def _has_room(self) -> bool:
        stats = os.statvfs(os.path.dirname(os.path.abspath(self.path)))
        return stats.f_bavail * stats.f_frsize >= _ROOM_NEEDED

    def _can_write(self, wait: float) -> bool:
        if getattr(self._local, "depth", 0):
            return True  # inside a write on this thread: evidently writable
        if not self._writer.acquire(timeout=wait):
            return False  # this process's writer is stuck (e.g. behind another's lock)
        try:
            conn = self._connection()
            conn.execute(f"PRAGMA busy_timeout = {int(wait * 1000)}")
            try:
                self._probe(conn, durable=self._write_failing)
            finally:
                conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout * 1000)}")
        except sqlite3.Error:
            return False
        finally:
            self._writer.release()
        self._write_failing = False
        return True

    def _probe(self, conn: sqlite3.Connection, *, durable: bool) -> None:
        """Take the write lock; with `durable`, also store and delete a callback-sized row."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            if durable:
                conn.execute(
                    "INSERT OR REPLACE INTO kv (key, value, updated_at) VALUES (?, zeroblob(?), 0)",
                    (_PROBE_KEY, _PROBE_BYTES),
                )
                conn.execute("DELETE FROM kv WHERE key = ?", (_PROBE_KEY,))
                conn.execute("COMMIT")
            else:
                conn.execute("ROLLBACK")  # nothing written: nothing to sync
        except sqlite3.Error:
            self._undo(conn, 0, "")
            raise
