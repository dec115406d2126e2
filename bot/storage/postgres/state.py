"""Small state in PostgreSQL: Slack idempotency claims and named values."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.storage.postgres.database import PostgresDatabase


class PostgresClaims:
    """`ClaimRepository` over the `claims` table: the key is the primary key, so of two writers
    only one INSERT takes, across threads, processes and replicas."""

    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    def claim(self, key: str) -> bool:
        with self._db.write() as conn:
            cursor = conn.execute(
                """INSERT INTO claims (key, claimed_at) VALUES (%s, %s)
                   ON CONFLICT (key) DO NOTHING""",
                (key, self._db.now()),
            )
            return cursor.rowcount == 1

    def prune(self, older_than: timedelta, now: datetime | None = None) -> int:
        cutoff = self._db.now(now) - older_than
        with self._db.write() as conn:
            return conn.execute("DELETE FROM claims WHERE claimed_at < %s", (cutoff,)).rowcount

    def count(self) -> int:
        with self._db.read() as conn:
            row = conn.execute("SELECT count(*) AS n FROM claims").fetchone()
        return 0 if row is None else int(row["n"])


class PostgresValues:
    """`ValueRepository` over the `kv` table."""

    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    def get(self, key: str) -> str | None:
        with self._db.read() as conn:
            row = conn.execute("SELECT value FROM kv WHERE key = %s", (key,)).fetchone()
        return None if row is None else str(row["value"])

    def set(self, key: str, value: str) -> None:
        with self._db.write() as conn:
            conn.execute(
                """INSERT INTO kv (key, value, updated_at) VALUES (%s, %s, %s)
                   ON CONFLICT (key) DO UPDATE SET value = excluded.value,
                       updated_at = excluded.updated_at""",
                (key, value, self._db.now()),
            )

    def delete(self, key: str) -> None:
        with self._db.write() as conn:
            conn.execute("DELETE FROM kv WHERE key = %s", (key,))
