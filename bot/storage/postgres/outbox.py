"""The outbox of Slack (and gateway) work in PostgreSQL: coalescing, ordering and leases shared
by every replica.

- A claim is a lease (`claimed_until`) with an owner (`claimed_by`, the claiming instance's
  number): an item whose claimer died becomes due again by itself when the lease ends, in any
  replica, without a restart.
- `fetch_due` locks candidates with FOR UPDATE SKIP LOCKED, so drainers in several replicas
  never wait on each other and never take the same item.
- Per-conversation order: an item waits while an earlier item with its order_key is pending,
  claimed or not, so a thread's messages go out in order whichever replica posts them.
- Coalescing is one statement (ON CONFLICT on the unique index of pending coalesce keys): two
  replicas updating one card at once leave one pending update holding the later payload.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta

import bot.storage.postgres.rows as rows
from bot.domain.records import Backlog, JsonObject, OutboxItem, OutboxState
from bot.storage.base import DEFAULT_LEASE
from bot.storage.postgres.database import LIVE_CLAIMERS, PostgresDatabase

# The state as a literal, not a parameter: the planner then counts the few pending items from
# the partial index instead of a week of finished work.
_COUNTS: dict[str, str] = {
    state: f"SELECT count(*) AS n FROM outbox WHERE state = '{state}'"
    for state in ("pending", "done", "failed")
}

_CLAIM = """
    WITH due AS (
        SELECT o.id FROM outbox o
        WHERE o.state = 'pending' AND o.not_before <= %(now)s
          AND (o.claimed_until IS NULL OR o.claimed_until <= %(now)s)
          AND o.channel <> ALL(%(excluded)s::text[])
          AND (o.order_key IS NULL OR NOT EXISTS (
              SELECT 1 FROM outbox p WHERE p.state = 'pending'
                AND p.order_key = o.order_key AND p.id < o.id))
        ORDER BY o.id LIMIT %(limit)s
        FOR UPDATE SKIP LOCKED)
    UPDATE outbox SET claimed_until = %(until)s, claimed_by = %(claimer)s
    FROM due WHERE outbox.id = due.id
    RETURNING outbox.*"""

# Claims whose owner holds no presence lock any more: its every connection is gone.
_RELEASE_DEAD = f"""
    UPDATE outbox SET claimed_until = NULL, claimed_by = NULL
    WHERE state = 'pending' AND claimed_until IS NOT NULL
      AND (claimed_by IS NULL OR claimed_by NOT IN ({LIVE_CLAIMERS}))"""


class PostgresOutbox:
    """`OutboxRepository` over the `outbox` table."""

    def __init__(self, db: PostgresDatabase) -> None:
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
        now = self._db.now()
        with self._db.write() as conn:
            row = conn.execute(
                """INSERT INTO outbox (channel, kind, payload, coalesce_key, order_key,
                       not_before, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s)
                   ON CONFLICT (coalesce_key) WHERE state = 'pending' AND coalesce_key IS NOT NULL
                   DO UPDATE SET payload = excluded.payload, version = outbox.version + 1
                   RETURNING id""",
                (
                    channel,
                    kind,
                    body,
                    coalesce_key,
                    order_key,
                    now if not_before is None else rows.as_utc(not_before),
                    now,
                ),
            ).fetchone()
        return int(row["id"])

    def fetch_due(
        self,
        *,
        limit: int = 10,
        now: datetime | None = None,
        lease: timedelta = DEFAULT_LEASE,
        exclude_channels: Sequence[str] = (),
    ) -> list[OutboxItem]:
        stamp = self._db.now(now)
        with self._db.write() as conn:
            found = conn.execute(
                _CLAIM,
                {
                    "now": stamp,
                    "excluded": list(exclude_channels),
                    "limit": max(0, limit),
                    "until": stamp + lease,
                    "claimer": self._db.claimer,
                },
            ).fetchall()
        return sorted((rows.outbox_item(row) for row in found), key=lambda item: item.id)

    def complete(self, item: OutboxItem, result: str | None = None) -> bool:
        with self._db.write() as conn:
            done = conn.execute(
                """UPDATE outbox SET state = 'done', result = %s, finished_at = %s,
                       claimed_until = NULL, claimed_by = NULL
                   WHERE id = %s AND state = 'pending' AND version = %s""",
                (result, self._db.now(), item.id, item.version),
            ).rowcount
            if done:
                return True
            # Replaced while in flight: the newer payload must still go out.
            replaced = conn.execute(
                """UPDATE outbox SET claimed_until = NULL, claimed_by = NULL,
                       result = coalesce(%s, result)
                   WHERE id = %s AND state = 'pending'""",
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
                """UPDATE outbox SET not_before = %s, attempts = attempts + %s,
                       last_error = coalesce(%s, last_error), claimed_until = NULL,
                       claimed_by = NULL
                   WHERE id = %s AND state = 'pending'""",
                (rows.as_utc(not_before), int(count_attempt), error, item.id),
            )

    def give_up(self, item: OutboxItem, error: str) -> None:
        with self._db.write() as conn:
            conn.execute(
                """UPDATE outbox SET state = 'failed', last_error = %s, finished_at = %s,
                       claimed_until = NULL, claimed_by = NULL
                   WHERE id = %s AND state = 'pending'""",
                (error, self._db.now(), item.id),
            )

    def get(self, item_id: int) -> OutboxItem | None:
        with self._db.read() as conn:
            row = conn.execute("SELECT * FROM outbox WHERE id = %s", (item_id,)).fetchone()
        return None if row is None else rows.outbox_item(row)

    def result(self, item_id: int) -> str | None:
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT result FROM outbox WHERE id = %s AND state = 'done'", (item_id,)
            ).fetchone()
        return None if row is None else row["result"]

    def count(self, state: OutboxState = "pending") -> int:
        with self._db.read() as conn:
            row = conn.execute(_COUNTS[state]).fetchone()
        return 0 if row is None else int(row["n"])

    def backlogs(self, kind: str, at_least: int) -> list[Backlog]:
        # `state = 'pending'` literally, so the partial index of pending items is used.
        with self._db.read() as conn:
            found = conn.execute(
                """SELECT channel, count(*) AS waiting, max(id) AS newest FROM outbox
                   WHERE state = 'pending' AND kind = %s GROUP BY channel
                   HAVING count(*) >= %s ORDER BY channel COLLATE "C" """,
                (kind, max(1, at_least)),
            ).fetchall()
            newest = {
                int(item["id"]): rows.outbox_item(item)
                for item in conn.execute(
                    "SELECT * FROM outbox WHERE id = ANY(%s)",
                    ([int(row["newest"]) for row in found],),
                )
            }
        return [
            Backlog(str(row["channel"]), int(row["waiting"]), newest[int(row["newest"])])
            for row in found
        ]

    def prune(self, older_than: timedelta, now: datetime | None = None) -> int:
        cutoff = self._db.now(now) - older_than
        with self._db.write() as conn:
            return conn.execute(
                "DELETE FROM outbox WHERE state <> 'pending' AND finished_at < %s", (cutoff,)
            ).rowcount

    def release_leases(self) -> int:
        """Claims of instances that are gone (a previous run of this process, a replica that
        was killed) are released at once; live replicas' claims are left alone, whatever
        their age, because they are being worked on."""
        with self._db.write() as conn:
            return conn.execute(_RELEASE_DEAD).rowcount
