"""The inbox of gateway callbacks and the parts of multi-part SMS, in SQLite."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime, timedelta

import bot.storage.sqlite.rows as rows
from bot.domain.records import CALLBACK_KINDS, CallbackKind, InboxItem, MoGroup
from bot.storage.sqlite.database import SqliteDatabase

_INSERT_CHUNK = 200  # callbacks per INSERT: 4 parameters each stays under SQLite's limit
_ID_CHUNK = 500


class _StoredBefore(Exception):
    """A batch held a key stored by an earlier one: its optimistic write is undone."""


def _check_kind(kind: str) -> None:
    if kind not in CALLBACK_KINDS:
        raise ValueError(f"callback kind must be 'status' or 'mo', not {kind!r}")


class SqliteInbox:
    """`InboxRepository` over the `inbox` table; (kind, unique_key) is unique, processed or not,
    so a retried callback is recognised as a duplicate until it is pruned."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    def store(
        self,
        kind: CallbackKind,
        unique_key: str,
        params: bytes,
        received_at: datetime | None = None,
    ) -> bool:
        _check_kind(kind)
        with self._db.write() as conn:
            cursor = conn.execute(
                """INSERT OR IGNORE INTO inbox (kind, unique_key, params, received_at)
                   VALUES (?, ?, ?, ?)""",
                (kind, unique_key, bytes(params), self._db.stamp(received_at)),
            )
            return cursor.rowcount == 1

    def store_many(
        self,
        items: Sequence[tuple[CallbackKind, str, bytes]],
        received_at: datetime | None = None,
    ) -> list[bool]:
        """A fixed handful of statements whatever the batch size: each SQLite call releases the
        interpreter lock, and under load getting it back is what costs, not the work."""
        for kind, _, _ in items:
            _check_kind(kind)
        stamp = self._db.stamp(received_at)
        try:
            return self._store_all_new(items, stamp)
        except _StoredBefore:
            pass  # rolled back; written again the way that tells which were there
        results: list[bool] = []
        with self._db.write() as conn:
            for start in range(0, len(items), _INSERT_CHUNK):
                results += _insert(conn, items[start : start + _INSERT_CHUNK], stamp)
        return results

    def _store_all_new(
        self, items: Sequence[tuple[CallbackKind, str, bytes]], stamp: float
    ) -> list[bool]:
        """The usual batch, whose keys are all new, without looking them up first (two SQLite
        calls fewer): INSERT OR IGNORE each key once, and when as many rows went in as keys
        were given, that is the answer. A key stored before (a retried callback) makes the unit
        roll back (_StoredBefore)."""
        fresh: dict[tuple[str, str], bytes] = {}
        results = []
        for kind, key, raw in items:
            results.append((kind, key) not in fresh)
            fresh.setdefault((kind, key), bytes(raw))
        rows = [(kind, key, raw) for (kind, key), raw in fresh.items()]
        with self._db.write() as conn:
            before = conn.total_changes
            for start in range(0, len(rows), _INSERT_CHUNK):
                chunk = rows[start : start + _INSERT_CHUNK]
                conn.execute(
                    "INSERT OR IGNORE INTO inbox (kind, unique_key, params, received_at) VALUES "
                    + ", ".join(["(?, ?, ?, ?)"] * len(chunk)),
                    [v for kind, key, raw in chunk for v in (kind, key, raw, stamp)],
                )
            if conn.total_changes - before != len(rows):
                raise _StoredBefore
        return results

    def unprocessed(self, limit: int = 100, kind: CallbackKind | None = None) -> list[InboxItem]:
        with self._db.read() as conn:
            found = conn.execute(
                """SELECT * FROM inbox WHERE processed_at IS NULL AND (?1 IS NULL OR kind = ?1)
                   ORDER BY id LIMIT ?2""",
                (kind, max(0, limit)),
            ).fetchall()
        return [rows.inbox_item(row) for row in found]

    def still_unprocessed(self, item_ids: Sequence[int]) -> set[int]:
        found: set[int] = set()
        with self._db.read() as conn:
            for start in range(0, len(item_ids), _ID_CHUNK):
                chunk = list(item_ids[start : start + _ID_CHUNK])
                found.update(
                    row[0]
                    for row in conn.execute(
                        f"SELECT id FROM inbox WHERE processed_at IS NULL "
                        f"AND id IN ({rows.placeholders(len(chunk))})",
                        chunk,
                    )
                )
        return found

    def mark_processed(self, item_id: int) -> None:
        with self._db.write() as conn:
            conn.execute(
                "UPDATE inbox SET processed_at = ? WHERE id = ? AND processed_at IS NULL",
                (self._db.clock(), item_id),
            )

    def mark_processed_many(self, item_ids: Sequence[int]) -> None:
        now = self._db.clock()
        with self._db.write() as conn:
            for start in range(0, len(item_ids), _ID_CHUNK):
                chunk = list(item_ids[start : start + _ID_CHUNK])
                conn.execute(
                    f"UPDATE inbox SET processed_at = ? WHERE processed_at IS NULL "
                    f"AND id IN ({rows.placeholders(len(chunk))})",
                    (now, *chunk),
                )

    def record_failure(self, item_id: int, error: str) -> int:
        with self._db.write() as conn:
            row = conn.execute(
                """UPDATE inbox SET attempts = attempts + 1, last_error = ? WHERE id = ?
                   RETURNING attempts""",
                (error, item_id),
            ).fetchone()
            return 0 if row is None else row["attempts"]

    def prune(self, older_than: timedelta, now: datetime | None = None) -> int:
        cutoff = self._db.stamp(now) - older_than.total_seconds()
        with self._db.write() as conn:
            return conn.execute(
                "DELETE FROM inbox WHERE processed_at IS NOT NULL AND received_at < ?", (cutoff,)
            ).rowcount

    def count(self, *, unprocessed: bool = False, kind: CallbackKind | None = None) -> int:
        # Conditions written out, not switched by parameters: only a literal `processed_at IS
        # NULL` lets SQLite count the backlog from its partial index instead of every row kept.
        where = ["processed_at IS NULL"] if unprocessed else []
        args: list[str] = []
        if kind is not None:
            where.append("kind = ?")
            args.append(kind)
        query = "SELECT count(*) FROM inbox" + (" WHERE " + " AND ".join(where) if where else "")
        with self._db.read() as conn:
            return conn.execute(query, args).fetchone()[0]

    def failures(self, limit: int = 100) -> list[InboxItem]:
        with self._db.read() as conn:
            found = conn.execute(
                "SELECT * FROM inbox WHERE last_error IS NOT NULL ORDER BY id DESC LIMIT ?",
                (max(0, limit),),
            ).fetchall()
        return [rows.inbox_item(row) for row in found]


def _insert(
    conn: sqlite3.Connection, chunk: Sequence[tuple[str, str, bytes]], stamp: float
) -> list[bool]:
    seen: set[tuple[str, str]] = set()
    for kind in {kind for kind, _, _ in chunk}:  # one indexed lookup per kind (usually one)
        keys = [key for k, key, _ in chunk if k == kind]
        found = conn.execute(
            f"SELECT unique_key FROM inbox WHERE kind = ? AND unique_key IN "
            f"({rows.placeholders(len(keys))})",
            [kind, *keys],
        )
        seen.update((kind, row[0]) for row in found)
    fresh: dict[tuple[str, str], bytes] = {}
    results = []
    for kind, key, raw in chunk:
        new = (kind, key) not in seen and (kind, key) not in fresh
        if new:
            fresh[(kind, key)] = bytes(raw)
        results.append(new)
    if fresh:
        conn.execute(
            "INSERT INTO inbox (kind, unique_key, params, received_at) VALUES "
            + ", ".join(["(?, ?, ?, ?)"] * len(fresh)),
            [v for (kind, key), raw in fresh.items() for v in (kind, key, raw, stamp)],
        )
    return results


class SqliteMoParts:
    """`MoPartRepository` over the `mo_parts` table, one row per part."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    def add(
        self,
        sender: str,
        reference: int,
        total: int,
        sequence: int,
        text: str,
        received_at: datetime | None = None,
        arrived_at: datetime | None = None,
    ) -> str | None:
        if not 1 <= sequence <= total:
            raise ValueError(f"part {sequence} of {total} is not a valid part number")
        received = self._db.stamp(received_at)
        arrived = received if arrived_at is None else self._db.stamp(arrived_at)
        with self._db.write() as conn:
            conn.execute(
                """INSERT OR IGNORE INTO mo_parts (sender, reference, total, sequence, text,
                       received_at, arrived_at) VALUES (?, ?, ?, ?, ?, ?, ?)""",
                (sender, reference, total, sequence, text, received, arrived),
            )
            parts = conn.execute(
                """SELECT text FROM mo_parts WHERE sender = ? AND reference = ? AND total = ?
                   ORDER BY sequence""",
                (sender, reference, total),
            ).fetchall()
        return "".join(row["text"] for row in parts) if len(parts) == total else None

    def first_arrival(self, sender: str, reference: int, total: int) -> datetime | None:
        with self._db.read() as conn:
            row = conn.execute(
                """SELECT min(coalesce(arrived_at, received_at)) FROM mo_parts
                   WHERE sender = ? AND reference = ? AND total = ?""",
                (sender, reference, total),
            ).fetchone()
        return None if row[0] is None else rows.time_of(row[0])

    def stale(self, older_than: timedelta, now: datetime | None = None) -> list[MoGroup]:
        cutoff = self._db.stamp(now) - older_than.total_seconds()
        with self._db.read() as conn:
            groups = conn.execute(
                """SELECT sender, reference, total, min(received_at) AS first,
                          min(coalesce(arrived_at, received_at)) AS arrived
                   FROM mo_parts GROUP BY sender, reference, total
                   HAVING first < ? AND count(*) < total ORDER BY first""",
                (cutoff,),
            ).fetchall()
            return [_group(conn, group) for group in groups]

    def delete(self, sender: str, reference: int, total: int) -> bool:
        with self._db.write() as conn:
            cursor = conn.execute(
                "DELETE FROM mo_parts WHERE sender = ? AND reference = ? AND total = ?",
                (sender, reference, total),
            )
            return cursor.rowcount > 0


def _group(conn: sqlite3.Connection, group: sqlite3.Row) -> MoGroup:
    parts = conn.execute(
        """SELECT sequence, text FROM mo_parts
           WHERE sender = ? AND reference = ? AND total = ? ORDER BY sequence""",
        (group["sender"], group["reference"], group["total"]),
    ).fetchall()
    return MoGroup(
        sender=group["sender"],
        reference=group["reference"],
        total=group["total"],
        parts={row["sequence"]: row["text"] for row in parts},
        first_received_at=rows.time_of(group["first"]),
        first_arrived_at=rows.time_of(group["arrived"]),
    )
