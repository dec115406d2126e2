"""Conversations in SQLite, and the card-versus-conversation thread lookup.

The lookup reads sends, recipients and bulk rows beside conversations: which thread an SMS from a
number belongs in depends on all (the newest card sent to it, the newest conversation with it, or a
newer bulk row meaning none), and one read keeps it a consistent snapshot. It writes only
conversations.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta

import bot.storage.sqlite.rows as rows
from bot.domain.records import Conversation, ThreadInfo, ThreadRef, ThreadSummary
from bot.domain.threading import THREAD_WINDOW, ThreadChoice, thread_to_use
from bot.storage.sqlite.bulks import newest_row_send
from bot.storage.sqlite.database import SqliteDatabase

RECENT_ROWS = 500  # how far back `latest` reads, per table

# Each thread's last message: the phone's (kept on the conversation) or the newest card or
# relayed reply in it (a send whose Slack message is the thread's root or one of its replies).
_LATEST = """
WITH events AS (
    SELECT * FROM (
        SELECT channel, thread_ts, last_msisdn AS msisdn, last_text AS text, 1 AS inbound,
               last_text_at AS at
        FROM conversations WHERE thread_ts IS NOT NULL AND last_text IS NOT NULL
        ORDER BY updated_at DESC LIMIT :rows)
    UNION ALL
    SELECT * FROM (
        SELECT s.card_channel AS channel, coalesce(s.thread_ts, s.card_ts) AS thread_ts,
               (SELECT msisdn FROM recipients r WHERE r.send_id = s.id
                ORDER BY r.position LIMIT 1) AS msisdn,
               s.text AS text, 0 AS inbound, s.created_at AS at
        FROM sends s WHERE s.card_ts IS NOT NULL ORDER BY s.id DESC LIMIT :rows)
),
ranked AS (
    SELECT *, row_number() OVER (
        PARTITION BY channel, thread_ts ORDER BY at DESC, inbound DESC) AS n
    FROM events WHERE msisdn IS NOT NULL
)
SELECT channel, thread_ts, msisdn, text, inbound, at FROM ranked WHERE n = 1
ORDER BY at DESC LIMIT :limit
"""

# Keep the later of the stored and the new inbound text (callbacks arrive out of order).
_NEWER_TEXT = """
    last_text = CASE WHEN excluded.last_text IS NOT NULL
        AND (last_text_at IS NULL OR excluded.last_text_at >= last_text_at)
        THEN excluded.last_text ELSE last_text END,
    last_text_at = CASE WHEN excluded.last_text IS NOT NULL
        AND (last_text_at IS NULL OR excluded.last_text_at >= last_text_at)
        THEN excluded.last_text_at ELSE last_text_at END"""


class SqliteConversations:
    """`ConversationRepository` over the `conversations` table."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    # ---- where an SMS goes

    def find_thread(
        self,
        msisdn: str,
        now: datetime | None = None,
        window: timedelta = THREAD_WINDOW,
        sent_by: datetime | None = None,
    ) -> ThreadRef | None:
        cutoff = self._db.stamp(now) - window.total_seconds()
        latest = float("inf") if sent_by is None else self._db.stamp(sent_by)
        with self._db.read() as conn:
            card = conn.execute(
                """SELECT s.id, s.created_at, s.card_channel, s.card_ts, s.thread_ts,
                          s.card_item, s.channel
                   FROM recipients r JOIN sends s ON s.id = r.send_id
                   WHERE r.msisdn = ? AND r.error_code IS NULL AND s.cancelled_at IS NULL
                     AND (s.card_ts IS NOT NULL OR s.card_item IS NOT NULL)
                     AND s.created_at >= ? AND s.created_at <= ?
                   ORDER BY s.created_at DESC, s.id DESC LIMIT 1""",
                (msisdn, cutoff, latest),
            ).fetchone()
            conv = conn.execute(
                """SELECT * FROM conversations
                   WHERE (msisdn = ?1 OR last_msisdn = ?1) AND updated_at >= ?2
                   ORDER BY updated_at DESC, id DESC LIMIT 1""",
                (msisdn, cutoff),
            ).fetchone()
            bulk = newest_row_send(conn, msisdn, cutoff, latest)
            choice = thread_to_use(
                None if conv is None else conv["updated_at"],
                None if card is None else card["created_at"],
                None if bulk is None else bulk["created_at"],
            )
            if choice is ThreadChoice.CONVERSATION:
                return _conversation_ref(conn, conv)
            if choice is ThreadChoice.CARD:
                return _card_ref(conn, card)
        return None

    def thread_info(self, channel: str, thread_ts: str) -> ThreadInfo | None:
        with self._db.read() as conn:
            send_id = _root_card(conn, channel, thread_ts)
            conv = conn.execute(
                "SELECT * FROM conversations WHERE channel = ? AND thread_ts = ?",
                (channel, thread_ts),
            ).fetchone()
            if send_id is None and conv is None:
                return None
            if send_id is not None:
                numbers = conn.execute(
                    "SELECT msisdn FROM recipients WHERE send_id = ? ORDER BY position",
                    (send_id,),
                ).fetchall()
                recipients = tuple(dict.fromkeys(row["msisdn"] for row in numbers))
            else:
                recipients = (conv["msisdn"],)
        return ThreadInfo(
            channel=channel,
            thread_ts=thread_ts,
            send_id=send_id,
            recipients=recipients,
            last_msisdn=None if conv is None else conv["last_msisdn"],
            conversation_id=None if conv is None else conv["id"],
        )

    # ---- writing

    def start(
        self,
        msisdn: str,
        channel: str,
        *,
        thread_ts: str | None = None,
        root_item: int | None = None,
        at: datetime | None = None,
        text: str | None = None,
    ) -> Conversation:
        if (thread_ts is None) == (root_item is None):
            raise ValueError("give exactly one of thread_ts and root_item")
        now = self._db.stamp(at)
        with self._db.write() as conn:
            if thread_ts is not None:
                return self.touch(channel, thread_ts, msisdn, at=at, text=text)
            # The root may have been posted already (the drainer is quick): take its ts. A read
            # of the outbox item's result, so the conversation never waits for a done post.
            posted = conn.execute(
                "SELECT result FROM outbox WHERE id = ? AND state = 'done'", (root_item,)
            ).fetchone()
            conv_id = conn.execute(
                """INSERT INTO conversations (channel, thread_ts, root_item, msisdn, last_msisdn,
                       created_at, updated_at, last_text, last_text_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (
                    channel,
                    posted["result"] if posted else None,
                    root_item,
                    msisdn,
                    msisdn,
                    now,
                    now,
                    text,
                    None if text is None else now,
                ),
            ).lastrowid
            return _load(conn, conv_id)  # type: ignore[arg-type,return-value]

    def touch(
        self,
        channel: str,
        thread_ts: str,
        msisdn: str,
        at: datetime | None = None,
        text: str | None = None,
    ) -> Conversation:
        now = self._db.stamp(at)
        with self._db.write() as conn:
            conn.execute(
                f"""INSERT INTO conversations (channel, thread_ts, msisdn, last_msisdn,
                       created_at, updated_at, last_text, last_text_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (channel, thread_ts) DO UPDATE SET
                       last_msisdn = excluded.last_msisdn,
                       updated_at = MAX(updated_at, excluded.updated_at),{_NEWER_TEXT}""",
                (channel, thread_ts, msisdn, msisdn, now, now, text, None if text is None else now),
            )
            row = conn.execute(
                "SELECT * FROM conversations WHERE channel = ? AND thread_ts = ?",
                (channel, thread_ts),
            ).fetchone()
            return rows.conversation(row)

    def touch_by_id(
        self,
        conversation_id: int,
        msisdn: str,
        at: datetime | None = None,
        text: str | None = None,
    ) -> Conversation:
        now = self._db.stamp(at)
        newer = "?2 IS NOT NULL AND (last_text_at IS NULL OR ?3 >= last_text_at)"
        with self._db.write() as conn:
            conn.execute(
                f"""UPDATE conversations SET last_msisdn = ?1, updated_at = MAX(updated_at, ?3),
                       last_text = CASE WHEN {newer} THEN ?2 ELSE last_text END,
                       last_text_at = CASE WHEN {newer} THEN ?3 ELSE last_text_at END
                   WHERE id = ?4""",
                (msisdn, text, now, conversation_id),
            )
            conv = _load(conn, conversation_id)
        if conv is None:
            raise KeyError(f"no conversation {conversation_id}")
        return conv

    def root_posted(self, item_id: int, ts: str) -> None:
        with self._db.write() as conn:
            # OR IGNORE: should the thread already be another conversation's, keep that one.
            conn.execute(
                "UPDATE OR IGNORE conversations SET thread_ts = ? WHERE root_item = ? "
                "AND thread_ts IS NULL",
                (ts, item_id),
            )

    # ---- reading

    def get(self, conversation_id: int) -> Conversation | None:
        with self._db.read() as conn:
            return _load(conn, conversation_id)

    def recent(self, limit: int = 100) -> list[Conversation]:
        with self._db.read() as conn:
            found = conn.execute(
                "SELECT * FROM conversations ORDER BY updated_at DESC, id DESC LIMIT ?",
                (max(0, limit),),
            ).fetchall()
        return [rows.conversation(row) for row in found]

    def latest(self, limit: int = 10) -> list[ThreadSummary]:
        with self._db.read() as conn:
            found = conn.execute(_LATEST, {"rows": RECENT_ROWS, "limit": max(0, limit)}).fetchall()
        return [
            ThreadSummary(
                channel=row["channel"],
                thread_ts=row["thread_ts"],
                msisdn=row["msisdn"],
                last_text=row["text"],
                inbound=bool(row["inbound"]),
                last_at=rows.time_of(row["at"]),
            )
            for row in found
        ]


def _load(conn: sqlite3.Connection, conversation_id: int) -> Conversation | None:
    row = conn.execute("SELECT * FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
    return None if row is None else rows.conversation(row)


def _root_card(conn: sqlite3.Connection, channel: str, ts: str) -> int | None:
    row = conn.execute(
        """SELECT id FROM sends WHERE card_channel = ? AND card_ts = ? AND thread_ts IS NULL
           ORDER BY id DESC LIMIT 1""",
        (channel, ts),
    ).fetchone()
    return None if row is None else row["id"]


def _conversation_ref(conn: sqlite3.Connection, conv: sqlite3.Row) -> ThreadRef:
    ts = conv["thread_ts"]
    return ThreadRef(
        channel=conv["channel"],
        thread_ts=ts,
        root_item=None if ts else conv["root_item"],
        send_id=_root_card(conn, conv["channel"], ts) if ts else None,
        conversation_id=conv["id"],
        last_at=rows.time_of(conv["updated_at"]),
    )


def _card_ref(conn: sqlite3.Connection, card: sqlite3.Row) -> ThreadRef:
    last_at = rows.time_of(card["created_at"])
    if card["card_ts"] is None:  # the card is still in the outbox
        return ThreadRef(card["channel"], None, card["card_item"], card["id"], None, last_at)
    channel = card["card_channel"]
    root = card["thread_ts"] or card["card_ts"]  # a relayed reply lives in its thread
    conv = conn.execute(
        "SELECT id FROM conversations WHERE channel = ? AND thread_ts = ?", (channel, root)
    ).fetchone()
    return ThreadRef(
        channel=channel,
        thread_ts=root,
        root_item=None,
        send_id=card["id"] if card["thread_ts"] is None else _root_card(conn, channel, root),
        conversation_id=None if conv is None else conv["id"],
        last_at=last_at,
    )
