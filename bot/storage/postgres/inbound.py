"""Inbound SMS in PostgreSQL: one row per routed SMS, for `/sms log` and a thread's texting
numbers."""

from __future__ import annotations

from datetime import datetime

from bot.domain.records import InboundRecord
from bot.storage.postgres.database import PostgresDatabase
from bot.storage.postgres.rows import from_row


class PostgresInbound:
    """`InboundRepository` over the `inbound_messages` table."""

    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    def record(
        self,
        *,
        msisdn: str,
        text: str,
        channel: str,
        post_item: int,
        send_id: int | None = None,
        conversation_id: int | None = None,
        at: datetime | None = None,
    ) -> int:
        with self._db.write() as conn:
            row = conn.execute(
                """INSERT INTO inbound_messages (received_at, msisdn, text, channel, send_id,
                       conversation_id, post_item) VALUES (%s, %s, %s, %s, %s, %s, %s)
                   RETURNING id""",
                (self._db.now(at), msisdn, text, channel, send_id, conversation_id, post_item),
            ).fetchone()
        return int(row["id"]) if row is not None else 0

    def recent(
        self, msisdn: str | None = None, limit: int = 20, channel: str | None = None
    ) -> list[InboundRecord]:
        with self._db.read() as conn:
            found = conn.execute(
                """SELECT * FROM inbound_messages
                   WHERE (%(msisdn)s::text IS NULL OR msisdn = %(msisdn)s)
                     AND (%(channel)s::text IS NULL OR channel = %(channel)s)
                   ORDER BY received_at DESC, id DESC LIMIT %(limit)s""",
                {"msisdn": msisdn, "channel": channel, "limit": limit},
            ).fetchall()
        return [from_row(InboundRecord, row) for row in found]

    def texted_in(self, send_id: int | None, conversation_id: int | None) -> list[str]:
        with self._db.read() as conn:
            found = conn.execute(
                """SELECT msisdn, min(id) AS first FROM inbound_messages
                   WHERE send_id = %s OR conversation_id = %s
                   GROUP BY msisdn ORDER BY first""",
                (send_id, conversation_id),
            ).fetchall()
        return [row["msisdn"] for row in found]
