"""Small state in SQLite: Slack idempotency claims and named values."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.storage.sqlite.database import SqliteDatabase


class SqliteClaims:
    """`ClaimRepository` over the `claims` table: the key is the primary key, so of two writers
    only one INSERT takes, across threads and processes."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    def claim(self, key: str) -> bool:
        with self._db.write() as conn:
            cursor = conn.execute(
                "INSERT OR IGNORE INTO claims (key, claimed_at) VALUES (?, ?)",
                (key, self._db.clock()),
            )
            return cursor.rowcount == 1

    def prune(self, older_than: timedelta, now: datetime | None = None) -> int:
        cutoff = self._db.stamp(now) - older_than.total_seconds()
        with self._db.write() as conn:
            return conn.execute("DELETE FROM claims WHERE claimed_at < ?", (cutoff,)).rowcount

    def count(self) -> int:
        with self._db.read() as conn:
            return conn.execute("SELECT count(*) FROM claims").fetchone()[0]


class SqliteValues:
    """`ValueRepository` over the `kv` table."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    def get(self, key: str) -> str | None:
        with self._db.read() as conn:
            row = conn.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        return None if row is None else row["value"]

    def set(self, key: str, value: str) -> None:
        with self._db.write() as conn:
            conn.execute(
                """INSERT INTO kv (key, value, updated_at) VALUES (?, ?, ?)
                   ON CONFLICT (key) DO UPDATE SET value = excluded.value,
                       updated_at = excluded.updated_at""",
                (key, value, self._db.clock()),
            )

    def delete(self, key: str) -> None:
        with self._db.write() as conn:
            conn.execute("DELETE FROM kv WHERE key = ?", (key,))
