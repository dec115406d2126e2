"""Time slots in SQLite: Slack's pace and once-per-tick jobs (one serving process per file, so
this is the same promise as PostgreSQL's, kept by SQLite's single writer). Stored, so a 429's
Retry-After also outlives a restart."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from bot.storage.sqlite.database import SqliteDatabase

MIN_WAIT = timedelta(milliseconds=10)

_TAKE = """
    INSERT INTO slots (key, free_at) VALUES (?, ?)
    ON CONFLICT (key) DO UPDATE SET free_at = excluded.free_at
    WHERE slots.free_at <= ?
    RETURNING key"""


class _Taken(Exception):
    """A key was not free: roll back the keys already taken in this call."""


class SqliteSlots:
    """`SlotRepository` over the `slots` table (free_at in Unix seconds)."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    def take(self, slots: Mapping[str, timedelta], now: datetime | None = None) -> timedelta | None:
        at = self._db.stamp(now)
        try:
            with self._db.write() as conn:
                for key in sorted(slots):
                    until = at + slots[key].total_seconds()
                    if conn.execute(_TAKE, (key, until, at)).fetchone() is None:
                        raise _Taken(key)
        except _Taken:
            return self._wait(list(slots), at)
        return None

    def _wait(self, keys: list[str], now: float) -> timedelta:
        marks = ",".join("?" * len(keys))
        with self._db.read() as conn:
            row = conn.execute(
                f"SELECT max(free_at) FROM slots WHERE key IN ({marks})", keys
            ).fetchone()
        free_at = None if row is None else row[0]
        return MIN_WAIT if free_at is None else max(MIN_WAIT, timedelta(seconds=free_at - now))

    def hold(self, key: str, until: datetime) -> None:
        with self._db.write() as conn:
            conn.execute(
                """INSERT INTO slots (key, free_at) VALUES (?, ?)
                   ON CONFLICT (key) DO UPDATE SET free_at = max(free_at, excluded.free_at)""",
                (key, self._db.stamp(until)),
            )

    def busy(self, prefix: str, now: datetime | None = None) -> dict[str, datetime]:
        with self._db.read() as conn:
            found = conn.execute(
                """SELECT key, free_at FROM slots
                   WHERE free_at > ? AND substr(key, 1, length(?)) = ?""",
                (self._db.stamp(now), prefix, prefix),
            ).fetchall()
        return {row["key"]: datetime.fromtimestamp(row["free_at"], UTC) for row in found}

    def prune(self, older_than: timedelta, now: datetime | None = None) -> int:
        cutoff = self._db.stamp(now) - older_than.total_seconds()
        with self._db.write() as conn:
            return conn.execute("DELETE FROM slots WHERE free_at < ?", (cutoff,)).rowcount
