"""Database faults for the tests: a full disk and a lock held by another process.

`FullableStorage` is the real SQLite storage whose connections refuse to grow the database
while `disk.full` is set: every INSERT fails with SQLite's own "database or disk is full"
(SQLITE_FULL), while reads and in-place updates still work, as on a real full disk where only
what needs new pages fails. The failure is injected at the sqlite3 connection, under all of the
adapter's code (its error translation included).

`ForeignLock` is a separate Python process holding `BEGIN EXCLUSIVE` on the database file until
`release()`: the lock another program (a backup, sqlite3 in a shell) can take.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.storage.sqlite import SqliteDatabase, SqliteStorage

FULL = "database or disk is full"


@dataclass
class Disk:
    full: bool = False
    refused: int = 0  # INSERTs refused so far


class FullableConnection:
    """A sqlite3.Connection whose INSERTs fail while the disk is full; everything else is the
    connection's own."""

    def __init__(self, conn: sqlite3.Connection, disk: Disk):
        self._conn = conn
        self._disk = disk

    def _check(self, sql: str) -> None:
        if self._disk.full and sql.lstrip().upper().startswith("INSERT"):
            self._disk.refused += 1
            error = sqlite3.OperationalError(FULL)
            error.sqlite_errorcode = 13  # type: ignore[attr-defined]  # SQLITE_FULL
            error.sqlite_errorname = "SQLITE_FULL"  # type: ignore[attr-defined]
            raise error

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        self._check(sql)
        return self._conn.execute(sql, *args)

    def executemany(self, sql: str, *args: Any) -> sqlite3.Cursor:
        self._check(sql)
        return self._conn.executemany(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


class FullableDatabase(SqliteDatabase):
    def __init__(self, path: str | Path, disk: Disk, **options: Any):
        self.disk = disk
        super().__init__(path, **options)

    def _open_connection(self) -> Any:
        return FullableConnection(super()._open_connection(), self.disk)


class FullableStorage(SqliteStorage):
    def __init__(self, path: str | Path, disk: Disk, **options: Any):
        self.disk = disk  # before SqliteStorage.__init__: it opens the first connection
        super().__init__(path, **options)

    def _database(self, path: str | Path, **options: Any) -> SqliteDatabase:
        return FullableDatabase(path, self.disk, **options)


_HOLDER = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.read()
db.execute("ROLLBACK")
"""


class ForeignLock:
    """Another process holding the database's write lock until `release()`."""

    def __init__(self, path: str | Path):
        self.process = subprocess.Popen(
            [sys.executable, "-c", _HOLDER, str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()  # returns once the lock is held (or it died)
        if line.strip() != "locked":
            self.release()
            raise AssertionError("the other process could not lock the database")

    def release(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()  # it rolls back and exits
            self.process.wait(10)

    def __enter__(self) -> ForeignLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
