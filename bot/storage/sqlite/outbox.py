"""The outbox of Slack (and gateway) work in SQLite: coalescing, ordering and leases."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta

import bot.storage.sqlite.rows as rows
from bot.domain.records import Backlog, JsonObject, OutboxItem, OutboxState
from bot.storage.base import DEFAULT_LEASE
from bot.storage.sqlite.database import SqliteDatabase

# The state as a literal, not a parameter: only then can SQLite use the partial index of
# pending items, so counting the few pending ones does not scan a week of finished work.
_COUNTS: dict[str, str] = {
    state: f"SELECT count(*) FROM outbox WHERE state = '{state}'"
    for state in ("pending", "done", "failed")
}


class SqliteOutbox:
    """`OutboxRepository` over the `outbox` table. A claim is a lease (`claimed_until`), so an
    item a dead drainer held becomes due again by itself."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    def enqueue(
        self,
        channel: str,
        kind: str,
        payload: JsonObject,
        *,
        coalesce_key: str | None = None,
        order_key: str | None = None,
        not_before: datetime | None = None,
    ) -> int:
        try:
            body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"outbox payload is not JSON-serializable: {exc}") from exc
        now = self._db.clock()
        with self._db.write() as conn:
            if coalesce_key is not None:
                row = conn.execute(
                    """UPDATE outbox SET payload = ?, version = version + 1
                       WHERE coalesce_key = ? AND state = 'pending' RETURNING id""",
                    (body, coalesce_key),
                ).fetchone()
                if row is not None:
                    return row["id"]
            return conn.execute(  # type: ignore[return-value]
                """INSERT INTO outbox (channel, kind, payload, coalesce_key, order_key,
                       not_before, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)""",
                (
                    channel,
                    kind,
                    body,
                    coalesce_key,
                    order_key,
                    now if not_before is None else rows.seconds(not_before),
                    now,
                ),
            ).lastrowid

    def fetch_due(
        self,
        *,
        limit: int = 10,
        now: datetime | None = None,
        lease: timedelta = DEFAULT_LEASE,
        exclude_channels: Sequence[str] = (),
    ) -> list[OutboxItem]:
        stamp = self._db.stamp(now)
        excluded = list(exclude_channels)
        with self._db.write() as conn:
            found = conn.execute(
                f"""SELECT * FROM outbox o
                    WHERE o.state = 'pending' AND o.not_before <= ?
                      AND (o.claimed_until IS NULL OR o.claimed_until <= ?)
                      AND o.channel NOT IN ({rows.placeholders(len(excluded))})
                      AND (o.order_key IS NULL OR NOT EXISTS (
                          SELECT 1 FROM outbox p WHERE p.state = 'pending'
                            AND p.order_key = o.order_key AND p.id < o.id))
                    ORDER BY o.id LIMIT ?""",
                (stamp, stamp, *excluded, max(0, limit)),
            ).fetchall()
            conn.executemany(
                "UPDATE outbox SET claimed_until = ? WHERE id = ?",
                [(stamp + lease.total_seconds(), row["id"]) for row in found],
            )
        return [rows.outbox_item(row) for row in found]

    def complete(self, item: OutboxItem, result: str | None = None) -> bool:
        now = self._db.clock()
        with self._db.write() as conn:
            done = conn.execute(
                """UPDATE outbox SET state = 'done', result = ?, finished_at = ?,
                       claimed_until = NULL
                   WHERE id = ? AND state = 'pending' AND version = ?""",
                (result, now, item.id, item.version),
            ).rowcount
            if done:
                return True
            # Replaced while in flight: the newer payload must still go out.
            replaced = conn.execute(
                """UPDATE outbox SET claimed_until = NULL, result = coalesce(?, result)
                   WHERE id = ? AND state = 'pending'""",
                (result, item.id),
            ).rowcount
            return not replaced

    def reschedule(
        self,
        item: OutboxItem,
        not_before: datetime,
        *,
        error: str | None = None,
        count_attempt: bool = True,
    ) -> None:
        with self._db.write() as conn:
            conn.execute(
                """UPDATE outbox SET not_before = ?, attempts = attempts + ?,
                       last_error = coalesce(?, last_error), claimed_until = NULL
                   WHERE id = ? AND state = 'pending'""",
                (rows.seconds(not_before), int(count_attempt), error, item.id),
            )

    def give_up(self, item: OutboxItem, error: str) -> None:
        with self._db.write() as conn:
            conn.execute(
                """UPDATE outbox SET state = 'failed', last_error = ?, finished_at = ?,
                       claimed_until = NULL
                   WHERE id = ? AND state = 'pending'""",
                (error, self._db.clock(), item.id),
            )

    def get(self, item_id: int) -> OutboxItem | None:
        with self._db.read() as conn:
            row = conn.execute("SELECT * FROM outbox WHERE id = ?", (item_id,)).fetchone()
        return None if row is None else rows.outbox_item(row)

    def result(self, item_id: int) -> str | None:
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT result FROM outbox WHERE id = ? AND state = 'done'", (item_id,)
            ).fetchone()
        return None if row is None else row["result"]

    def count(self, state: OutboxState = "pending") -> int:
        with self._db.read() as conn:
            return conn.execute(_COUNTS[state]).fetchone()[0]

    def backlogs(self, kind: str, at_least: int) -> list[Backlog]:
        # `state = 'pending'` literally, so the partial index of pending items is used.
        with self._db.read() as conn:
            found = conn.execute(
                """SELECT channel, count(*) AS waiting, max(id) AS newest FROM outbox
                   WHERE state = 'pending' AND kind = ? GROUP BY channel
                   HAVING count(*) >= ? ORDER BY channel""",
                (kind, max(1, at_least)),
            ).fetchall()
            newest = {
                row["id"]: rows.outbox_item(row)
                for row in conn.execute(
                    f"SELECT * FROM outbox WHERE id IN ({rows.placeholders(len(found))})",
                    [row["newest"] for row in found],
                )
            }
        return [Backlog(row["channel"], row["waiting"], newest[row["newest"]]) for row in found]

    def prune(self, older_than: timedelta, now: datetime | None = None) -> int:
        cutoff = self._db.stamp(now) - older_than.total_seconds()
        with self._db.write() as conn:
            return conn.execute(
                "DELETE FROM outbox WHERE state != 'pending' AND finished_at < ?", (cutoff,)
            ).rowcount

    def release_leases(self) -> int:
        with self._db.write() as conn:
            return conn.execute(
                """UPDATE outbox SET claimed_until = NULL
                   WHERE state = 'pending' AND claimed_until IS NOT NULL"""
            ).rowcount
