"""Inbound SMS in SQLite: one row per routed SMS, for `/sms log` and a thread's texting numbers."""

from __future__ import annotations

from datetime import datetime

from bot.domain.records import InboundRecord
from bot.storage.sqlite.database import SqliteDatabase
from bot.storage.sqlite.rows import from_row, time_of


class SqliteInbound:
    """`InboundRepository` over the `inbound_messages` table."""

    def __init__(self, db: SqliteDatabase) -> None:
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
            cursor = conn.execute(
                """INSERT INTO inbound_messages (received_at, msisdn, text, channel, send_id,
                       conversation_id, post_item) VALUES (?, ?, ?, ?, ?, ?, ?)""",
                (self._db.stamp(at), msisdn, text, channel, send_id, conversation_id, post_item),
            )
            return int(cursor.lastrowid or 0)

    def recent(
        self, msisdn: str | None = None, limit: int = 20, channel: str | None = None
    ) -> list[InboundRecord]:
        where, args = [], []
        if msisdn is not None:
            where.append("msisdn = ?")
            args.append(msisdn)
        if channel is not None:
            where.append("channel = ?")
            args.append(channel)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        with self._db.read() as conn:
            found = conn.execute(
                f"SELECT * FROM inbound_messages {clause} "
                "ORDER BY received_at DESC, id DESC LIMIT ?",
                (*args, limit),
            ).fetchall()
        return [from_row(InboundRecord, r, received_at=time_of(r["received_at"])) for r in found]

    def texted_in(self, send_id: int | None, conversation_id: int | None) -> list[str]:
        with self._db.read() as conn:
            found = conn.execute(
                """SELECT msisdn, min(id) AS first FROM inbound_messages
                   WHERE send_id = ? OR conversation_id = ?
                   GROUP BY msisdn ORDER BY first""",
                (send_id, conversation_id),
            ).fetchall()
        return [row["msisdn"] for row in found]
