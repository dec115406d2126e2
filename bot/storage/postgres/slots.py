"""Time slots in PostgreSQL: Slack's pace and once-per-tick jobs, shared by every replica.

One row per key. Taking a free key is one atomic upsert (`ON CONFLICT … DO UPDATE … WHERE
free_at <= now RETURNING`): of two replicas at once the second waits for the first's row lock,
re-reads the row, finds it taken and gets nothing back. Several keys are taken in one
transaction, in key order (so two takers never deadlock), all or none.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from bot.storage.postgres.database import PostgresDatabase

MIN_WAIT = timedelta(milliseconds=10)

_TAKE = """
    INSERT INTO slots (key, free_at) VALUES (%(key)s, %(until)s)
    ON CONFLICT (key) DO UPDATE SET free_at = excluded.free_at
    WHERE slots.free_at <= %(now)s
    RETURNING key"""


class _Taken(Exception):
    """A key was not free: roll back the keys already taken in this call."""


class PostgresSlots:
    """`SlotRepository` over the `slots` table."""

    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    def take(self, slots: Mapping[str, timedelta], now: datetime | None = None) -> timedelta | None:
        at = self._db.now(now)
        try:
            with self._db.write() as conn:
                for key in sorted(slots):
                    params = {"key": key, "until": at + slots[key], "now": at}
                    if conn.execute(_TAKE, params).fetchone() is None:
                        raise _Taken(key)
        except _Taken:
            return self._wait(list(slots), at)
        return None

    def _wait(self, keys: list[str], now: datetime) -> timedelta:
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT max(free_at) AS free_at FROM slots WHERE key = ANY(%s)", (keys,)
            ).fetchone()
        free_at = None if row is None else row["free_at"]
        return MIN_WAIT if free_at is None else max(MIN_WAIT, free_at - now)

    def hold(self, key: str, until: datetime) -> None:
        with self._db.write() as conn:
            conn.execute(
                """INSERT INTO slots (key, free_at) VALUES (%s, %s)
                   ON CONFLICT (key) DO UPDATE
                   SET free_at = greatest(slots.free_at, excluded.free_at)""",
                (key, self._db.now(until)),
            )

    def busy(self, prefix: str, now: datetime | None = None) -> dict[str, datetime]:
        with self._db.read() as conn:
            found = conn.execute(
                """SELECT key, free_at FROM slots
                   WHERE free_at > %s AND left(key, length(%s)) = %s""",
                (self._db.now(now), prefix, prefix),
            ).fetchall()
        return {row["key"]: self._db.now(row["free_at"]) for row in found}

    def prune(self, older_than: timedelta, now: datetime | None = None) -> int:
        cutoff = self._db.now(now) - older_than
        with self._db.write() as conn:
            return conn.execute("DELETE FROM slots WHERE free_at < %s", (cutoff,)).rowcount
