"""The inbox of gateway callbacks and the parts of multi-part SMS, in PostgreSQL.

Replicas take turns at the inbox: `unprocessed` claims the rows it returns for this instance,
with a lease, and returns nothing while another live instance holds unexpired claims on rows
still unprocessed. So the inbox is processed as by the one worker the port expects (arrival
order; two SMS from one phone never processed side by side, which could open two conversations
for it), whichever replica does it; a replica killed mid-batch hands over at once (its presence
lock is gone), a live one that stops renewing after the lease.

A duplicate callback is dropped by the unique (kind, unique_key) with ON CONFLICT DO NOTHING: of
two replicas storing the same callback at once, the second waits for the first's commit and
stores nothing. Parts of one multi-part SMS are assembled under a per-group advisory lock, so two
parts taken in by two replicas at once cannot both miss the other and leave the group waiting.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import bot.storage.postgres.rows as rows
from bot.domain.records import CALLBACK_KINDS, CallbackKind, InboxItem, MoGroup
from bot.storage.base import DEFAULT_LEASE
from bot.storage.postgres.database import (
    GROUP_LOCKS,
    INBOX_TURN,
    LIVE_CLAIMERS,
    Connection,
    PostgresDatabase,
)

# Another live instance holds the turn: it claimed rows that are still unprocessed.
_OTHERS_TURN = f"""
    SELECT 1 FROM inbox
    WHERE processed_at IS NULL AND claimed_by <> %(me)s AND claimed_until > %(now)s
      AND claimed_by IN ({LIVE_CLAIMERS})
    LIMIT 1"""

_CLAIM = """
    WITH next AS (
        SELECT id FROM inbox
        WHERE processed_at IS NULL AND (%(kind)s::text IS NULL OR kind = %(kind)s)
        ORDER BY id LIMIT %(limit)s
        FOR UPDATE SKIP LOCKED)
    UPDATE inbox SET claimed_by = %(me)s, claimed_until = %(until)s
    FROM next WHERE inbox.id = next.id
    RETURNING inbox.*"""


def _check_kind(kind: str) -> None:
    if kind not in CALLBACK_KINDS:
        raise ValueError(f"callback kind must be 'status' or 'mo', not {kind!r}")


class PostgresInbox:
    """`InboxRepository` over the `inbox` table; (kind, unique_key) is unique, processed or not,
    so a retried callback is recognised as a duplicate until it is pruned."""

    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    def store(
        self,
        kind: CallbackKind,
        unique_key: str,
        params: bytes,
        received_at: datetime | None = None,
    ) -> bool:
        return self.store_many([(kind, unique_key, params)], received_at)[0]

    def store_many(
        self,
        items: Sequence[tuple[CallbackKind, str, bytes]],
        received_at: datetime | None = None,
    ) -> list[bool]:
        """One INSERT for the whole batch (arrays unnested), in arrival order; RETURNING says
        which keys were new. A key repeated within the batch is stored once, the first time.
        Run alone (outside a unit) it commits by itself: the group commit's one round trip."""
        for kind, _, _ in items:
            _check_kind(kind)
        keys = [(kind, rows.nul_free(key)) for kind, key, _ in items]  # as they will be stored
        fresh: dict[tuple[str, str], bytes] = {}
        for stored_key, (_, _, raw) in zip(keys, items, strict=True):
            fresh.setdefault(stored_key, bytes(raw))
        if not fresh:
            return []
        # One statement, so one round trip commits the batch (autocommit, no BEGIN/COMMIT).
        stored = self._db.alone(
            """INSERT INTO inbox (kind, unique_key, params, received_at)
               SELECT kind, unique_key, params, %s
               FROM unnest(%s::text[], %s::text[], %s::bytea[])
                    WITH ORDINALITY AS batch (kind, unique_key, params, position)
               ORDER BY position
               ON CONFLICT (kind, unique_key) DO NOTHING
               RETURNING kind, unique_key""",
            (
                self._db.now(received_at),
                [kind for kind, _ in fresh],
                [key for _, key in fresh],
                list(fresh.values()),
            ),
        )
        new = {(row["kind"], row["unique_key"]) for row in stored}
        results = []
        for stored_key in keys:
            results.append(stored_key in new)
            new.discard(stored_key)  # a repeat later in the batch is a duplicate
        return results

    def unprocessed(self, limit: int = 100, kind: CallbackKind | None = None) -> list[InboxItem]:
        """The oldest unprocessed callbacks, claimed for this instance (claims renewed); empty
        while another live instance has the turn. Claim decisions are serialised by an advisory
        lock held to the commit, so two replicas never both take a turn."""
        now = self._db.now()
        me = self._db.claimer
        with self._db.write() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s::int4, 0)", (INBOX_TURN,))
            if conn.execute(_OTHERS_TURN, {"me": me, "now": now}).fetchone() is not None:
                return []
            found = conn.execute(
                _CLAIM,
                {
                    "kind": kind,
                    "limit": max(0, limit),
                    "me": me,
                    "until": now + DEFAULT_LEASE,
                },
            ).fetchall()
        return sorted((rows.inbox_item(row) for row in found), key=lambda item: item.id)

    def still_unprocessed(self, item_ids: Sequence[int]) -> set[int]:
        """Locks the rows (FOR UPDATE) in the caller's transaction: a second processor asking
        about one of them waits for this one's commit, then finds it processed (READ
        COMMITTED re-reads a locked row's newest version)."""
        if not item_ids:
            return set()
        with self._db.write() as conn:
            found = conn.execute(
                """SELECT id FROM inbox WHERE processed_at IS NULL AND id = ANY(%s)
                   ORDER BY id FOR UPDATE""",
                (list(item_ids),),
            ).fetchall()
        return {int(row["id"]) for row in found}

    def mark_processed(self, item_id: int) -> None:
        self.mark_processed_many([item_id])

    def mark_processed_many(self, item_ids: Sequence[int]) -> None:
        with self._db.write() as conn:
            conn.execute(
                """UPDATE inbox SET processed_at = %s
                   WHERE processed_at IS NULL AND id = ANY(%s)""",
                (self._db.now(), list(item_ids)),
            )

    def record_failure(self, item_id: int, error: str) -> int:
        with self._db.write() as conn:
            row = conn.execute(
                """UPDATE inbox SET attempts = attempts + 1, last_error = %s WHERE id = %s
                   RETURNING attempts""",
                (error, item_id),
            ).fetchone()
            return 0 if row is None else int(row["attempts"])

    def prune(self, older_than: timedelta, now: datetime | None = None) -> int:
        cutoff = self._db.now(now) - older_than
        with self._db.write() as conn:
            return conn.execute(
                "DELETE FROM inbox WHERE processed_at IS NOT NULL AND received_at < %s",
                (cutoff,),
            ).rowcount

    def count(self, *, unprocessed: bool = False, kind: CallbackKind | None = None) -> int:
        # Conditions written out, not switched by parameters: only a literal `processed_at IS
        # NULL` lets the planner count the backlog from its partial index.
        where = ["processed_at IS NULL"] if unprocessed else []
        args: list[str] = []
        if kind is not None:
            where.append("kind = %s")
            args.append(kind)
        query = "SELECT count(*) AS n FROM inbox" + (
            " WHERE " + " AND ".join(where) if where else ""
        )
        with self._db.read() as conn:
            row = conn.execute(query, args).fetchone()
        return 0 if row is None else int(row["n"])

    def failures(self, limit: int = 100) -> list[InboxItem]:
        with self._db.read() as conn:
            found = conn.execute(
                "SELECT * FROM inbox WHERE last_error IS NOT NULL ORDER BY id DESC LIMIT %s",
                (max(0, limit),),
            ).fetchall()
        return [rows.inbox_item(row) for row in found]


class PostgresMoParts:
    """`MoPartRepository` over the `mo_parts` table, one row per part."""

    def __init__(self, db: PostgresDatabase) -> None:
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
        received = self._db.now(received_at)
        arrived = received if arrived_at is None else self._db.now(arrived_at)
        group = (sender, reference, total)
        with self._db.write() as conn:
            conn.execute(
                "SELECT pg_advisory_xact_lock(%s::int4, hashtext(%s))",
                (GROUP_LOCKS, f"{sender}:{reference}:{total}"),
            )
            conn.execute(
                """INSERT INTO mo_parts (sender, reference, total, sequence, text,
                       received_at, arrived_at) VALUES (%s, %s, %s, %s, %s, %s, %s)
                   ON CONFLICT DO NOTHING""",
                (*group, sequence, text, received, arrived),
            )
            parts = conn.execute(
                """SELECT text FROM mo_parts WHERE sender = %s AND reference = %s AND total = %s
                   ORDER BY sequence""",
                group,
            ).fetchall()
        return "".join(row["text"] for row in parts) if len(parts) == total else None

    def first_arrival(self, sender: str, reference: int, total: int) -> datetime | None:
        with self._db.read() as conn:
            row = conn.execute(
                """SELECT min(arrived_at) AS first FROM mo_parts
                   WHERE sender = %s AND reference = %s AND total = %s""",
                (sender, reference, total),
            ).fetchone()
        return None if row is None else row["first"]

    def stale(self, older_than: timedelta, now: datetime | None = None) -> list[MoGroup]:
        cutoff = self._db.now(now) - older_than
        with self._db.read() as conn:
            groups = conn.execute(
                """SELECT sender, reference, total, min(received_at) AS first,
                          min(arrived_at) AS arrived
                   FROM mo_parts GROUP BY sender, reference, total
                   HAVING min(received_at) < %s AND count(*) < total ORDER BY first""",
                (cutoff,),
            ).fetchall()
            return [_group(conn, group) for group in groups]

    def delete(self, sender: str, reference: int, total: int) -> bool:
        with self._db.write() as conn:
            cursor = conn.execute(
                "DELETE FROM mo_parts WHERE sender = %s AND reference = %s AND total = %s",
                (sender, reference, total),
            )
            return cursor.rowcount > 0


def _group(conn: Connection, group: rows.Row) -> MoGroup:
    parts = conn.execute(
        """SELECT sequence, text FROM mo_parts
           WHERE sender = %s AND reference = %s AND total = %s ORDER BY sequence""",
        (group["sender"], group["reference"], group["total"]),
    ).fetchall()
    return MoGroup(
        sender=group["sender"],
        reference=group["reference"],
        total=group["total"],
        parts={row["sequence"]: row["text"] for row in parts},
        first_received_at=group["first"],
        first_arrived_at=group["arrived"],
    )
